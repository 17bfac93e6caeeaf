"""`interest up | down | status`: the embedded stack as one unit."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

from plugin.errors import ServiceUnavailable
from plugin.es import check_reachable, make_es_client, scorer_mode
from plugin.settings import Settings, redact_url
from stack.elasticsearch import default_node, start_node, stop_node
from stack.processes import StackError
from stack.redis import ping, start_redis, stop_redis
from stack.worker import start_worker, stop_worker, worker_names
from tasks.heartbeat import live_workers

logger = logging.getLogger(__name__)


def ping_workers(settings: Settings, timeout: float = 1.0) -> list[str]:
    """Names (without host) of the workers that answer a broadcast ping."""
    from tasks.app import create_app  # deferred: only this command needs Celery

    app = create_app(settings)
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception:  # broker down: no workers can answer
        return []
    finally:
        app.close()
    return sorted(name.split("@", 1)[0] for reply in replies for name in reply)


def up(settings: Settings, *, worker: bool = True) -> dict[str, Any]:
    """Start what is not running and wait until each part is healthy; idempotent."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if settings.embedded_es:
        start_node(settings, default_node(settings))
        timings["elasticsearch_s"] = round(time.perf_counter() - started, 2)
    if settings.embedded_redis:
        mark = time.perf_counter()
        start_redis(settings)
        timings["redis_s"] = round(time.perf_counter() - mark, 2)
    elif not ping(settings.effective_redis_url):
        raise StackError("Redis at INTEREST_REDIS_URL does not answer")
    if worker:
        mark = time.perf_counter()
        start_worker(settings, ping=lambda: ping_workers(settings))
        timings["worker_s"] = round(time.perf_counter() - mark, 2)
    timings["total_s"] = round(time.perf_counter() - started, 2)
    return timings


def down(settings: Settings) -> list[str]:
    """Stop what `up` started (workers first, so no task is cut off by a missing broker)."""
    stopped = []
    for name in worker_names(settings):
        if stop_worker(settings, name):
            stopped.append(name)
    if settings.embedded_redis and stop_redis(settings):
        stopped.append("redis")
    if settings.embedded_es and stop_node(default_node(settings)):
        stopped.append("elasticsearch")
    return stopped


def status(settings: Settings) -> dict[str, Any]:
    es_status: dict[str, Any] = {
        "url": settings.display_es_url,
        "version": None,
        "status": "down",
        "scorer": None,
    }
    es = make_es_client(settings.with_overrides(request_timeout_s=3.0))
    try:
        info = check_reachable(es, settings)
        es_status["version"] = info.get("version", {}).get("number")
        es_status["status"] = es.cluster.health().body.get("status")
        es_status["scorer"] = scorer_mode(es)
    except ServiceUnavailable:
        pass
    finally:
        es.close()
    redis_ok = ping(settings.effective_redis_url)
    return {
        "elasticsearch": es_status,
        "redis": {"url": redact_url(settings.effective_redis_url), "ok": redis_ok},
        "workers": len(heartbeating_workers(settings)) if redis_ok else 0,
    }


def heartbeating_workers(settings: Settings) -> list[str]:
    """Workers whose heartbeat is fresh (seconds old at most): a Redis read, no Celery."""
    client = redis.Redis.from_url(
        settings.effective_redis_url, socket_connect_timeout=1, socket_timeout=1
    )
    try:
        return live_workers(client)
    except (redis.RedisError, OSError):
        return []
    finally:
        client.close()
