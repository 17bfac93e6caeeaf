"""Faults on purpose, on the real stack: workers killed mid-batch, Elasticsearch stopped for
30 seconds, Redis restarted, a hundred racing events, a node of a three-node cluster lost.
Each test checks that nothing was lost and nothing duplicated."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from plugin.settings import Settings
from tests.integration.fault_workers import FaultWorkers

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
RESULT_TIMEOUT_S = 240
WORDS = [
    "river", "mountain", "violin", "harbour", "algebra", "lantern", "orchard", "falcon",
    "glacier", "compass", "meadow", "saffron", "quartz", "tundra", "cobalt", "vintage", "canyon",
    "pepper", "marble", "thunder", "willow", "ember", "crystal", "prairie", "nectar", "summit",
    "velvet", "cedar", "beacon", "lagoon",
]  # fmt: skip
# The cluster test's own ports (the session stack uses INTEREST_ES_*_PORT).
CLUSTER_HTTP_PORT, CLUSTER_TRANSPORT_PORT = 29501, 29601


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_items(prefix: str, count: int, *, category: str, words: int = 45) -> list[dict]:
    rng = random.Random(prefix)
    return [
        {
            "id": f"{prefix}-{i}",
            "title": f"{' '.join(rng.choices(WORDS, k=6))} number {i}",
            "body": " ".join(rng.choices(WORDS, k=words)),
            "category": category,
        }
        for i in range(count)
    ]


def count_items(es, settings: Settings, ids: list[str], category: str) -> tuple[int, int]:
    """(documents with these ids, documents with this category): equal to len(ids) when every
    item is there once."""
    index = settings.index_alias("items")
    es.indices.refresh(index=index)
    by_ids = es.count(index=index, query={"ids": {"values": ids}})["count"]
    by_category = es.count(index=index, query={"term": {"category": category}})["count"]
    return int(by_ids), int(by_category)


def user_state(es, settings: Settings, service, user: str) -> tuple[int, int]:
    """(the user's events counter, stored events of the user)."""
    events_index = settings.index_alias("user_events")
    es.indices.refresh(index=events_index)
    stored = es.count(index=events_index, query={"term": {"user": service.pseudonym(user)}})
    doc = service.interest_document(user) or {}
    return int(doc.get("events") or 0), int(stored["count"])


def results_of(client: Any, pending: list[Any]) -> list[dict[str, Any]]:
    """Every task's result, through the client's own wait (it survives a Redis restart)."""
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    return [client.wait(p, timeout=max(1.0, deadline - time.monotonic())) for p in pending]


@pytest.fixture(scope="module")
def faults(settings: Settings, es, encoder) -> Iterator[FaultWorkers]:
    """Two workers (concurrency 2) on Redis database 1 with a 30 s visibility timeout, writing
    to this module's own indices."""
    from plugin.service import PersonalizedSearch

    workers = FaultWorkers(
        settings,
        db=1,
        index_prefix=f"itest-faults-{RUN}",
        extra_env={"INTEREST_ENCODER_THREADS": "1"},
    )
    PersonalizedSearch(es, settings=workers.settings, encoder=encoder).init_indices()
    try:
        for name in ("fault-a", "fault-b"):
            workers.start(name, concurrency=2)
        yield workers
    finally:
        workers.stop_all()
        es.options(ignore_status=404).indices.delete(index=f"itest-faults-{RUN}-*")


@pytest.fixture(scope="module")
def fault_service(faults: FaultWorkers, es, encoder) -> Any:
    from plugin.service import PersonalizedSearch

    return PersonalizedSearch(es, settings=faults.settings, encoder=encoder)


@pytest.fixture(scope="module")
def fault_tasks(faults: FaultWorkers) -> Iterator[Any]:
    from tasks.client import TaskClient

    with TaskClient(faults.settings) as client:
        yield client


def ensure_workers(faults: FaultWorkers, names: tuple[str, ...] = ("fault-a", "fault-b")) -> None:
    for name in names:
        if not faults.running(name):
            faults.start(name, concurrency=2)


# --- 4. a hundred racing events for one user -------------------------------------------------


def test_hundred_concurrent_events_from_two_workers_all_count(
    faults, fault_tasks, fault_service, es
):
    ensure_workers(faults)
    settings = faults.settings
    items = make_items(f"race-{RUN}", 10, category=f"race-{RUN}", words=10)
    assert fault_tasks.index_items(items, batch_size=10, progress=False)["indexed"] == 10
    user = f"race-user-{RUN}"
    start = datetime.now(UTC) - timedelta(hours=50)
    events = [
        {
            "user": user,
            "type": "like" if i % 4 == 0 else "click",
            "item": items[i % len(items)]["id"],
            "time": iso(start + i * timedelta(seconds=30)),
        }
        for i in range(100)
    ]
    pending = [fault_tasks.send("tasks.events.record_events", [event]) for event in events]
    results = results_of(fault_tasks, pending)
    assert all(r["errors"] == [] for r in results), [r for r in results if r["errors"]]
    assert sum(r["applied"] for r in results) == 100
    for name in ("fault-a", "fault-b"):
        assert "tasks.events.record_events" in faults.log_text(name), f"{name} did no work"
    counter, stored = user_state(es, settings, fault_service, user)
    assert (counter, stored) == (100, 100)
    fault_tasks.flush_popularity()  # the counted clicks, to the items now
    clicks = sum(
        int(doc["_source"].get("popularity") or 0)
        for doc in es.mget(index=settings.index_alias("items"), ids=[i["id"] for i in items])[
            "docs"
        ]
    )
    assert clicks == 100


# --- 1. a worker killed in the middle of an encoding batch -----------------------------------
# Items in the batch: about 3.5 CPU seconds with USE (120 items took e5 2 s; USE 0.9 s),
# so the kill lands mid-way.
KILL_BATCH = 400


@pytest.mark.parametrize("target", ["whole-worker", "pool-children"])
def test_worker_killed_mid_batch_every_item_indexed_once(target, faults, fault_tasks, es):
    ensure_workers(faults)
    settings = faults.settings
    category = f"kill-{target}-{RUN}"
    items = make_items(f"kill-{target}-{RUN}", KILL_BATCH, category=category, words=30)
    ids = [item["id"] for item in items]
    pending = fault_tasks.send("tasks.indexing.index_items", items)
    victim = faults.who_received(pending.id, ["fault-a", "fault-b"])
    # Into the batch (cleaning, segmentation, encoding: about 3 CPU seconds, more on a first
    # task), measured in CPU time so a loaded machine does not change where it is cut.
    faults.wait_busy(victim, cpu_s=0.8)
    if target == "whole-worker":
        faults.kill(victim)  # SIGKILL to the main process and its pool: no warm shutdown
    else:
        assert faults.kill_children(victim)  # SIGKILL to the pool processes only
    # Killed before the batch's one bulk write: nothing of it is in the index yet.
    assert f"[{pending.id}] succeeded" not in faults.log_text(victim), "killed too late"
    assert count_items(es, settings, ids, category) == (0, 0), "killed too late"
    if target == "whole-worker":
        # A new worker; the unacknowledged task comes back after the visibility timeout.
        faults.start(f"{victim}-next", concurrency=2)
    outcome = fault_tasks.wait(pending, timeout=RESULT_TIMEOUT_S)
    assert outcome["indexed"] == KILL_BATCH and outcome["errors"] == [], outcome
    assert count_items(es, settings, ids, category) == (KILL_BATCH, KILL_BATCH)
    logs = {name: faults.log_text(name) for name in faults.started}
    assert any(f"[{pending.id}] succeeded" in log for log in logs.values())
    if target == "whole-worker":
        assert f"[{pending.id}] succeeded" not in logs[victim]
        faults.stop(f"{victim}-next")
    else:  # the worker saw its pool process die and requeued the task at once
        assert "WorkerLostError" in logs[victim]


# --- 3. Redis restarted with work queued ------------------------------------------------------


def test_redis_restart_keeps_queued_work_and_workers_reconnect(
    faults, fault_tasks, fault_service, tasks, es, settings
):
    from stack.redis import start_redis, stop_redis

    assert settings.embedded_redis, "restarts the embedded Redis; unset INTEREST_REDIS_URL"
    ensure_workers(faults)
    category = f"redis-{RUN}"
    items = make_items(f"redis-{RUN}", 60, category=category, words=10)
    user = f"redis-user-{RUN}"
    start = datetime.now(UTC) - timedelta(hours=5)
    events = [
        {"user": user, "type": "post", "text": f"{' '.join(random.sample(WORDS, 6))} {i}",
         "time": iso(start + i * timedelta(minutes=1))}
        for i in range(24)
    ]  # fmt: skip
    pending = [fault_tasks.send("tasks.indexing.index_items", items[i : i + 10]) for i in (0, 10)]
    pending += [
        fault_tasks.send("tasks.events.record_events", events[i : i + 2]) for i in range(0, 16, 2)
    ]
    pending += [fault_tasks.send("tasks.indexing.index_items", items[i : i + 10]) for i in (20, 30)]
    queue = redis.Redis.from_url(faults.settings.effective_redis_url)
    queued = queue.llen("encode") + queue.llen("default")
    assert queued > 0, "everything ran before the restart: nothing was tested"
    stop_redis(settings)

    late: list[Any] = []

    def send_while_down() -> None:  # the producer retries until Redis is back
        late.append(fault_tasks.send("tasks.events.record_events", events[16:20]))
        late.append(fault_tasks.send("tasks.indexing.index_items", items[40:60]))
        late.append(fault_tasks.send("tasks.events.record_events", events[20:24]))

    sender = threading.Thread(target=send_while_down)
    sender.start()
    time.sleep(3)
    assert start_redis(settings)
    sender.join(timeout=60)
    assert len(late) == 3, "sending while Redis was down did not succeed once it was back"
    results = results_of(fault_tasks, pending + late)
    assert all(r["errors"] == [] for r in results), [r for r in results if r["errors"]]
    ids = [item["id"] for item in items]
    assert count_items(es, faults.settings, ids, category) == (60, 60)
    assert user_state(es, faults.settings, fault_service, user) == (24, 24)
    # The session's own client and worker reconnect too.
    again = tasks.index_items(
        make_items(f"redis-after-{RUN}", 2, category=f"redis-after-{RUN}"),
        batch_size=2,
        index=faults.settings.index_alias("items"),
    )
    assert again["indexed"] == 2


# --- 2. Elasticsearch stopped for 30 seconds during ingest and event updates ------------------


def test_elasticsearch_down_thirty_seconds_tasks_retry_and_nothing_is_lost(
    faults, fault_tasks, fault_service, es, settings
):
    from stack.elasticsearch import default_node, start_node, stop_node

    # This test stops the embedded node: with INTEREST_ES_URL it must fail, not pass unseen.
    assert settings.embedded_es, "fault tests need the embedded node; unset INTEREST_ES_URL"
    ensure_workers(faults)
    base = make_items(f"esdown-base-{RUN}", 4, category=f"esdown-base-{RUN}", words=10)
    assert fault_tasks.index_items(base, batch_size=4, progress=False)["indexed"] == 4
    category = f"esdown-{RUN}"
    items = make_items(f"esdown-{RUN}", 60, category=category, words=10)
    user = f"esdown-user-{RUN}"
    start = datetime.now(UTC) - timedelta(hours=10)

    def event(i: int) -> dict[str, Any]:
        moment = iso(start + i * timedelta(minutes=5))
        if i % 3 == 0:
            return {"user": user, "type": "post", "text": f"{' '.join(random.sample(WORDS, 5))}",
                    "time": moment}  # fmt: skip
        return {"user": user, "type": "click", "item": base[i % 4]["id"], "time": moment}

    events = [event(i) for i in range(45)]
    item_tasks = [
        fault_tasks.send("tasks.indexing.index_items", items[i : i + 10]) for i in (0, 10, 20, 30)
    ]
    event_tasks = [
        fault_tasks.send("tasks.events.record_events", events[i : i + 3]) for i in range(0, 30, 3)
    ]
    node = default_node(settings)
    stopped_at = time.monotonic()
    assert stop_node(node)
    # More work while Elasticsearch is down: it waits in the queue and in retries.
    item_tasks += [
        fault_tasks.send("tasks.indexing.index_items", items[i : i + 10]) for i in (40, 50)
    ]
    event_tasks += [
        fault_tasks.send("tasks.events.record_events", events[i : i + 3]) for i in range(30, 45, 3)
    ]
    time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
    start_node(settings, node)
    item_results, event_results = (
        results_of(fault_tasks, item_tasks),
        results_of(fault_tasks, event_tasks),
    )
    failed = [r["errors"] for r in item_results + event_results if r["errors"]]
    assert failed == []
    assert sum(r["indexed"] for r in item_results) == 60
    # A batch cut off after its interest update and retried finds its events applied already.
    applied = sum(r["applied"] for r in event_results)
    assert applied + sum(r["duplicates"] for r in event_results) >= 45 >= applied
    logs = faults.log_text("fault-a") + faults.log_text("fault-b")
    assert "Retry in" in logs, "no task met Elasticsearch down: nothing was tested"
    ids = [item["id"] for item in items]
    assert count_items(es, faults.settings, ids, category) == (60, 60)
    assert user_state(es, faults.settings, fault_service, user) == (45, 45)


# --- 5. a three-node cluster loses a node ----------------------------------------------------


def test_three_node_cluster_keeps_serving_after_losing_a_node(settings, encoder, tmp_path_factory):
    from plugin.es import ensure_indices, make_es_client
    from plugin.service import PersonalizedSearch
    from stack.cluster import start_cluster, stop_cluster, wait_for_nodes
    from stack.elasticsearch import stop_node
    from tasks.client import TaskClient

    home = tmp_path_factory.mktemp("cluster")
    cluster = start_cluster(
        settings, n=3, http_port=CLUSTER_HTTP_PORT, transport_port=CLUSTER_TRANSPORT_PORT,
        heap="512m", home=home,
    )  # fmt: skip
    prefix = f"itest-cluster-{RUN}"
    urls = ",".join(cluster.urls)
    workers = FaultWorkers(
        settings,
        db=2,
        index_prefix=prefix,
        extra_env={"INTEREST_ES_URL": urls, "INTEREST_ENCODER_THREADS": "1"},
    )
    cluster_settings = workers.settings.with_overrides(es_url=urls)
    es = make_es_client(cluster_settings)
    try:
        service = PersonalizedSearch(es, settings=cluster_settings, encoder=encoder)
        ensure_indices(es, cluster_settings, model=service.model_identity(), replicas=1)
        workers.start("cluster-worker", concurrency=2)
        category = f"cluster-{RUN}"
        items = make_items(f"cluster-{RUN}", 30, category=category, words=15)
        user = f"cluster-user-{RUN}"
        now = datetime.now(UTC)
        events = [
            {"user": user, "type": "like", "item": items[i]["id"],
             "time": iso(now - timedelta(hours=20 - i))}
            for i in range(10)
        ]  # fmt: skip
        with TaskClient(cluster_settings) as client:
            assert client.index_items(items, batch_size=10, progress=False)["indexed"] == 30
            assert client.record_events(events[:5])["applied"] == 5
            es.cluster.health(wait_for_status="green", timeout="60s")
            items_alias = cluster_settings.index_alias("items")
            shards = es.cat.shards(index=items_alias, format="json").body
            primary = next(s["node"] for s in shards if s["prirep"] == "p")
            assert {s["node"] for s in shards} != {primary}, "the replica is on the same node"
            assert stop_node(cluster.node(primary))
            survivor = next(n for n in cluster.nodes if n.name != primary)
            wait_for_nodes(cluster, nodes=2, timeout=60, via=survivor)

            query = " ".join(items[3]["title"].split()[:3])
            for _ in range(10):
                found = service.search(query, user=user, size=10)
                assert found.hits and found.cold_start is False
            raw = es.search(index=items_alias, query={"match_all": {}}, size=0)
            assert raw["_shards"]["failed"] == 0 and raw["hits"]["total"]["value"] == 30
            recommended = service.recommend(user, size=5)
            assert recommended.hits and recommended.cold_start is False
            later = client.record_events(events[5:])
            assert later["applied"] == 5 and later["errors"] == []
        assert count_items(es, cluster_settings, [i["id"] for i in items], category) == (30, 30)
        assert user_state(es, cluster_settings, service, user) == (10, 10)
        assert es.cluster.health()["number_of_nodes"] == 2
    finally:
        workers.stop_all()
        es.close()
        stop_cluster(cluster)
