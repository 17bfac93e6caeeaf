"""The Celery app: Redis broker and results, `encode` and `default` queues, late acks."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready, worker_shutdown
from kombu import Queue  # type: ignore[attr-defined]

from plugin.settings import Settings
from tasks.heartbeat import Heartbeat

ENCODE_QUEUE = "encode"
DEFAULT_QUEUE = "default"
# Waits between retries of a task that met Elasticsearch down: 2, 4, 8... seconds (jittered),
# at most this long, and never longer than half the visibility timeout (see below).
RETRY_BACKOFF_S = 2
RETRY_BACKOFF_MAX_S = 60
# Redis briefly down: a producer retries sending for about 20 s before it reports the error.
PUBLISH_RETRY_POLICY = {
    "max_retries": 12,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 2.0,
}
# A worker storing a result while Redis restarts keeps trying this long.
RESULT_RETRY_TIMEOUT_S = 30.0


# Retraining, run by `celery -A tasks.app beat` (one beat process per deployment, beside the
# workers). Daily, at night UTC; a weights proposal is only stored for review, never applied.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "retrain-categories-daily": {
        "task": "tasks.training.retrain_categories",
        "schedule": crontab(hour=3, minute=0),
    },
    "refit-collab-daily": {
        "task": "tasks.training.refit_collab",
        "schedule": crontab(hour=2, minute=30),
    },
    # Neighbours move with what people do now (the day's news, a new release): hourly; a
    # refit over 100k events takes seconds (BENCHMARKS.md).
    "refit-neighbours-hourly": {
        "task": "tasks.training.refit_neighbours",
        "schedule": crontab(minute=15),
    },
    # Each click batch schedules a flush itself; this sweep catches a schedule that was lost
    # (its worker died before sending it) and flushes what it left pending.
    "flush-popularity": {
        "task": "tasks.events.flush_popularity",
        "schedule": 60.0,
    },
    # The catalogue's centre moves slowly as items come and go: daily is plenty.
    "calibrate-daily": {
        "task": "tasks.training.calibrate",
        "schedule": crontab(hour=3, minute=15),
    },
    "propose-weights-daily": {
        "task": "tasks.training.propose_weights",
        "schedule": crontab(hour=3, minute=30),
    },
}


def restore_interval_s(settings: Settings) -> int:
    """Seconds between a worker's sweeps for unacknowledged messages past the visibility
    timeout; a quarter of it, so a dead worker's task comes back soon after it expires."""
    return max(1, min(10, settings.visibility_timeout_s // 4))


def retry_backoff_max_s(settings: Settings) -> int:
    """The longest wait between retries. A retry waits in a worker as an unacknowledged
    message: waiting past the visibility timeout would have it delivered a second time."""
    return max(1, min(RETRY_BACKOFF_MAX_S, settings.visibility_timeout_s // 2))


def create_app(settings: Settings) -> Celery:
    app = Celery("dynamic_interest", include=["tasks.indexing", "tasks.events", "tasks.training"])
    url = settings.effective_redis_url
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_queues=(Queue(ENCODE_QUEUE), Queue(DEFAULT_QUEUE)),
        task_default_queue=DEFAULT_QUEUE,
        task_routes={
            "tasks.indexing.*": {"queue": ENCODE_QUEUE},
            "tasks.events.*": {"queue": DEFAULT_QUEUE},
            "tasks.training.*": {"queue": DEFAULT_QUEUE},
        },
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Writes are idempotent (deterministic ids, versioned updates), so a task may run twice:
        # ack after the work, and requeue when the worker process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A message not acknowledged within the visibility timeout (worker killed, machine
        # lost) is delivered again; each worker sweeps for such messages every few seconds.
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": restore_interval_s(settings),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"retry_policy": {"timeout": RESULT_RETRY_TIMEOUT_S}},
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        result_expires=24 * 3600,
        worker_hijack_root_logger=True,
        worker_redirect_stdouts=False,
        timezone="UTC",
        beat_schedule=BEAT_SCHEDULE,
    )
    return app


def retry_options(settings: Settings, retry_on: tuple[type[BaseException], ...]) -> dict[str, Any]:
    """Task options: retry on ``retry_on`` forever, with jittered exponential backoff."""
    return {
        "autoretry_for": retry_on,
        "retry_backoff": RETRY_BACKOFF_S,
        "retry_backoff_max": retry_backoff_max_s(settings),
        "retry_jitter": True,
        "max_retries": None,
    }


settings = Settings.from_env()
app = create_app(settings)


_heartbeats: list[Heartbeat] = []


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    """Tell Redis this worker is alive (``interest status`` reads it without Celery)."""
    hostname = getattr(sender, "hostname", None) or "worker"
    _heartbeats.append(Heartbeat(settings.effective_redis_url, hostname).start())


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    while _heartbeats:
        _heartbeats.pop().stop()
