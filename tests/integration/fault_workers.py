"""Real Celery workers that fault tests may kill: their own Redis database, a short
visibility timeout, and helpers to find, kill and replace them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from plugin.settings import Settings
from stack.control import ping_workers
from stack.processes import pid_alive, read_pid
from stack.worker import start_worker, stop_worker, worker_pid_file

# A short visibility timeout, so a killed worker's task comes back within seconds; longer
# than a test batch takes on a busy two-core machine, which would otherwise be delivered again
# while it runs (harmless, idempotent, but slow).
VISIBILITY_S = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def redis_url_with_db(settings: Settings, db: int) -> str:
    base = settings.effective_redis_url
    return re.sub(r"/\d*$", "", base.split("?")[0]) + f"/{db}"


class FaultWorkers:
    """Named workers on Redis database ``db`` (the session worker uses another), writing to
    indices under ``index_prefix`` (so their items do not crowd other tests' rankings),
    started with ``extra_env`` on top of this process's environment."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: int,
        index_prefix: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ):
        self.session = settings
        url = redis_url_with_db(settings, db)
        prefix = index_prefix or settings.index_prefix
        self.env = {
            "INTEREST_REDIS_URL": url,
            "INTEREST_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S),
            "INTEREST_INDEX_PREFIX": prefix,
            **(extra_env or {}),
        }
        self.settings = settings.with_overrides(
            redis_url=url, visibility_timeout_s=VISIBILITY_S, index_prefix=prefix
        )
        self.started: set[str] = set()

    def log(self, name: str) -> Path:
        return self.session.state_dir / "workers" / f"{name}.log"

    def log_text(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str, *, concurrency: int = 1) -> None:
        start_worker(
            self.session,
            name=name,
            concurrency=concurrency,
            ping=lambda: ping_workers(self.settings),
            extra_env=self.env,
        )
        self.started.add(name)

    def running(self, name: str) -> bool:
        return read_pid(worker_pid_file(self.session, name)) is not None

    def stop(self, name: str) -> None:
        stop_worker(self.session, name)

    def stop_all(self) -> None:
        for name in sorted(self.started):
            with contextlib.suppress(Exception):
                self.stop(name)

    def main_pid(self, name: str) -> int:
        pid = read_pid(worker_pid_file(self.session, name))
        assert pid is not None, f"worker {name} is not running"
        return pid

    def pool_children(self, name: str) -> list[int]:
        pid = self.main_pid(name)
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def kill(self, name: str) -> None:
        """SIGKILL the whole worker (main process and pool children): no warm shutdown."""
        pid = self.main_pid(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        worker_pid_file(self.session, name).unlink(missing_ok=True)

    def kill_children(self, name: str) -> list[int]:
        """SIGKILL the pool processes only; the worker itself survives and replaces them."""
        children = self.pool_children(name)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        return children

    def pool_cpu_seconds(self, name: str) -> dict[int, float]:
        """CPU seconds used so far by each pool process of worker ``name``."""
        used = {}
        for child in self.pool_children(name):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                used[child] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return used

    def wait_busy(self, name: str, *, cpu_s: float, timeout: float = 120.0) -> None:
        """Wait until one pool process of ``name`` has worked ``cpu_s`` CPU seconds more than
        when this was called: a task is under way, whatever the machine's load."""
        start = self.pool_cpu_seconds(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.pool_cpu_seconds(name)
            if any(now[pid] - start.get(pid, 0.0) >= cpu_s for pid in now):
                return
            time.sleep(0.05)
        raise AssertionError(f"worker {name} did not start working within {timeout:.0f}s")

    def who_received(self, task_id: str, names: list[str], *, timeout: float = 120.0) -> str:
        """The worker whose log shows it received ``task_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in names:
                if f"[{task_id}] received" in self.log_text(name):
                    return name
            time.sleep(0.1)
        raise AssertionError(f"no worker of {names} received task {task_id}")
