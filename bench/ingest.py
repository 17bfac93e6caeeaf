"""Write-path throughput on the running stack: raw encode vs the Celery pipeline, and events/s.

Run ``interest up`` first with the same ``INTEREST_*`` environment, then::

    python -m bench.ingest --items 500

In one run it measures (a) ``encoder.encode`` on the items' texts in batches of
``encode_batch``, in this process; (b) ``TaskClient.index_items``: Celery, the worker's
cleaning, segmentation, encoding and ``_bulk``, until searchable; (c) b / a; then one
diagnostic pass that sums the worker's phase timings; and (d) events applied per second
through ``TaskClient.record_events`` with and without text. Medians over ``--repeat`` runs.
Everything it writes (items, users, events) is removed at the end. A table goes to
stderr, one JSON object to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from elasticsearch.helpers import bulk

from indexer.documents import prepare_item
from plugin.encoder import load_encoder
from plugin.service import open_service
from plugin.settings import REPO_ROOT, Settings
from stack.control import ping_workers
from tasks.client import RESULT_TIMEOUT_S, TaskClient

MOVIELENS = Path("movielens-ml-latest-small") / "movies.csv"
DATA_DIRS = (REPO_ROOT / "shared" / "data", REPO_ROOT.parent / "shared" / "data")
DEFAULT_ITEMS = 500
DEFAULT_EVENTS = 200
DEFAULT_USERS = 20
DEFAULT_REPEAT = 3
WARMUP_ITEMS = 8
SYNTHETIC_TOPICS = (
    ("football", "a late goal in the cup final"),
    ("cooking", "a slow-cooked tomato sauce"),
    ("astronomy", "the rings of Saturn through a small telescope"),
    ("gardening", "pruning roses in early spring"),
    ("finance", "index funds and a long horizon"),
)


def load_items(count: int, data_dir: Path | None, run: str) -> tuple[list[dict[str, Any]], str]:
    """``count`` items: MovieLens titles and genres when the data is there, else synthetic."""
    movies = _movies_file(data_dir)
    if movies is not None:
        with movies.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))[:count]
        items = [
            {
                "id": f"bench-{run}-{row['movieId']}",
                "title": row["title"].strip(),
                "body": "Genres: " + ", ".join(row["genres"].split("|")),
                "category": row["genres"].split("|")[0],
            }
            for row in rows
        ]
        if len(items) == count:
            return items, str(movies)
    items = [
        {
            "id": f"bench-{run}-s{i}",
            "title": f"Notes on {topic} #{i}",
            "body": f"Everything about {detail}, part {i}.",
            "category": topic,
        }
        for i in range(count)
        for topic, detail in [SYNTHETIC_TOPICS[i % len(SYNTHETIC_TOPICS)]]
    ]
    return items, "synthetic"


def _movies_file(data_dir: Path | None) -> Path | None:
    for folder in [data_dir] if data_dir else DATA_DIRS:
        if (folder / MOVIELENS).is_file():
            return folder / MOVIELENS
    return None


def with_ids(items: Sequence[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """Copies with fresh ids, so each repetition inserts rather than updates."""
    return [{**item, "id": f"{item['id']}-{tag}"} for item in items]


def median_rate(runs: Sequence[dict[str, float]]) -> float:
    return round(statistics.median(run["per_s"] for run in runs), 2)


def timed(count: int, action: Callable[[], Any], label: str) -> tuple[dict[str, float], Any]:
    """Run ``action``; return its rate (``count`` per second) and what it returned."""
    started = time.perf_counter()
    outcome = action()
    seconds = time.perf_counter() - started
    rate = {"seconds": round(seconds, 3), "per_s": round(count / seconds, 2)}
    print(f"  {label}: {count} in {seconds:.2f}s ({rate['per_s']}/s)", file=sys.stderr)
    return rate, outcome


def make_raw_encode(
    settings: Settings, texts: Sequence[str], *, kind: str = "passage"
) -> Callable[[], None]:
    """Raw encode of ``texts`` in this process, in batches of ``encode_batch`` (warmed up)."""
    encoder = load_encoder(settings)
    encoder.encode(list(texts[:WARMUP_ITEMS]), kind=kind)
    batch = settings.encode_batch

    def encode_all() -> None:
        for start in range(0, len(texts), batch):
            encoder.encode(list(texts[start : start + batch]), kind=kind)

    return encode_all


def pipeline_phases(
    tasks: TaskClient, items: Sequence[dict[str, Any]], batch: int
) -> dict[str, float]:
    """One pass sent like ``index_items``, summing the worker's own phase timings."""
    started = time.perf_counter()
    pending = [
        tasks.send("tasks.indexing.index_items", list(items[i : i + batch]))
        for i in range(0, len(items), batch)
    ]
    outcomes = [result.get(timeout=RESULT_TIMEOUT_S) for result in pending]
    tasks.refresh("items")
    wall = time.perf_counter() - started
    totals = {"prepare_s": 0.0, "encode_s": 0.0, "write_s": 0.0}
    for outcome in outcomes:
        for name in totals:
            totals[name] += outcome.get("phases", {}).get(name, 0.0)
    worker = sum(outcome["seconds"] for outcome in outcomes)
    return {
        **{name: round(value, 3) for name, value in totals.items()},
        "worker_total_s": round(worker, 3),
        "client_wall_s": round(wall, 3),
        "outside_worker_s": round(wall - worker, 3),
        "batches": len(outcomes),
    }


def make_events(
    users: Sequence[str], items: Sequence[dict[str, Any]], count: int, *, text: bool
) -> list[dict[str, Any]]:
    """``count`` events spread over ``users``, one minute apart: posts or clicks."""
    start = datetime.now(UTC) - timedelta(minutes=count + 1)
    events = []
    for i in range(count):
        item = items[i % len(items)]
        event: dict[str, Any] = {
            "user": users[i % len(users)],
            "time": (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
        }
        if text:
            event |= {"type": "post", "text": f"Just watched {item['title']}: {item['body']}"}
        else:
            event |= {"type": "click", "item": item["id"]}
        events.append(event)
    return events


def bench_events(
    tasks: TaskClient,
    items: Sequence[dict[str, Any]],
    *,
    run: str,
    count: int,
    user_count: int,
    repeat: int,
    created_users: list[str],
    batch_size: int = 500,
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {"with_text": [], "without_text": []}
    for rep in range(repeat):
        for kind in results:
            users = [f"bench-{run}-{kind}-{rep}-{u}" for u in range(user_count)]
            created_users.extend(users)
            events = make_events(users, items, count, text=kind == "with_text")
            send = partial(tasks.record_events, events, batch_size=batch_size, wait=True)
            run_timing, outcome = timed(count, send, f"events {kind}")
            if outcome["applied"] != count or outcome["errors"]:
                raise RuntimeError(f"events not all applied: {outcome}")
            results[kind].append(run_timing)
    return results


def cleanup(settings: Settings, item_ids: Sequence[str], users: Sequence[str]) -> None:
    with open_service(settings, need_encoder=False) as service:
        for user in users:
            service.forget(user)
        # By id: the embedded node has no reindex module, so no _delete_by_query.
        index = settings.index_alias("items")
        bulk(
            service.es,
            ({"_op_type": "delete", "_index": index, "_id": i} for i in item_ids),
            raise_on_error=False,
            refresh=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--data-dir", type=Path, default=None, help="the shared data folder")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:8]
    load_before = os.getloadavg()
    items, source = load_items(args.items, args.data_dir, run)
    texts = [prepare_item(item).embed_text for item in items]
    written: list[str] = []
    users: list[str] = []
    with TaskClient(settings) as tasks:
        tasks.require_workers()
        workers = ping_workers(settings)
        try:
            raw_encode = make_raw_encode(settings, texts)
            warmup = with_ids(items[:WARMUP_ITEMS], "warmup")
            written += [item["id"] for item in warmup]
            tasks.index_items(warmup, batch_size=settings.encode_batch, progress=False)
            # Interleaved, so both see the same machine load (others may share the cores).
            encode_runs, pipeline_runs = [], []
            for rep in range(args.repeat):
                encode_runs.append(timed(len(texts), raw_encode, "raw encode")[0])
                batch = with_ids(items, f"r{rep}")
                written += [item["id"] for item in batch]
                index = partial(
                    tasks.index_items, batch, batch_size=settings.encode_batch, progress=False
                )
                pipeline_runs.append(timed(len(batch), index, "index_items pipeline")[0])
            phase_batch = with_ids(items, "phases")
            written += [item["id"] for item in phase_batch]
            phases = pipeline_phases(tasks, phase_batch, settings.encode_batch)
            event_items = with_ids(items, "r0")
            event_runs = bench_events(
                tasks,
                event_items,
                run=run,
                count=args.events,
                user_count=args.users,
                repeat=args.repeat,
                created_users=users,
            )
        finally:
            cleanup(settings, written, users)
    encode = median_rate(encode_runs)
    pipeline = median_rate(pipeline_runs)
    report = {
        "benchmark": "ingest",
        "items": len(items),
        "source": source,
        "model": settings.model,
        "encode_batch": settings.encode_batch,
        "encoder_threads": settings.encoder_threads or os.cpu_count(),
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "workers": workers,
        "repeat": args.repeat,
        "encode_texts_per_s": encode,
        "pipeline_items_per_s": pipeline,
        "pipeline_over_encode": round(pipeline / encode, 3),
        "pipeline_phases_s": phases,
        "events": args.events,
        "event_users": args.users,
        "events_per_s": {kind: median_rate(runs) for kind, runs in event_runs.items()},
        "runs": {"encode": encode_runs, "pipeline": pipeline_runs, "events": event_runs},
    }
    print_table(report)
    print(json.dumps(report))
    return 0


def print_table(report: dict[str, Any]) -> None:
    phases = report["pipeline_phases_s"]
    rows = [
        ("raw encode (texts/s)", report["encode_texts_per_s"]),
        ("index_items pipeline (items/s)", report["pipeline_items_per_s"]),
        ("pipeline / encode", report["pipeline_over_encode"]),
        ("  worker prepare / encode / write (s)", "{prepare_s} / {encode_s} / {write_s}"),
        ("  outside the worker (s)", phases["outside_worker_s"]),
        ("events/s, posts with text", report["events_per_s"]["with_text"]),
        ("events/s, clicks without text", report["events_per_s"]["without_text"]),
    ]
    title = f"ingest: {report['items']} items from {report['source']}, {report['model']}"
    print(title, file=sys.stderr)
    for name, value in rows:
        shown = value.format(**phases) if isinstance(value, str) else value
        print(f"  {name:<40} {shown}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
