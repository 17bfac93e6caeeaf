"""The embedded Redis: a real redis-server process with an append-only file."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import redis

from plugin.settings import Settings
from stack.processes import StackError, pid_alive, port_open, read_pid, spawn, stop, wait_until

logger = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0


def _home(settings: Settings) -> Path:
    return settings.state_dir / "redis"


def ping(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def start_redis(settings: Settings) -> bool:
    """Start redis-server unless it already runs; True when this call started it."""
    home = _home(settings)
    pid_file = home / "redis.pid"
    url = settings.effective_redis_url
    if read_pid(pid_file) is not None:
        wait_until(lambda: ping(url), timeout=START_TIMEOUT_S, what="Redis")
        return False
    if port_open(settings.redis_port):
        raise StackError(
            f"port {settings.redis_port} is busy (another process listens there); stop it, "
            "choose another with INTEREST_REDIS_PORT, or use it with INTEREST_REDIS_URL"
        )
    server = shutil.which("redis-server")
    if server is None:
        raise StackError(
            "redis-server is missing: install it (Debian: apt-get install -y redis-server)"
        )
    home.mkdir(parents=True, exist_ok=True)
    # Append-only persistence: queued tasks survive a Redis restart.
    cmd = [
        server,
        "--port", str(settings.redis_port),
        "--bind", "127.0.0.1",
        "--dir", str(home),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
    ]  # fmt: skip
    log_file = home / "redis.log"
    pid = spawn(cmd, pid_file=pid_file, log_file=log_file)
    wait_until(
        lambda: ping(url),
        timeout=START_TIMEOUT_S,
        what="Redis",
        alive=lambda: pid_alive(pid),
        log_file=log_file,
    )
    logger.info("started Redis (pid %d) on port %d", pid, settings.redis_port)
    return True


def stop_redis(settings: Settings) -> bool:
    return stop(_home(settings) / "redis.pid", name="Redis", timeout=20.0)
