"""Soak: searches, recommendations, clicks and posts at once, at fixed rates, for a bounded time.

Run ``interest up`` first with the same ``INTEREST_*`` environment, then::

    python -m bench.soak --duration 600 --qps 20 --events-per-s 300

It indexes its own items, starts the HTTP API (``interest serve``) on a free loopback port, and
sends an open-loop schedule to it: searches and recommendations (half each) at ``--qps``, and
every half second a ``POST /api/events`` (``wait=false``) with that half second's share of
``--events-per-s`` (clicks, and ``--post-share`` posts with text to encode). Latency is timed
from each request's scheduled moment, so a slow stretch delays nothing it should have counted
(the API's log goes to ``api.log`` beside the report). A search, a recommendation and a post
are sent and waited for first, so that models load before the clock starts.
Every few seconds a probe click (``freshness_click``) is timed until the user's interests show
it. Nothing outside the loopback is reached; the run stops by itself after ``--duration``.

Then it waits for the workers to drain, flushes popularity and counts, per user and per item:
events applied (each user's ``events`` counter) against events accepted, and items'
``popularity`` against the clicks sent. Lost and doubled must both be 0. It reports errors by
kind, p50/p99 latency per request kind per ``--window`` seconds (``soak.png``) and the resident
memory of every process of the stack at the start and the end. Everything it writes to
Elasticsearch is removed at the end. A table goes to stderr, one JSON object to stdout (and
``soak.json`` beside the plot).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.corpus import percentiles
from bench.ingest import cleanup, load_items
from plugin.settings import Settings
from tasks.client import TaskClient

DEFAULT_DURATION_S = 600.0
DEFAULT_QPS = 20.0
DEFAULT_EVENTS_PER_S = 300.0
DEFAULT_POST_SHARE = 0.05
DEFAULT_USERS = 200
DEFAULT_ITEMS = 500
DEFAULT_WINDOW_S = 30.0
EVENT_SEND_INTERVAL_S = 0.5
PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0
SENDER_THREADS = 24
API_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Sample:
    kind: str
    at_s: float  # scheduled moment, seconds since the start
    latency_ms: float
    error: str | None


class Recorder:
    """Samples from every sender thread (appending to a list is atomic under the GIL)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def add(self, kind: str, at_s: float, latency_ms: float, error: str | None) -> None:
        self.samples.append(Sample(kind, at_s, latency_ms, error))


class Api:
    """One keep-alive HTTP connection per thread to the API on the loopback."""

    def __init__(self, port: int, *, key: str | None = None):
        self.port = port
        self.key = key  # INTEREST_API_KEY, when the API needs one
        self._local = threading.local()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if payload else {}
        if self.key:
            headers["X-API-Key"] = self.key
        reused = getattr(self._local, "connection", None) is not None
        try:
            return self._send(method, path, payload, headers)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            if not reused:
                raise
            # The server closed an idle keep-alive connection: once more on a new one (every
            # request here is safe to repeat: events carry their ids).
            return self._send(method, path, payload, headers)

    def _send(
        self, method: str, path: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Any]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._local.connection = connection
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._local.connection = None
            connection.close()
            raise
        return response.status, json.loads(data) if data else None


# --- processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_api(port: int, log_file: Path, *, key: str | None) -> subprocess.Popen[bytes]:
    """``interest serve`` on the loopback, as a child with this environment; waits for health."""
    code = "import sys; from plugin.app.cli import main; sys.exit(main(sys.argv[1:]))"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    api = Api(port, key=key)
    deadline = time.monotonic() + API_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited with {process.returncode} before answering")
        try:
            status, _ = api.request("GET", "/api/health")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the API did not answer within {API_START_TIMEOUT_S:.0f}s")


def stack_processes(settings: Settings, api_pid: int) -> dict[str, list[int]]:
    """Process ids of the stack, read from its pid files (with each one's children)."""
    state = settings.state_dir
    groups: dict[str, list[int]] = {"api": [api_pid], "bench": [os.getpid()]}
    for name, pattern in (
        ("elasticsearch", "elasticsearch/*/node.pid"),
        ("redis", "redis/redis.pid"),
        ("workers", "workers/*.pid"),
    ):
        pids = []
        for pid_file in sorted(state.glob(pattern)):
            try:
                pids.append(int(pid_file.read_text().strip()))
            except (OSError, ValueError):
                continue
        groups[name] = [p for pid in pids for p in _with_children(pid)]
    return groups


def _with_children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(c) for c in task.read_text().split()]
        except (OSError, ValueError):
            continue
        for child in children:
            found.extend(_with_children(child))
    return found


def resident_mib(pids: Iterable[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return round(total_kib / 1024, 1)


def memory(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: resident_mib(pids) for name, pids in groups.items()}


# --- load ----------------------------------------------------------------------------------------
class Load:
    """The schedule's requests and what they sent (what the counts are checked against)."""

    def __init__(
        self,
        api: Api,
        recorder: Recorder,
        *,
        run: str,
        users: Sequence[str],
        items: Sequence[dict[str, Any]],
        post_share: float,
        seed: int,
    ):
        self.api = api
        self.recorder = recorder
        self.run = run
        self.users = users
        self.items = items
        self.post_share = post_share
        self.random = random.Random(seed)
        self.words = sorted({w for item in items for w in item["title"].split() if len(w) > 3})
        self._lock = threading.Lock()
        self.next_event = 0
        self.accepted: Counter[str] = Counter()  # user -> events the API accepted
        self.clicks: Counter[str] = Counter()  # item -> accepted clicks
        self.uncertain = 0  # events of requests that failed: maybe queued, maybe not

    def timed(self, kind: str, at_s: float, started: float, action: Callable[[], int]) -> None:
        try:
            status = action()
            error = None if status == 200 else f"http {status}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = type(exc).__name__
        latency = (time.perf_counter() - started - at_s) * 1000
        self.recorder.add(kind, at_s, latency, error)

    def search(self) -> int:
        query = " ".join(self.random.sample(self.words, k=2)) if len(self.words) > 1 else "film"
        user = self.random.choice(self.users)
        status, _ = self.api.request("GET", "/api/search?" + urlencode({"q": query, "user": user}))
        return status

    def recommend(self) -> int:
        user = self.random.choice(self.users)
        status, _ = self.api.request("GET", "/api/recommend?" + urlencode({"user": user}))
        return status

    def make_events(self, count: int) -> list[dict[str, Any]]:
        with self._lock:
            first = self.next_event
            self.next_event += count
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        events = []
        for n in range(first, first + count):
            item = self.random.choice(self.items)
            event: dict[str, Any] = {
                "user": self.random.choice(self.users),
                "time": now,
                "event_id": f"soak-{self.run}-{n}",
            }
            if self.random.random() < self.post_share:
                event |= {"type": "post", "text": f"Thinking about {item['title']}: {item['body']}"}
            else:
                event |= {"type": "click", "item": item["id"]}
            events.append(event)
        return events

    def send_events(self, events: list[dict[str, Any]]) -> int:
        try:
            status, body = self.api.request("POST", "/api/events?wait=false", events)
        except (OSError, http.client.HTTPException):
            with self._lock:
                self.uncertain += len(events)
            raise
        refused = {int(e["id"].lstrip("#")) for e in (body or {}).get("errors", [])}
        with self._lock:
            if status != 200:
                self.uncertain += len(events)
                return status
            for position, event in enumerate(events):
                if position in refused:
                    continue
                self.accepted[event["user"]] += 1
                if event["type"] == "click":
                    self.clicks[event["item"]] += 1
        return status


def warm_up(api: Api, items: Sequence[dict[str, Any]], *, run: str) -> None:
    """One search, one recommendation and one post, waited for: the API and the worker load
    their models now, not inside the measured minutes."""
    user = f"soak-{run}-warmup"
    item = items[0]
    post = {"user": user, "type": "post", "text": f"Warming up with {item['title']}"}
    for method, path, body in (
        ("GET", "/api/search?" + urlencode({"q": item["title"], "user": user}), None),
        ("GET", "/api/recommend?" + urlencode({"user": user}), None),
        ("POST", "/api/events?wait=true", [post]),
    ):
        status, answer = api.request(method, path, body)
        if status != 200:
            raise RuntimeError(f"warm-up {method} {path} answered {status}: {answer}")


def run_schedule(
    load: Load,
    *,
    duration_s: float,
    qps: float,
    events_per_s: float,
    probe: Callable[[], float],
) -> float:
    """Open loop: every request is submitted at its moment, whether earlier ones returned or not.

    Returns:
        seconds until the last request was submitted (the load's own length, about
        ``duration_s`` unless this process could not keep up with its schedule).
    """
    schedule: list[tuple[float, str]] = []
    if qps > 0:
        step = 1.0 / qps
        schedule += [
            (i * step, "search" if i % 2 else "recommend") for i in range(int(duration_s * qps))
        ]
    if events_per_s > 0:
        schedule += [
            (i * EVENT_SEND_INTERVAL_S, "events")
            for i in range(int(duration_s / EVENT_SEND_INTERVAL_S))
        ]
    schedule += [
        (PROBE_INTERVAL_S * (i + 1), "probe") for i in range(int(duration_s / PROBE_INTERVAL_S) - 1)
    ]
    schedule.sort()
    per_send = max(1, round(events_per_s * EVENT_SEND_INTERVAL_S))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SENDER_THREADS) as pool:
        for at_s, kind in schedule:
            delay = started + at_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if kind == "search":
                pool.submit(load.timed, "search", at_s, started, load.search)
            elif kind == "recommend":
                pool.submit(load.timed, "recommend", at_s, started, load.recommend)
            elif kind == "events":
                batch = load.make_events(per_send)
                pool.submit(
                    load.timed, "events", at_s, started, lambda b=batch: load.send_events(b)
                )
            else:
                pool.submit(_probe, load.recorder, at_s, probe)
        submitted = time.perf_counter() - started
    return submitted


def _probe(recorder: Recorder, at_s: float, probe: Callable[[], float]) -> None:
    try:
        recorder.add("freshness_click", at_s, probe(), None)
    except TimeoutError as exc:
        recorder.add("freshness_click", at_s, PROBE_TIMEOUT_S * 1000, str(exc))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        recorder.add("freshness_click", at_s, 0.0, type(exc).__name__)


class Probe:
    """A click of a user of its own (one per probe), timed until that user's interests count
    it: probes never wait for each other, and each one is behind whatever queue is there."""

    def __init__(self, api: Api, service: Any, *, run: str, items: Sequence[dict[str, Any]]):
        self.api = api
        self.service = service
        self.run = run
        self.items = items
        self.users: list[str] = []
        self.clicks: Counter[str] = Counter()  # item -> accepted probe clicks
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            number = len(self.users)
            user = f"soak-{self.run}-probe-{number}"
            self.users.append(user)
        item = self.items[number % len(self.items)]["id"]
        event = {"user": user, "type": "click", "item": item, "event_id": f"{user}-click"}
        started = time.perf_counter()
        status, _ = self.api.request("POST", "/api/events?wait=false", [event])
        if status != 200:
            raise ValueError(f"probe refused with http {status}")
        with self._lock:
            self.clicks[item] += 1
        deadline = started + PROBE_TIMEOUT_S
        while applied_counts(self.service, [user])[user] < 1:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"probe not applied within {PROBE_TIMEOUT_S:.0f}s")
            time.sleep(0.01)
        return (time.perf_counter() - started) * 1000


class QueueSampler:
    """The length of the task queues once a second: a backlog that grows is a worker that
    does not keep up with the offered load."""

    def __init__(self, settings: Settings, started: float):
        import redis

        from tasks.app import DEFAULT_QUEUE, ENCODE_QUEUE

        self.redis = redis.Redis.from_url(settings.effective_redis_url, socket_timeout=5)
        self.queues = (DEFAULT_QUEUE, ENCODE_QUEUE)
        self.started = started
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                lengths = {q: int(self.redis.llen(q)) for q in self.queues}
            except OSError:
                continue
            at = round(time.perf_counter() - self.started, 1)
            self.samples.append({"at_s": at, **lengths})

    def __enter__(self) -> QueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --- counting ------------------------------------------------------------------------------------
def applied_counts(service: Any, users: Sequence[str]) -> dict[str, int]:
    """Each user's ``events`` counter, read in real time (0 for a user without a document)."""
    index = service.settings.index_alias("user_interests")
    ids = {service.pseudonym(u): u for u in users}
    counts = dict.fromkeys(users, 0)
    for doc in service.es.mget(index=index, ids=list(ids), source_includes=["events"])["docs"]:
        if doc.get("found"):
            counts[ids[doc["_id"]]] = int((doc.get("_source") or {}).get("events") or 0)
    return counts


def wait_drained(service: Any, load: Load) -> tuple[dict[str, int], float]:
    """Poll the users' counters until they reach what was accepted (or stop changing)."""
    started = time.perf_counter()
    expected = sum(load.accepted.values())
    last_total, unchanged_since = -1, time.perf_counter()
    while True:
        counts = applied_counts(service, load.users)
        total = sum(counts.values())
        if total >= expected:
            return counts, time.perf_counter() - started
        if total != last_total:
            last_total, unchanged_since = total, time.perf_counter()
        waited = time.perf_counter() - started
        if waited > DRAIN_TIMEOUT_S or time.perf_counter() - unchanged_since > 60:
            return counts, waited
        time.sleep(1.0)


def compare(expected: Counter[str], actual: dict[str, int]) -> dict[str, int]:
    keys = set(expected) | set(actual)
    lost = sum(max(0, expected[k] - actual.get(k, 0)) for k in keys)
    doubled = sum(max(0, actual.get(k, 0) - expected[k]) for k in keys)
    return {"expected": sum(expected.values()), "lost": lost, "doubled": doubled}


def item_popularity(service: Any, item_ids: Sequence[str]) -> dict[str, int]:
    docs = service.es.mget(
        index=service.items_alias, ids=list(item_ids), source_includes=["popularity"]
    )["docs"]
    return {
        doc["_id"]: int((doc.get("_source") or {}).get("popularity") or 0)
        for doc in docs
        if doc.get("found")
    }


# --- report --------------------------------------------------------------------------------------
def summarise(samples: Sequence[Sample], window_s: float) -> dict[str, Any]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    kinds: dict[str, Any] = {}
    for kind, group in sorted(by_kind.items()):
        ok = [s.latency_ms for s in group if s.error is None]
        windows: dict[int, list[float]] = defaultdict(list)
        for s in group:
            if s.error is None:
                windows[int(s.at_s // window_s)].append(s.latency_ms)
        kinds[kind] = {
            "requests": len(group),
            "errors": dict(Counter(s.error for s in group if s.error)),
            "latency_ms": percentiles(ok),
            "windows": [
                {"start_s": w * window_s, **percentiles(values)}
                for w, values in sorted(windows.items())
            ],
        }
    return kinds


def plot(kinds: dict[str, Any], queue_samples: Sequence[dict[str, float]], path: Path) -> None:
    """p50 and p99 per request kind per window, and the task queue's length, over the run."""
    from plugin.app.plotting import pyplot

    plt = pyplot()
    rows = len(kinds) + 1
    figure, axes = plt.subplots(rows, 1, figsize=(8, 2.3 * rows), sharex=True)
    for axis, (kind, data) in zip(axes, kinds.items(), strict=False):
        starts = [w["start_s"] for w in data["windows"]]
        axis.plot(starts, [w["p50"] for w in data["windows"]], marker=".", label="p50")
        axis.plot(starts, [w["p99"] for w in data["windows"]], marker=".", label="p99")
        axis.set_ylabel("ms")
        axis.set_title(kind, fontsize=10)
        axis.legend(fontsize=8)
    queue_axis = axes[-1]
    times = [x["at_s"] for x in queue_samples]
    for name in ("default", "encode"):
        queue_axis.plot(times, [x.get(name, 0) for x in queue_samples], label=name)
    queue_axis.set_ylabel("tasks")
    queue_axis.set_title("task queue length", fontsize=10)
    queue_axis.legend(fontsize=8)
    queue_axis.set_xlabel("seconds since the start")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="seconds")
    parser.add_argument("--qps", type=float, default=DEFAULT_QPS, help="searches + recommendations")
    parser.add_argument("--events-per-s", type=float, default=DEFAULT_EVENTS_PER_S)
    parser.add_argument("--post-share", type=float, default=DEFAULT_POST_SHARE)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW_S, help="seconds per point")
    parser.add_argument("--out", type=Path, default=None, help="folder for soak.json and soak.png")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.events_per_s < 0 or args.qps < 0:
        parser.error("--duration must be > 0; --qps and --events-per-s >= 0")
    if not 0 <= args.post_share <= 1:
        parser.error("--post-share must be within [0, 1]")
    from plugin.service import open_service

    settings = Settings.from_env()
    out = args.out or Path(tempfile.mkdtemp(prefix="soak-"))
    out.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    items, source = load_items(args.items, None, run)
    users = [f"soak-{run}-{u}" for u in range(args.users)]
    port = free_port()
    load_before = os.getloadavg()
    with TaskClient(settings) as tasks, open_service(settings, need_encoder=False) as service:
        tasks.require_workers()
        api_process = None
        probe: Probe | None = None
        try:
            tasks.index_items(items, batch_size=settings.encode_batch, progress=False)
            api_process = start_api(port, out / "api.log", key=settings.api_key)
            api = Api(port, key=settings.api_key)
            groups = stack_processes(settings, api_process.pid)
            memory_start = memory(groups)
            recorder = Recorder()
            load = Load(
                api,
                recorder,
                run=run,
                users=users,
                items=items,
                post_share=args.post_share,
                seed=args.seed,
            )
            probe = Probe(api, service, run=run, items=items)
            warm_up(api, items, run=run)
            print(
                f"soak: {args.duration:.0f}s, {args.qps}/s queries, {args.events_per_s}/s events "
                f"({args.post_share:.0%} posts), API on port {port}",
                file=sys.stderr,
            )
            started = time.perf_counter()
            with QueueSampler(settings, started) as queues:
                schedule_s = run_schedule(
                    load,
                    duration_s=args.duration,
                    qps=args.qps,
                    events_per_s=args.events_per_s,
                    probe=probe,
                )
                answered_s = time.perf_counter() - started  # every request answered
                load_after = os.getloadavg()
                memory_end = memory(groups)
                counts, drain_s = wait_drained(service, load)
            flush = tasks.flush_popularity()
            popularity = item_popularity(service, [item["id"] for item in items])
        finally:
            if api_process is not None:
                api_process.terminate()
                api_process.wait(timeout=30)
            probe_users = probe.users if probe is not None else []
            cleanup(
                settings,
                [item["id"] for item in items],
                [*users, *probe_users, f"soak-{run}-warmup"],
            )
    kinds = summarise(recorder.samples, args.window)
    report = {
        "benchmark": "soak",
        "duration_s": args.duration,
        "schedule_seconds": round(schedule_s, 1),
        "all_answered_seconds": round(answered_s, 1),
        "offered": {
            "queries_per_s": args.qps,
            "events_per_s": args.events_per_s,
            "post_share": args.post_share,
        },
        "users": args.users,
        "items": args.items,
        "items_source": source,
        "model": settings.model,
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before[0], "end_of_load": round(load_after[0], 2)},
        "events": {
            **compare(load.accepted, counts),
            "uncertain": load.uncertain,
            "sent": load.next_event,
            "drain_seconds": round(drain_s, 1),
        },
        # The probe clicked soak items too: they are part of what popularity must show.
        "popularity": compare(load.clicks + probe.clicks, popularity),
        "queue_length": {
            "max": {q: max((x[q] for x in queues.samples), default=0) for q in queues.queues},
            "at_end_of_schedule": next(
                (
                    {q: x[q] for q in queues.queues}
                    for x in queues.samples
                    if x["at_s"] >= schedule_s
                ),
                {},
            ),
            "samples": queues.samples,
        },
        "popularity_flush": flush,
        "requests": kinds,
        "memory_mib": {"start": memory_start, "end": memory_end},
        "plot": str(out / "soak.png"),
    }
    plot(kinds, queues.samples, out / "soak.png")
    (out / "soak.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(
        f"  {'kind':<16} {'requests':>8} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}", file=sys.stderr
    )
    for kind, data in kinds.items():
        errors = sum(data["errors"].values())
        latency = data["latency_ms"]
        print(
            f"  {kind:<16} {data['requests']:>8} {errors:>7} "
            f"{latency['p50']:>8} {latency['p99']:>8}",
            file=sys.stderr,
        )
    events, pop = report["events"], report["popularity"]
    print(
        f"  events: {events['expected']} accepted, {events['lost']} lost, {events['doubled']} "
        f"doubled; popularity: {pop['lost']} lost, {pop['doubled']} doubled",
        file=sys.stderr,
    )
    print(json.dumps(report))
    return 0 if events["lost"] == events["doubled"] == pop["lost"] == pop["doubled"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
