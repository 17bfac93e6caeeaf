"""Send work to the workers and wait for it: what the CLI, the API and the demo use."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from celery import states
from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from plugin.errors import ServiceUnavailable
from plugin.settings import Settings
from tasks.app import PUBLISH_RETRY_POLICY, create_app

logger = logging.getLogger(__name__)

RESULT_TIMEOUT_S = 600.0
# Events per task: a worker folds each user's events of a batch in one read and one write.
DEFAULT_EVENT_BATCH = 500
WORKER_CHECK_TTL_S = 30.0
RESULT_POLL_S = 0.5
# A task still without a result this long after its visibility timeout is sent again.
RESEND_MARGIN_S = 15
MAX_REMEMBERED_TASKS = 10_000
MAX_RESENDS = 3
# What a broken connection to Redis looks like from here (kombu, redis-py, the socket).
CONNECTION_ERRORS = (OperationalError, RedisConnectionError, ConnectionError)
# Redis briefly down (a restart): keep trying to connect as long as a send would.
CONNECT_RETRY = dict(PUBLISH_RETRY_POLICY)


class TaskClient:
    """A Celery producer bound to the settings' Redis; closes its connections on exit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        self._workers_seen_until = 0.0
        # What each recent task was, so one lost in a Redis restart can be sent again.
        self._sent: OrderedDict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._es: Any = None

    def __enter__(self) -> TaskClient:
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.app.close()
        if self._es is not None:
            self._es.close()

    def require_workers(self) -> None:
        """Fail fast with a clear message when Redis or every worker is down (cached briefly)."""
        if time.monotonic() < self._workers_seen_until:
            return
        try:
            # A fresh connection: a pooled one may be dead after a Redis restart.
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(**CONNECT_RETRY)
                replies = self.app.control.ping(timeout=2.0, limit=1, connection=conn) or []
        except (*CONNECTION_ERRORS, OSError):
            raise ServiceUnavailable(
                f"Redis at {self.settings.effective_redis_url.split('@')[-1]} is not reachable; "
                "run `interest up`"
            ) from None
        if not replies:
            raise ServiceUnavailable("no Celery worker answers; run `interest up` to start one")
        self._workers_seen_until = time.monotonic() + WORKER_CHECK_TTL_S

    def send(self, name: str, *args: Any, **kwargs: Any) -> AsyncResult:
        """Queue one task for this client's index prefix; while Redis is briefly down, sending
        is retried for about 20 s (``tasks.app.PUBLISH_RETRY_POLICY``) before ServiceUnavailable."""
        # One worker serves several index prefixes: each task says whose indices it is for.
        kwargs = {"prefix": self.settings.index_prefix, **kwargs}
        try:
            result = self.app.send_task(name, args=args, kwargs=kwargs)
        except OperationalError:
            raise ServiceUnavailable("Redis is not reachable; run `interest up`") from None
        with self._lock:  # the API sends from several threads
            self._sent[result.id] = (name, args, kwargs)
            while len(self._sent) > MAX_REMEMBERED_TASKS:
                self._sent.popitem(last=False)
        return result

    def wait(self, result: AsyncResult, *, timeout: float = RESULT_TIMEOUT_S) -> Any:
        """The task's return value, waiting up to ``timeout`` seconds.

        Results live in Redis. When the connection breaks while waiting (a Redis restart),
        Celery's result listener fails every pending result with that error; the wait then
        goes on by reading the stored result directly until it is there. A task still unheard
        of a visibility timeout later is sent again under the same id: Redis may have gone
        down just after a worker took the message and before it was recorded as unacknowledged
        (kombu moves it in two steps), and tasks are idempotent. The task's own errors
        propagate either way.
        """
        deadline = time.monotonic() + timeout
        try:
            try:
                return result.get(timeout=timeout)
            except CONNECTION_ERRORS as exc:
                logger.warning(
                    "waiting for task %s: %s; reading its result directly", result.id, exc
                )
            with contextlib.suppress(Exception):  # the listener's state is broken: forget it
                self.app.backend.remove_pending_result(result)
            return self._poll(result.id, deadline)
        finally:
            with self._lock:
                self._sent.pop(result.id, None)

    def _poll(self, task_id: str, deadline: float) -> Any:
        backend = self.app.backend
        resend_after = self.settings.visibility_timeout_s + RESEND_MARGIN_S
        resend_at = time.monotonic() + resend_after
        resends = 0
        while time.monotonic() < deadline:
            try:
                meta = backend.get_task_meta(task_id, cache=False)
            except CONNECTION_ERRORS:
                meta = {}  # Redis still coming back
            status = meta.get("status")
            if status == states.SUCCESS:
                return meta["result"]
            if status in states.PROPAGATE_STATES:
                error = backend.exception_to_python(meta["result"])
                # The worker lost Redis while storing the result: the work itself is done or
                # undone, never half (idempotent tasks), so run it again for a real answer.
                if not (isinstance(error, CONNECTION_ERRORS) and resends < MAX_RESENDS):
                    raise error
                with contextlib.suppress(*CONNECTION_ERRORS):
                    backend.forget(task_id)
                resends += self._resend(task_id, f"its result was lost ({error})")
                resend_at = time.monotonic() + resend_after
            elif time.monotonic() >= resend_at:
                resends += self._resend(task_id, f"it was not heard of after {resend_after}s")
                resend_at = time.monotonic() + resend_after
            time.sleep(RESULT_POLL_S)
        raise ServiceUnavailable(f"no result for task {task_id} in time; is a worker running?")

    def _resend(self, task_id: str, why: str) -> int:
        """Send a remembered task again under its id; 1 if sent, 0 if unknown or Redis down."""
        sent = self._sent.get(task_id)
        if sent is None:
            return 0
        name, args, kwargs = sent
        logger.warning("sending task %s (%s) again: %s", task_id, name, why)
        try:
            self.app.send_task(name, args=args, kwargs=kwargs, task_id=task_id)
        except CONNECTION_ERRORS:
            return 0
        return 1

    def index_items(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        batch_size: int,
        progress: bool = True,
        index: str | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        """Index rows through the encode queue in batches; wait until they are searchable.

        ``index`` and ``model`` default to the items alias and the workers' model; a rebuild
        names its new index and model.
        """
        self.require_workers()
        started = time.perf_counter()
        batches = [list(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]
        options = {key: value for key, value in (("index", index), ("model", model)) if value}
        pending = [self.send("tasks.indexing.index_items", batch, **options) for batch in batches]
        indexed, errors = 0, []
        bar = _progress(len(rows), "indexing", enabled=progress)
        for batch, result in zip(batches, pending, strict=True):
            outcome = self.wait(result)
            indexed += outcome["indexed"]
            errors.extend(outcome["errors"])
            bar.update(len(batch))
        bar.close()
        self.refresh(index or self.settings.index_alias("items"))
        return {
            "indexed": indexed,
            "errors": errors,
            "seconds": round(time.perf_counter() - started, 3),
        }

    def record_events(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        batch_size: int = DEFAULT_EVENT_BATCH,
        wait: bool = True,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Send events in batches; with ``wait``, block until the interests reflect them.

        A worker folds a batch's events per user in one read and one bulk write, so large
        batches (hundreds of events) are much cheaper per event than small ones. With
        ``wait``, the clicks and likes also reach the items' popularity before it returns
        (one flush), and the interests index is refreshed once for all batches.
        """
        events = stamp_times(events)
        batches = [list(events[i : i + batch_size]) for i in range(0, len(events), batch_size)]
        return self.record_batches(batches, wait=wait, progress=progress)

    def record_batches(
        self,
        batches: Sequence[Sequence[Mapping[str, Any]]],
        *,
        wait: bool = True,
        progress: bool = False,
    ) -> dict[str, Any]:
        """``record_events`` with the batches already formed (e.g. whole users in each)."""
        self.require_workers()
        started = time.perf_counter()
        batches = [stamp_times(batch) for batch in batches if batch]
        events = [event for batch in batches for event in batch]
        pending = [self.send("tasks.events.record_events", batch) for batch in batches]
        totals: dict[str, Any] = {
            "applied": 0,
            "duplicates": 0,
            "errors": [],
            "queued": len(events),
        }
        if not wait:
            totals["task_ids"] = [result.id for result in pending]
            return totals
        bar = _progress(len(events), "events", enabled=progress)
        counted = False
        for batch, result in zip(batches, pending, strict=True):
            outcome = self.wait(result)
            totals["applied"] += outcome["applied"]
            totals["duplicates"] += outcome["duplicates"]
            totals["errors"].extend(outcome["errors"])
            counted = counted or bool(outcome.get("popularity_pending"))
            bar.update(len(batch))
        bar.close()
        if counted:
            self.flush_popularity()
        self.refresh("user_interests")
        totals["seconds"] = round(time.perf_counter() - started, 3)
        return totals

    def flush_popularity(self) -> dict[str, Any]:
        """Write the counted clicks and likes to the items now (a worker does it) and wait."""
        outcome: dict[str, Any] = self.wait(self.send("tasks.events.flush_popularity"))
        if outcome.get("updated"):
            self.refresh("items")
        return outcome

    def refit_collab(self, *, timeout: float = RESULT_TIMEOUT_S) -> dict[str, Any]:
        """Refit the collaborative factors on a worker and wait until every user is rebuilt.

        Returns:
            the worker's summary (``_meta.collab``) plus ``rebuilt`` users, or
            ``{"skipped": reason}`` when there are too few interactions.
        """
        self.require_workers()
        summary: dict[str, Any] = self.wait(
            self.send("tasks.training.refit_collab"), timeout=timeout
        )
        rebuilt = 0
        for task_id in summary.pop("recompute_tasks", []):
            rebuilt += int(self.wait(self.app.AsyncResult(task_id), timeout=timeout)["rebuilt"])
        if "skipped" not in summary:
            summary["rebuilt"] = rebuilt
        return summary

    def refit_neighbours(self, *, timeout: float = RESULT_TIMEOUT_S) -> dict[str, Any]:
        """Refit the item neighbours on a worker and wait for the swap to the new table.

        Returns:
            the worker's summary (``_meta.neighbours``), or ``{"skipped": reason}``.
        """
        self.require_workers()
        summary: dict[str, Any] = self.wait(
            self.send("tasks.training.refit_neighbours"), timeout=timeout
        )
        return summary

    def calibrate(self, *, timeout: float = RESULT_TIMEOUT_S) -> dict[str, Any]:
        """Fit the similarity calibration on a worker and wait for it.

        Returns:
            the worker's summary (``_meta.calibration`` without the centre), or
            ``{"skipped": reason}``.
        """
        self.require_workers()
        summary: dict[str, Any] = self.wait(self.send("tasks.training.calibrate"), timeout=timeout)
        return summary

    def refresh(self, index: str) -> None:
        """Refresh ``index`` (an alias, a concrete index, or a short name such as "items")."""
        from mappings import INDEX_NAMES
        from plugin.es import make_es_client

        target = self.settings.index_alias(index) if index in INDEX_NAMES else index
        with self._lock:
            if self._es is None:
                self._es = make_es_client(self.settings)
        self._es.indices.refresh(index=target)


def stamp_times(events: Sequence[Any], *, now: datetime | None = None) -> list[Any]:
    """Give events without a time the time they are sent.

    An event's id is derived from its time; were the worker to stamp it, a task redelivered
    after a lost ack (or waiting in a backlog) would get another time, so another id, and be
    applied twice. Rows that are not objects pass through for the worker to refuse.
    """
    stamp = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        {**event, "time": stamp}
        if isinstance(event, Mapping) and event.get("time") in (None, "")
        else event
        for event in events
    ]


def _progress(total: int, desc: str, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled, file=None)
