"""Batched interest updates and popularity counts on the real stack: one batch equals the same
events one at a time, racing batches lose and double nothing, and a worker that dies between
counting clicks and flushing them to the items costs no click and counts none twice."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plugin.settings import Settings
from tests.integration.fault_workers import FaultWorkers

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
PREFIX = f"itest-batches-{RUN}"
RESULT_TIMEOUT_S = 300
TOPICS = {
    "sport": ["football", "match", "league", "goal", "coach", "stadium", "season", "striker"],
    "tech": ["database", "compiler", "vector", "search", "kernel", "latency", "index", "cache"],
    "food": ["pasta", "recipe", "garlic", "oven", "sauce", "bread", "spice", "dinner"],
}
KINDS = ("click", "click", "click", "like", "dislike")
# Fields that differ between two users fed the same events: who, when written, event ids.
NOT_COMPARED = {"user", "updated_at", "applied_events", "popularity_outbox"}
# ...and, inside the raw state, when it was last written.
WRITE_TIME = "updated_ms"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_items(count: int) -> list[dict[str, Any]]:
    rng = random.Random(RUN)
    items = []
    for i in range(count):
        topic = list(TOPICS)[i % len(TOPICS)]
        words = rng.choices(TOPICS[topic], k=12)
        items.append(
            {
                "id": f"{PREFIX}-item-{i}",
                "title": " ".join(words[:5]),
                "body": " ".join(words),
                "category": topic,
            }
        )
    return items


def make_events(
    users: list[str], items: list[dict[str, Any]], per_user: int, *, seed: int
) -> list[dict[str, Any]]:
    """``per_user`` events for each user at distinct times over the last ten days."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=10)
    events = []
    for u, user in enumerate(users):
        for i in range(per_user):
            moment = start + timedelta(minutes=rng.randrange(14_000), seconds=u, milliseconds=i)
            events.append(
                {
                    "user": user,
                    "type": rng.choice(KINDS),
                    "item": rng.choice(items)["id"],
                    "time": iso(moment),
                }
            )
    return events


def assert_close(left: Any, right: Any, path: str = "") -> None:
    """Equal JSON values, numbers to 1e-6 (relative for large ones)."""
    if isinstance(left, Mapping):
        assert isinstance(right, Mapping), path
        assert set(left) == set(right), f"{path}: keys {sorted(set(left) ^ set(right))}"
        for key in set(left) - {WRITE_TIME}:
            assert_close(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_close(a, b, f"{path}[{i}]")
    elif isinstance(left, float) or isinstance(right, float):
        assert math.isclose(float(left), float(right), rel_tol=1e-6, abs_tol=1e-6), (
            f"{path}: {left} != {right}"
        )
    else:
        assert left == right, f"{path}: {left!r} != {right!r}"


def popularity_of(es, settings: Settings, ids: list[str]) -> dict[str, int]:
    docs = es.mget(index=settings.index_alias("items"), ids=ids, source_includes=["popularity"])
    return {d["_id"]: int(d["_source"].get("popularity") or 0) for d in docs["docs"]}


def applied_clicks(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["item"] for e in events if e["type"] in ("click", "like"))


@pytest.fixture(scope="module")
def workers(settings: Settings, es, encoder) -> Iterator[FaultWorkers]:
    """A worker on Redis database 2 writing to this module's own indices; popularity is
    flushed only when a test asks (the scheduled flush is an hour away)."""
    from plugin.service import PersonalizedSearch

    pool = FaultWorkers(
        settings,
        db=2,
        index_prefix=PREFIX,
        extra_env={"INTEREST_ENCODER_THREADS": "1", "INTEREST_POPULARITY_FLUSH_S": "3600"},
    )
    PersonalizedSearch(es, settings=pool.settings, encoder=encoder).init_indices()
    try:
        pool.start("batch-a")
        yield pool
    finally:
        pool.stop_all()
        es.options(ignore_status=404).indices.delete(index=f"{PREFIX}-*")
        ledger_redis(pool.settings).flushdb()


@pytest.fixture(scope="module")
def batch_tasks(workers: FaultWorkers) -> Iterator[Any]:
    from tasks.client import TaskClient

    with TaskClient(workers.settings) as client:
        yield client


@pytest.fixture(scope="module")
def items(workers: FaultWorkers, batch_tasks) -> list[dict[str, Any]]:
    rows = make_items(24)
    assert batch_tasks.index_items(rows, batch_size=24, progress=False)["indexed"] == 24
    return rows


def ledger_redis(settings: Settings) -> Any:
    import redis

    return redis.Redis.from_url(settings.effective_redis_url, decode_responses=True)


def make_processor(es, encoder, settings: Settings, *, popularity=None) -> Any:
    """The worker's EventProcessor, in this process, on the module's indices."""
    from indexer.events import EventProcessor
    from plugin.pseudonym import load_user_key

    return EventProcessor.for_settings(
        es,
        settings=settings,
        encoder=encoder,
        user_key=load_user_key(settings),
        popularity=popularity,
    )


def interest_doc(es, settings: Settings, service, user: str) -> dict[str, Any]:
    doc = es.get(index=settings.index_alias("user_interests"), id=service.pseudonym(user))
    return {k: v for k, v in doc["_source"].items() if k not in NOT_COMPARED}


@pytest.fixture(scope="module")
def batch_service(workers: FaultWorkers, es, encoder) -> Any:
    from plugin.service import PersonalizedSearch

    return PersonalizedSearch(es, settings=workers.settings, encoder=encoder)


def test_one_batch_equals_the_same_events_one_at_a_time(
    workers, batch_tasks, batch_service, items, es, encoder
):
    settings = workers.settings
    batched_users = [f"bt-batch-{RUN}-{u}" for u in range(50)]
    events = make_events(batched_users, items, 20, seed=1)
    shuffled = random.Random(2).sample(events, len(events))  # the worker folds in time order
    result = batch_tasks.record_events(shuffled, batch_size=len(shuffled), wait=True)
    assert result["errors"] == [] and result["applied"] == 1000, result

    # The same events for other users, one event per call, in time order, through the same
    # processor code in this process.
    single = make_processor(es, encoder, settings)
    for u, user in enumerate(batched_users):
        own = sorted((e for e in events if e["user"] == user), key=lambda e: e["time"])
        for event in own:
            outcome = single.process([{**event, "user": f"bt-single-{RUN}-{u}"}])
            assert outcome.applied == 1 and outcome.errors == [], outcome.as_dict()
    es.indices.refresh(index=settings.index_alias("user_interests"))
    for u, user in enumerate(batched_users):
        batched = interest_doc(es, settings, batch_service, user)
        one_by_one = interest_doc(es, settings, batch_service, f"bt-single-{RUN}-{u}")
        assert batched["events"] == 20
        assert_close(batched, one_by_one, path=user)


def test_racing_batches_from_two_workers_lose_and_double_nothing(
    workers, batch_tasks, batch_service, items, es
):
    settings = workers.settings
    workers.start("batch-b", concurrency=2)
    try:
        users = [f"bt-race-{RUN}-{u}" for u in range(10)]
        events = make_events(users, items, 60, seed=3)
        # Ten batches that each touch every user, sent at once to three pool processes.
        batches = [events[i::10] for i in range(10)]
        pending = [batch_tasks.send("tasks.events.record_events", b) for b in batches]
        results = [batch_tasks.wait(p, timeout=RESULT_TIMEOUT_S) for p in pending]
    finally:
        workers.stop("batch-b")
    assert all(r["errors"] == [] for r in results), results
    assert sum(r["applied"] for r in results) == len(events)
    es.indices.refresh(index=settings.index_alias("user_interests"))
    for user in users:
        assert interest_doc(es, settings, batch_service, user)["events"] == 60, user
    # Re-sending a batch applies nothing again.
    again = batch_tasks.wait(batch_tasks.send("tasks.events.record_events", batches[0]))
    assert again["applied"] == 0 and again["duplicates"] == len(batches[0])
    before = popularity_of(es, settings, [i["id"] for i in items])
    batch_tasks.flush_popularity()
    after = popularity_of(es, settings, [i["id"] for i in items])
    gained = {item: after[item] - before[item] for item in after}
    expected = applied_clicks(events)
    assert gained == {item: expected.get(item, 0) for item in after}


def test_a_worker_killed_between_counting_and_flushing_loses_no_click(
    workers, batch_tasks, items, es
):
    from indexer.popularity import PopularityLedger

    settings = workers.settings
    ledger = PopularityLedger(ledger_redis(settings), namespace=settings.index_prefix)
    batch_tasks.flush_popularity()  # start from nothing pending
    ids = [i["id"] for i in items]
    before = popularity_of(es, settings, ids)
    events = make_events([f"bt-kill-{RUN}-{u}" for u in range(5)], items, 30, seed=4)
    result = batch_tasks.wait(batch_tasks.send("tasks.events.record_events", events))
    assert result["applied"] == len(events) and result["popularity_pending"]
    expected = applied_clicks(events)
    assert ledger.pending() == dict(expected)  # counted, not yet on the items
    assert popularity_of(es, settings, ids) == before

    workers.kill("batch-a")  # no warm shutdown: its scheduled flush dies with it
    workers.start("batch-a")
    assert ledger.pending() == dict(expected)
    flushed = batch_tasks.flush_popularity()
    assert flushed["updated"] == len(expected)
    after = popularity_of(es, settings, ids)
    assert {i: after[i] - before[i] for i in ids} == {i: expected.get(i, 0) for i in ids}
    # Nothing is left to count twice.
    assert batch_tasks.flush_popularity()["flush"] is None
    assert popularity_of(es, settings, ids) == after


class WorkerDied(Exception):
    """Stands for the process dying at that instant (nothing after it runs)."""


def test_dying_after_the_user_write_or_mid_flush_counts_each_click_once(
    workers, items, es, encoder
):
    from indexer.popularity import PopularityLedger

    settings = workers.settings
    redis_client = ledger_redis(settings)
    # The worker's namespace: one ledger per items index (its flushes are numbered together).
    namespace = settings.index_prefix

    class DiesAfterUserWrite(PopularityLedger):
        def count(self, outboxes, *, now_ms):  # type: ignore[no-untyped-def]
            raise WorkerDied

    ids = [i["id"] for i in items]
    before = popularity_of(es, settings, ids)
    events = make_events([f"bt-die-{RUN}-{u}" for u in range(6)], items, 25, seed=5)
    dying = make_processor(
        es, encoder, settings, popularity=DiesAfterUserWrite(redis_client, namespace=namespace)
    )
    with pytest.raises(WorkerDied):
        dying.process(events)  # users written with their outboxes, nothing counted
    healthy = PopularityLedger(redis_client, namespace=namespace)
    assert healthy.pending() == {}
    # The redelivered batch: every event already applied, the outboxes counted now.
    redelivered = make_processor(es, encoder, settings, popularity=healthy).process(events)
    assert redelivered.applied == 0 and redelivered.duplicates == len(events)
    # What it recovered was counted now, so the task schedules a flush for it.
    assert redelivered.popularity_pending
    expected = applied_clicks(events)
    assert healthy.pending() == dict(expected)
    # And again: counted once only, and nothing new to flush.
    again = make_processor(es, encoder, settings, popularity=healthy).process(events)
    assert healthy.pending() == dict(expected)
    assert not again.popularity_pending

    def die_after_first_chunk(written: int) -> None:
        raise WorkerDied

    with pytest.raises(WorkerDied):
        healthy.flush(es, items_index=settings.index_alias("items"), chunk=3,
                      after_chunk=die_after_first_chunk)  # fmt: skip
    partly = popularity_of(es, settings, ids)
    assert sum(partly.values()) > sum(before.values())  # the first chunk reached the items
    resumed = healthy.flush(es, items_index=settings.index_alias("items"))
    assert resumed.skipped == 3  # the resumed flush skipped what the dead one wrote
    after = popularity_of(es, settings, ids)
    assert {i: after[i] - before[i] for i in ids} == {i: expected.get(i, 0) for i in ids}
    assert healthy.pending() == {}


def test_a_fresh_cluster_gets_its_indices_with_their_mappings_before_the_first_write(
    workers, es, encoder
):
    """No index of the prefix exists yet: the first batch creates them behind their aliases
    with the real mappings (auto-created dynamic ones would refuse the interest documents),
    and every user is new."""
    from plugin.service import PersonalizedSearch

    settings = workers.settings.with_overrides(index_prefix=f"{PREFIX}-fresh")
    aliases = [settings.index_alias(n) for n in ("items", "user_interests", "user_events")]
    assert not any(es.indices.exists_alias(name=alias) for alias in aliases)
    users = [f"bt-fresh-{RUN}-{u}" for u in range(3)]
    now = datetime.now(UTC)
    events = [
        {"user": user, "type": "post", "text": f"{word} news from the {word} desk",
         "time": (now - timedelta(minutes=n + 1)).isoformat()}
        for user in users
        for n, word in enumerate(("football", "election"))
    ]  # fmt: skip
    report = make_processor(es, encoder, settings).process(events)
    assert report.applied == len(events) and not report.errors
    assert all(es.indices.exists_alias(name=alias) for alias in aliases)
    mapping = es.indices.get_mapping(index=settings.index_alias("user_interests"))
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["state"] == {"type": "object", "enabled": False}
    service = PersonalizedSearch(es, settings=settings, encoder=encoder)
    for user in users:
        doc = es.get(index=settings.index_alias("user_interests"), id=service.pseudonym(user))
        assert doc["_source"]["events"] == 2
