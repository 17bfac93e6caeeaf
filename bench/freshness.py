"""Freshness: time from an event being accepted to the user's next recommendation reflecting it.

Run ``interest up`` first with the same ``INTEREST_*`` environment, then::

    python -m bench.freshness --events 30

It indexes a few hundred MovieLens items through the pipeline, gives each bench user one
warm-up click (waited for), then, one at a time, sends an event with
``TaskClient.record_events(..., wait=False)`` and starts the clock when that call returns. It
polls (every ``--poll-ms``) until (a) the user's interest document (a realtime GET, as
``PersonalizedSearch.profile`` reads it) shows the ``events`` counter incremented, and (b)
``PersonalizedSearch.recommend`` reflects it: the clicked item (or, for a post, nothing new
is required beyond the counter) is now among the profile's recent items and therefore absent
from the recommendations. Clicks (no text) and posts (text the worker encodes) are measured
separately. Everything it writes is removed at the end. A table goes to stderr, JSON to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from bench.corpus import percentiles
from bench.ingest import cleanup, load_items
from plugin.service import PersonalizedSearch, open_service
from plugin.settings import Settings
from stack.control import ping_workers
from tasks.client import TaskClient

DEFAULT_EVENTS = 30
DEFAULT_ITEMS = 300
DEFAULT_USERS = 5
DEFAULT_POLL_MS = 10
TIMEOUT_S = 30.0


def events_count(service: PersonalizedSearch, user: str) -> int:
    doc = service.interest_document(user)
    return int((doc or {}).get("events", 0))


def wait_until_fresh(
    service: PersonalizedSearch,
    user: str,
    *,
    before: int,
    item: str | None,
    poll_s: float,
    started: float,
) -> dict[str, float]:
    """Poll until the counter moved and a recommendation reflects the event; ms from start."""
    counter_ms = None
    while time.perf_counter() - started < TIMEOUT_S:
        if counter_ms is None and events_count(service, user) > before:
            counter_ms = (time.perf_counter() - started) * 1000
        if counter_ms is not None:
            result = service.recommend(user, size=10, mode="approx")
            ids = {hit.id for hit in result.hits}
            profile = service.profile(user)
            if item is None or (
                item not in ids and profile is not None and item in profile.recent_items
            ):
                return {
                    "counter_ms": counter_ms,
                    "recommend_ms": (time.perf_counter() - started) * 1000,
                }
        time.sleep(poll_s)
    raise RuntimeError(f"event of {user} not reflected within {TIMEOUT_S}s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="per kind")
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--poll-ms", type=float, default=DEFAULT_POLL_MS)
    parser.add_argument("--kinds", nargs="+", default=["click", "post"])
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:8]
    load_before = os.getloadavg()
    items, source = load_items(args.items, None, run)
    users = [f"fresh-{run}-{u}" for u in range(args.users)]
    results: dict[str, Any] = {}
    with TaskClient(settings) as tasks, open_service(settings, need_encoder=False) as service:
        tasks.require_workers()
        workers = ping_workers(settings)
        service.init_indices()
        try:
            tasks.index_items(items, batch_size=settings.encode_batch, progress=False)
            warm = [
                {"user": u, "type": "click", "item": items[i]["id"]} for i, u in enumerate(users)
            ]
            tasks.record_events(warm, wait=True)
            for kind in args.kinds:
                counter, recommend, accept = [], [], []
                for n in range(args.events):
                    user = users[n % len(users)]
                    item = items[(len(users) + n * 7 + len(results) * 3) % len(items)]
                    before = events_count(service, user)
                    event: dict[str, Any] = {"user": user, "type": kind}
                    if kind == "click":
                        event["item"] = item["id"]
                    else:
                        event["text"] = f"Just watched {item['title']}: {item['body']}"
                    sent = time.perf_counter()
                    tasks.record_events([event], wait=False)
                    started = time.perf_counter()
                    accept.append((started - sent) * 1000)
                    timing = wait_until_fresh(
                        service,
                        user,
                        before=before,
                        item=item["id"] if kind == "click" else None,
                        poll_s=args.poll_ms / 1000,
                        started=started,
                    )
                    counter.append(timing["counter_ms"])
                    recommend.append(timing["recommend_ms"])
                results[kind] = {
                    "accept_ms": percentiles(accept),
                    "to_counter_ms": percentiles(counter),
                    "to_recommendation_ms": percentiles(recommend),
                }
                print(f"  {kind}: {results[kind]}", file=sys.stderr)
        finally:
            cleanup(settings, [item["id"] for item in items], users)
    report = {
        "benchmark": "freshness",
        "items": len(items),
        "source": source,
        "model": settings.model,
        "events_per_kind": args.events,
        "poll_ms": args.poll_ms,
        "workers": workers,
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before[0], "after": round(os.getloadavg()[0], 2)},
        "target_p95_ms": 1000,
        "results": results,
    }
    print_table(report)
    print(json.dumps(report))
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(f"freshness: {report['model']}, load {report['load_average_1m']}", file=sys.stderr)
    print(f"  {'kind':<8} {'what':<22} {'p50':>8} {'p95':>8} {'p99':>8}", file=sys.stderr)
    for kind, result in report["results"].items():
        for what in ("accept_ms", "to_counter_ms", "to_recommendation_ms"):
            s = result[what]
            print(
                f"  {kind:<8} {what:<22} {s['p50']:>8} {s['p95']:>8} {s['p99']:>8}",
                file=sys.stderr,
            )


if __name__ == "__main__":
    sys.exit(main())
