"""The Celery app: Redis broker and results, `encode` and `default` queues, late acks."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from plugin.settings import Settings

ENCODE_QUEUE = "encode"
DEFAULT_QUEUE = "default"
# Unacknowledged work is redelivered this long after a worker dies mid-task.
VISIBILITY_TIMEOUT_S = 120


def create_app(settings: Settings) -> Celery:
    app = Celery("dynamic_interest", include=["tasks.indexing", "tasks.events"])
    url = settings.effective_redis_url
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_queues=(Queue(ENCODE_QUEUE), Queue(DEFAULT_QUEUE)),
        task_default_queue=DEFAULT_QUEUE,
        task_routes={
            "tasks.indexing.*": {"queue": ENCODE_QUEUE},
            "tasks.events.*": {"queue": DEFAULT_QUEUE},
        },
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Writes are idempotent (deterministic ids, versioned updates), so a task may run twice:
        # ack after the work, and requeue when the worker process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        result_expires=24 * 3600,
        worker_hijack_root_logger=True,
        worker_redirect_stdouts=False,
        timezone="UTC",
    )
    return app


app = create_app(Settings.from_env())
