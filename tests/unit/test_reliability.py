"""The pure parts of the reliability work: retry policy, transient errors, index versions,
cluster layout, replicas. The faults themselves are tested in tests/integration/test_faults.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders
from elasticsearch import ApiError, BadRequestError, ConnectionTimeout
from elasticsearch import ConnectionError as EsConnectionError

from plugin.errors import ServiceUnavailable
from plugin.es import index_body, is_transient
from plugin.rebuild import build_meta, next_index_name
from plugin.settings import DEFAULT_VISIBILITY_TIMEOUT_S, Settings, redact_url


def _meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=None
    )


def api_error(status: int, error: str = "unavailable_shards_exception") -> ApiError:
    return ApiError(error, meta=_meta(status), body={"error": {"type": error}})


# --- settings ---------------------------------------------------------------------------------
def test_visibility_timeout_and_replicas_default_and_read_from_env():
    assert Settings.from_env({}).visibility_timeout_s == DEFAULT_VISIBILITY_TIMEOUT_S == 120
    assert Settings.from_env({}).es_replicas == 0
    settings = Settings.from_env(
        {"INTEREST_VISIBILITY_TIMEOUT_S": "10", "INTEREST_ES_REPLICAS": "1"}
    )
    assert (settings.visibility_timeout_s, settings.es_replicas) == (10, 1)


def test_es_url_may_list_several_nodes():
    settings = Settings.from_env({"INTEREST_ES_URL": " http://a:9200/ ,http://b:9200"})
    assert settings.es_urls == ["http://a:9200", "http://b:9200"]
    assert Settings().es_urls == ["http://127.0.0.1:9200"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://elastic:pw@es:9200/x", "https://elastic:***@es:9200/x"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("https://token@es:9200", "https://token@es:9200"),
        ("http://es:9200", "http://es:9200"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str):
    assert redact_url(url) == shown


# --- the Celery app's policy ------------------------------------------------------------------
def test_broker_options_follow_the_visibility_timeout():
    from tasks.app import create_app

    app = create_app(Settings(visibility_timeout_s=20))
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == 20
    assert options["unacked_restore_interval"] == 5 and options["unacked_restore_throttle"] == 1
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_publish_retry and app.conf.task_publish_retry_policy["max_retries"] > 3


@pytest.mark.parametrize(("visibility", "backoff_max"), [(120, 60), (20, 10), (1, 1)])
def test_retry_waits_stay_below_the_visibility_timeout(visibility: int, backoff_max: int):
    from tasks.app import retry_backoff_max_s, retry_options

    settings = Settings(visibility_timeout_s=visibility)
    assert retry_backoff_max_s(settings) == backoff_max
    options = retry_options(settings, (EsConnectionError,))
    assert options["max_retries"] is None and options["retry_jitter"] is True
    assert options["retry_backoff_max"] == backoff_max


def test_tasks_retry_on_connection_refused_timeouts_and_busy_answers():
    from tasks.events import record_events
    from tasks.indexing import index_items
    from tasks.retries import RETRY_ON

    for task in (index_items, record_events):
        assert set(task.autoretry_for) == set(RETRY_ON)
        assert task.max_retries is None
    assert issubclass(EsConnectionError, RETRY_ON) and issubclass(ConnectionTimeout, RETRY_ON)
    assert ServiceUnavailable in RETRY_ON


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_busy_answers_become_retryable(status: int):
    from tasks.retries import retry_transient

    @retry_transient
    def busy() -> None:
        raise api_error(status)

    assert is_transient(api_error(status))
    with pytest.raises(ServiceUnavailable, match=f"answered {status}"):
        busy()


def test_bad_requests_are_not_retried():
    from tasks.retries import retry_transient

    @retry_transient
    def bad() -> None:
        raise BadRequestError("bad", meta=_meta(400), body={})

    assert not is_transient(BadRequestError("bad", meta=_meta(400), body={}))
    with pytest.raises(BadRequestError):
        bad()


def test_connection_errors_are_transient():
    assert is_transient(EsConnectionError("refused"))
    assert is_transient(ConnectionTimeout("slow"))


def fake_bulk(statuses: list[int]) -> Any:
    """A stand-in for streaming_bulk: one (ok, item) per action, with the given statuses."""

    def run(_es: Any, actions: Any, **_: Any) -> Any:
        for i, (_action, status) in enumerate(zip(list(actions), statuses, strict=True)):
            item: dict[str, Any] = {"_id": str(i), "status": status}
            if status >= 300:
                item["error"] = {"type": "x", "reason": f"failed with {status}"}
            yield status < 300, {"index": item}

    return run


def test_bulk_write_reports_bad_documents_and_retries_busy_ones(monkeypatch):
    from indexer import writer

    actions = [{"_op_type": "index", "_index": "i", "_id": str(i), "x": i} for i in range(3)]
    monkeypatch.setattr(writer, "streaming_bulk", fake_bulk([201, 400, 201]))
    report = writer.bulk_write(None, actions)  # type: ignore[arg-type]
    assert report.written == 2 and report.errors == [{"id": "1", "error": "failed with 400"}]
    monkeypatch.setattr(writer, "streaming_bulk", fake_bulk([201, 503, 201]))
    with pytest.raises(ServiceUnavailable, match="could not take 1 documents"):
        writer.bulk_write(None, actions)  # type: ignore[arg-type]


# --- index versions, replicas, cluster layout -------------------------------------------------
@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("shop-items-v1", "shop-items-v2"),
        ("shop-items-v9", "shop-items-v10"),
        ("legacy", "shop-items-v2"),
    ],
)
def test_next_index_name(current: str, expected: str):
    assert next_index_name("shop-items", current) == expected


def test_build_meta_keeps_weights_and_history_and_records_the_model():
    old = {
        "schema_version": 1,
        "model": {"name": "old", "dims": 384},
        "blend": {"version": 3, "weights": {"bm25": 1.0}},
        "blend_history": [{"version": 2}, {"version": 1}],
    }
    meta = build_meta(old, model={"name": "new", "dims": 768}, old_index="shop-items-v1")
    assert meta["blend"] == old["blend"] and meta["blend_history"] == old["blend_history"]
    assert meta["model"] == {"name": "new", "dims": 768}
    assert meta["rebuilt_from"] == "shop-items-v1"
    assert old["model"] == {"name": "old", "dims": 384}, "the old meta is not changed"


def test_build_meta_keeps_a_calibration_of_the_same_model_only():
    calibration = {"model": "old", "centre": [0.1], "scale": 0.4}
    old = {"model": {"name": "old", "dims": 1}, "calibration": calibration}
    assert "calibration" not in build_meta(old, model={"name": "new", "dims": 1}, old_index="i")
    same = build_meta(old, model={"name": "old", "dims": 1}, old_index="i")
    assert same["calibration"] == calibration
    assert old["calibration"] == calibration, "the old meta is not changed"


def test_index_body_sets_replicas_and_the_model_dims():
    body = index_body("items", model={"name": "m", "dims": 768}, replicas=1)
    assert body["settings"]["number_of_replicas"] == 1
    assert body["mappings"]["properties"]["embedding"]["dims"] == 768
    assert body["mappings"]["_meta"]["model"] == {"name": "m", "dims": 768}
    assert index_body("user_events", model={"dims": 384})["settings"]["number_of_replicas"] == 0


def test_cluster_nodes_get_consecutive_ports_and_their_own_folders(tmp_path: Path):
    from stack.cluster import Cluster, cluster_nodes

    nodes = cluster_nodes(Settings(state_dir=tmp_path), n=3, http_port=29501, transport_port=29601)
    assert [(n.name, n.http_port, n.transport_port) for n in nodes] == [
        ("node-1", 29501, 29601),
        ("node-2", 29502, 29602),
        ("node-3", 29503, 29603),
    ]
    assert len({n.home for n in nodes}) == 3 and all(tmp_path in n.home.parents for n in nodes)
    cluster = Cluster(name="c", nodes=nodes)
    assert cluster.urls[1] == "http://127.0.0.1:29502" and cluster.node("node-3") is nodes[2]


def test_a_cluster_of_no_nodes_is_refused(tmp_path: Path):
    from stack.cluster import start_cluster
    from stack.processes import StackError

    with pytest.raises(StackError, match="at least one node"):
        start_cluster(Settings(state_dir=tmp_path), n=0)


def test_items_that_cannot_be_read_yet_make_the_event_batch_retry():
    from indexer.events import EventProcessor
    from indexer.interests import InterestParams

    class RecoveringEs:
        def mget(self, **_: Any) -> dict[str, Any]:
            return {
                "docs": [
                    {"_id": "a", "found": True, "_source": {"title": "A"}},
                    {"_id": "b", "error": {"type": "no_shard_available_action_exception"}},
                ]
            }

    processor = EventProcessor(
        RecoveringEs(),  # type: ignore[arg-type]
        encoder=None,  # type: ignore[arg-type]
        params=InterestParams(),
        items_index="items",
        events_index="events",
        interests_index="interests",
        user_key=b"k",
    )
    with pytest.raises(ServiceUnavailable, match="no_shard_available_action_exception"):
        processor._fetch_items({"a", "b"})


def test_a_missing_interests_index_makes_the_batch_wait_for_init_not_write_blind():
    from indexer.events import EventProcessor
    from indexer.interests import InterestEvent, InterestParams

    class NoInterestsIndex:
        def mget(self, **_: Any) -> dict[str, Any]:
            error = {"type": "index_not_found_exception", "reason": "no such index"}
            return {"docs": [{"_id": "u1", "error": error}]}

        def bulk(self, **_: Any) -> Any:
            raise AssertionError("nothing may be written without the index's mappings")

    processor = EventProcessor(
        NoInterestsIndex(),  # type: ignore[arg-type]
        encoder=None,  # type: ignore[arg-type]
        params=InterestParams(),
        items_index="items",
        events_index="events",
        interests_index="interests",
        user_key=b"k",
    )
    event = InterestEvent(kind="click", time_ms=1_700_000_000_000, vector=None)
    with pytest.raises(ServiceUnavailable, match="interest init"):
        processor._apply_batch({"u1": {"e1": event}}, set(), now_ms=1_700_000_000_000)


def test_a_result_wait_cut_by_a_redis_restart_reads_the_stored_result(monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tasks import client as client_module
    from tasks.client import TaskClient

    class BrokenListener:
        id = "task-1"

        def get(self, timeout: float) -> Any:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    class Backend:
        def __init__(self) -> None:
            self.answers: list[Any] = [
                RedisConnectionError("still down"),
                {"status": "PENDING"},
                {"status": "SUCCESS", "result": {"indexed": 3}},
            ]

        def remove_pending_result(self, result: Any) -> None:
            raise RedisConnectionError("cannot unsubscribe")  # must not matter

        def get_task_meta(self, task_id: str, cache: bool) -> Any:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    monkeypatch.setattr(client_module, "RESULT_POLL_S", 0.0)
    tasks = TaskClient(Settings())
    tasks.app = type("App", (), {"backend": Backend()})()  # type: ignore[assignment]
    assert tasks.wait(BrokenListener(), timeout=5) == {"indexed": 3}  # type: ignore[arg-type]


def test_a_task_lost_in_a_redis_restart_is_sent_again_under_its_id(monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tasks import client as client_module
    from tasks.client import TaskClient

    class Result:
        id = "task-2"

        def get(self, timeout: float) -> Any:
            raise RedisConnectionError("Connection closed by server.")

    class App:
        def __init__(self) -> None:
            self.sent: list[tuple[str, Any, Any, str | None]] = []
            app = self

            class Backend:
                def remove_pending_result(self, result: Any) -> None:
                    pass

                def get_task_meta(self, task_id: str, cache: bool) -> Any:
                    if len(app.sent) < 2:  # lost: nobody runs it until it is sent again
                        return {"status": "PENDING"}
                    return {"status": "SUCCESS", "result": {"applied": 1}}

            self.backend = Backend()

        def send_task(self, name: str, args: Any, kwargs: Any, task_id: str | None = None) -> Any:
            self.sent.append((name, args, kwargs, task_id))
            return Result()

    monkeypatch.setattr(client_module, "RESULT_POLL_S", 0.01)
    monkeypatch.setattr(client_module, "RESEND_MARGIN_S", 0)
    tasks = TaskClient(Settings(visibility_timeout_s=1))
    app = App()
    tasks.app = app  # type: ignore[assignment]
    pending = tasks.send("tasks.events.record_events", [{"user": "u"}], refresh=True)
    assert tasks.wait(pending, timeout=10) == {"applied": 1}
    first, again = app.sent
    sent_kwargs = {"prefix": "interest", "refresh": True}  # each task names its index prefix
    assert again == ("tasks.events.record_events", ([{"user": "u"}],), sent_kwargs, "task-2")
    assert first[3] is None


def test_a_result_lost_to_redis_while_being_stored_is_forgotten_and_the_task_sent_again(
    monkeypatch,
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tasks import client as client_module
    from tasks.client import TaskClient

    lost = RedisConnectionError("Error 111 connecting to 127.0.0.1:16379. Connection refused.")

    class Result:
        id = "task-3"

        def get(self, timeout: float) -> Any:
            raise lost  # what Celery re-raises from the stored failure

    class App:
        def __init__(self) -> None:
            self.sent: list[str | None] = []
            self.forgotten: list[str] = []
            app = self

            class Backend:
                def remove_pending_result(self, result: Any) -> None:
                    pass

                def forget(self, task_id: str) -> None:
                    app.forgotten.append(task_id)

                def exception_to_python(self, stored: Any) -> Exception:
                    return stored

                def get_task_meta(self, task_id: str, cache: bool) -> Any:
                    if not app.forgotten:  # the worker stored its Redis error as the result
                        return {"status": "FAILURE", "result": lost}
                    if len(app.sent) < 2:
                        return {"status": "PENDING"}
                    return {"status": "SUCCESS", "result": {"indexed": 10}}

            self.backend = Backend()

        def send_task(self, name: str, args: Any, kwargs: Any, task_id: str | None = None) -> Any:
            self.sent.append(task_id)
            return Result()

    monkeypatch.setattr(client_module, "RESULT_POLL_S", 0.0)
    tasks = TaskClient(Settings())
    app = App()
    tasks.app = app  # type: ignore[assignment]
    pending = tasks.send("tasks.indexing.index_items", [{"id": "x"}])
    assert tasks.wait(pending, timeout=10) == {"indexed": 10}
    assert app.forgotten == ["task-3"] and app.sent == [None, "task-3"]


def test_a_task_that_really_failed_is_not_sent_again(monkeypatch):
    from tasks import client as client_module
    from tasks.client import TaskClient

    class Result:
        id = "task-4"

        def get(self, timeout: float) -> Any:
            raise ValueError("bad row")

    class App:
        sent = 0

        def send_task(self, name: str, args: Any, kwargs: Any, task_id: str | None = None) -> Any:
            App.sent += 1
            return Result()

    monkeypatch.setattr(client_module, "RESULT_POLL_S", 0.0)
    tasks = TaskClient(Settings())
    tasks.app = App()  # type: ignore[assignment]
    with pytest.raises(ValueError, match="bad row"):
        tasks.wait(tasks.send("tasks.indexing.index_items", []), timeout=5)
    assert App.sent == 1
