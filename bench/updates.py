"""Interest updates: events applied per second per worker, with and without text to encode.

Run ``interest up`` first with the same ``INTEREST_*`` environment, then::

    python -m bench.updates --events 1000 --users 100

It reuses ``bench.ingest``'s events part (``bench_events``: ``TaskClient.record_events`` with
``wait=True``, posts with text vs clicks without, alternating in one run so both see the same
load) on items it indexes first, and divides by the worker processes that answered. The posts'
texts are then encoded in this process alone (``raw_encode_per_s``), the rate posts are held
to (``posts_vs_raw_encode``, target 0.9). Everything it writes is removed at the end. A table
goes to stderr, one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import uuid
from collections.abc import Sequence

from bench.ingest import (
    bench_events,
    cleanup,
    load_items,
    make_events,
    make_raw_encode,
    median_rate,
    timed,
)
from plugin.settings import Settings
from stack.control import ping_workers
from tasks.client import TaskClient

DEFAULT_ITEMS = 200
DEFAULT_EVENTS = 200
DEFAULT_USERS = 20
DEFAULT_REPEAT = 3
DEFAULT_BATCH = 500


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.updates", description=__doc__)
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help="events per task (one fold per user)"
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:8]
    load_before = os.getloadavg()
    items, source = load_items(args.items, None, run)
    users: list[str] = []
    with TaskClient(settings) as tasks:
        tasks.require_workers()
        workers = ping_workers(settings)
        processes = max(1, len(workers)) * settings.worker_concurrency
        try:
            tasks.index_items(items, batch_size=settings.encode_batch, progress=False)
            runs = bench_events(
                tasks,
                items,
                run=run,
                count=args.events,
                user_count=args.users,
                repeat=args.repeat,
                created_users=users,
                batch_size=args.batch,
            )
        finally:
            cleanup(settings, [item["id"] for item in items], users)
    # The posts' texts encoded here, with nothing else to do: what the post rate is held to.
    texts = [e["text"] for e in make_events(["raw"], items, args.events, text=True)]
    raw_encode = make_raw_encode(settings, texts, kind="query")
    raw_runs = [timed(len(texts), raw_encode, "raw encode")[0] for _ in range(args.repeat)]
    rates = {kind: median_rate(kind_runs) for kind, kind_runs in runs.items()}
    raw_rate = median_rate(raw_runs)
    report = {
        "benchmark": "updates",
        "events": args.events,
        "users": args.users,
        "repeat": args.repeat,
        "batch": args.batch,
        "items_source": source,
        "model": settings.model,
        "workers": workers,
        "worker_processes": processes,
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before[0], "after": round(os.getloadavg()[0], 2)},
        "events_per_s": rates,
        "events_per_s_per_worker": {k: round(v / processes, 2) for k, v in rates.items()},
        "raw_encode_per_s": raw_rate,
        # Target >= 0.9: a post costs little beyond encoding its text.
        "posts_vs_raw_encode": round(rates["with_text"] / processes / raw_rate, 3),
        "ms_per_event": {
            kind: round(1000 * statistics.median(r["seconds"] for r in kind_runs) / args.events, 2)
            for kind, kind_runs in runs.items()
        },
        "runs": runs,
        "raw_encode_runs": raw_runs,
    }
    print(f"updates: {report['model']}, {processes} worker process(es)", file=sys.stderr)
    for kind, rate in rates.items():
        print(
            f"  {kind:<14} {rate:>8} events/s  {report['ms_per_event'][kind]:>7} ms/event",
            file=sys.stderr,
        )
    print(
        f"  raw encode     {raw_rate:>8} texts/s   posts / raw encode "
        f"{report['posts_vs_raw_encode']}",
        file=sys.stderr,
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
