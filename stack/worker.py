"""The embedded Celery worker: one real worker process serving both queues."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from plugin.settings import REPO_ROOT, Settings
from stack.processes import pid_alive, read_pid, spawn, stop, wait_until

logger = logging.getLogger(__name__)
START_TIMEOUT_S = 90.0


def worker_pid_file(settings: Settings, name: str = "worker-1") -> Path:
    return settings.state_dir / "workers" / f"{name}.pid"


def worker_command(settings: Settings, *, name: str, queues: str, concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "tasks.app", "worker",
        "--loglevel", "INFO",
        "-Q", queues,
        "-c", str(concurrency),
        "-n", f"{name}@%h",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def start_worker(
    settings: Settings,
    *,
    name: str = "worker-1",
    queues: str = "encode,default",
    concurrency: int | None = None,
    ping: Callable[[], list[str]] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> bool:
    """Start a worker unless it runs; wait until it answers a ping. True when started here.

    ``extra_env`` is added to this process's environment for the worker (e.g. another Redis
    database or a shorter INTEREST_VISIBILITY_TIMEOUT_S).
    """
    pid_file = worker_pid_file(settings, name)
    if read_pid(pid_file) is not None:
        return False
    env = {**os.environ, **(extra_env or {})}
    # The worker must see the same stack as this process.
    env.setdefault("INTEREST_STATE_DIR", str(settings.state_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    cmd = worker_command(
        settings, name=name, queues=queues, concurrency=concurrency or settings.worker_concurrency
    )
    log_file = settings.state_dir / "workers" / f"{name}.log"
    pid = spawn(cmd, pid_file=pid_file, log_file=log_file, env=env, cwd=REPO_ROOT)
    logger.info("started Celery worker %s (pid %d)", name, pid)
    if ping is not None:
        wait_until(
            lambda: name in ping(),
            timeout=START_TIMEOUT_S,
            what=f"Celery worker {name}",
            alive=lambda: pid_alive(pid),
            log_file=log_file,
        )
    return True


def stop_worker(settings: Settings, name: str = "worker-1") -> bool:
    # Warm shutdown: the main process finishes the running tasks on SIGTERM and stops its pool;
    # a SIGTERM to the pool processes themselves would cut those tasks off. acks_late covers
    # the SIGKILL that follows a timeout.
    return stop(
        worker_pid_file(settings, name), name=f"Celery worker {name}", timeout=60.0, group=False
    )


def worker_names(settings: Settings) -> list[str]:
    folder = settings.state_dir / "workers"
    if not folder.exists():
        return []
    return sorted(p.stem for p in folder.glob("*.pid") if read_pid(p) is not None)
