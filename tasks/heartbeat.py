"""Worker heartbeats in Redis: who is alive, readable without Celery.

Each worker's main process writes ``dynamic-interest:worker:<hostname>`` every
``HEARTBEAT_EVERY_S`` seconds with a time to live of ``HEARTBEAT_TTL_S``; a worker that dies
drops out within that TTL. ``interest status`` counts these keys with a plain Redis client
instead of broadcasting a Celery ping (importing Celery alone costs about a second).
This module imports no Celery; ``tasks.app`` starts the beat when a worker is ready.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

HEARTBEAT_KEY_PREFIX = "dynamic-interest:worker:"
HEARTBEAT_EVERY_S = 5.0
HEARTBEAT_TTL_S = 15


def beat(client: Any, hostname: str) -> None:
    """One heartbeat: this worker is alive for the next ``HEARTBEAT_TTL_S`` seconds."""
    client.set(HEARTBEAT_KEY_PREFIX + hostname, "1", ex=HEARTBEAT_TTL_S)


class Heartbeat:
    """Beats from a daemon thread until ``stop`` (which removes the key); Redis errors wait for
    the next beat."""

    def __init__(self, redis_url: str, hostname: str):
        import redis

        self._errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.hostname = hostname
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="interest-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                beat(self.client, self.hostname)
            except self._errors as exc:  # Redis restarting: the next beat
                logger.debug("heartbeat not written: %s", exc)
            self._stop.wait(HEARTBEAT_EVERY_S)

    def stop(self) -> None:
        """Stop beating and drop the key now, so a stopped worker is not counted."""
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_EVERY_S)
        with contextlib.suppress(*self._errors):  # else it expires on its own
            self.client.delete(HEARTBEAT_KEY_PREFIX + self.hostname)


def live_workers(client: Any) -> list[str]:
    """Worker names (``name@host``) with a heartbeat younger than its TTL."""
    names = client.scan_iter(match=HEARTBEAT_KEY_PREFIX + "*", count=100)
    return sorted(
        (name.decode() if isinstance(name, bytes) else name).removeprefix(HEARTBEAT_KEY_PREFIX)
        for name in names
    )
