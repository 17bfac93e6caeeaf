"""`interest demo`: index a catalogue, replay users' events in time order, show interests move.

A composition root like the CLI: it drives the workers through tasks.client and reads the
results through the service, printing a compact table and writing a short report.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from plugin.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class DemoStep:
    time: str
    user: str
    event: str
    strongest: str
    top: str


@dataclass
class DemoRun:
    steps: list[DemoStep] = field(default_factory=list)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    searches: list[dict[str, Any]] = field(default_factory=list)


def load_sample() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The built-in bilingual sample: items and events (events carry ``days_ago``)."""
    folder = resources.files("plugin.app") / "data"
    items = [
        json.loads(line)
        for line in (folder / "sample_items.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    events = [
        json.loads(line)
        for line in (folder / "sample_events.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    return items, events


def _timed_events(events: Sequence[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Turn ``days_ago`` into absolute times and sort oldest first."""
    timed = []
    for event in events:
        copy = {k: v for k, v in event.items() if k != "days_ago"}
        copy["time"] = (now - timedelta(days=float(event.get("days_ago", 0)))).isoformat()
        timed.append(copy)
    return sorted(timed, key=lambda e: e["time"])


def _describe(event: dict[str, Any]) -> str:
    what = event.get("text") or f"item {event.get('item')}"
    return f"{event['type']}: {what}"[:48]


def run_demo(
    settings: Settings,
    *,
    items: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    out_dir: Path | None = None,
    searches: Sequence[tuple[str, str]] = (
        ("电影", "xiaoming"),
        ("电影", "alice"),
        ("new", "alice"),
        ("new", "bob"),
    ),
    echo: bool = True,
) -> DemoRun:
    """Run the demo on the running stack; return what it printed as data."""
    from indexer.interests import from_document, summary
    from indexer.segment import segmented
    from plugin.service import open_service, result_to_json
    from tasks.client import TaskClient

    sample_items, sample_events = load_sample()
    items = sample_items if items is None else items
    events = _timed_events(sample_events if events is None else events, datetime.now(UTC))
    say = _printer(echo)
    run = DemoRun()
    with open_service(settings, segmenter=segmented) as service, TaskClient(settings) as tasks:
        service.init_indices()
        say(f"indexing {len(items)} items through the workers ...")
        indexed = tasks.index_items(items, batch_size=settings.encode_batch, progress=echo)
        say(
            f"indexed {indexed['indexed']} items in {indexed['seconds']:.1f}s "
            f"({len(indexed['errors'])} errors)"
        )
        calibrated = tasks.calibrate()  # as the daily beat task would
        if "skipped" in calibrated:
            say(f"no similarity calibration: {calibrated['skipped']}")
        else:
            items_n, scale = calibrated["items"], calibrated["scale"]
            say(f"similarity calibration of {items_n} items: scale {scale}")
        say(f"replaying {len(events)} events in time order ...\n")
        say(f"{'time':16} {'user':9} {'event':48} {'strongest interest':22} top recommendation")
        for event in events:
            result = tasks.record_events([event], batch_size=1, wait=True)
            if result["errors"]:
                logger.warning("event refused: %s", result["errors"][0]["error"])
                continue
            user = str(event["user"])
            state = summary(
                from_document(service.interest_document(user) or {}), user=user, now_ms=_now_ms()
            )
            strongest = state["clusters"][0]["label"] if state["clusters"] else "-"
            recs = service.recommend(user, size=3)
            top = recs.hits[0].title if recs.hits else "-"
            step = DemoStep(event["time"][:16], user, _describe(event), strongest[:22], top[:40])
            run.steps.append(step)
            say(f"{step.time:16} {step.user:9} {step.event:48} {step.strongest:22} {step.top}")
        say("")
        for user in sorted({str(e["user"]) for e in events}):
            state = summary(
                from_document(service.interest_document(user) or {}), user=user, now_ms=_now_ms()
            )
            final = result_to_json(service.recommend(user, size=5))
            run.final[user] = {"interests": state, "recommendations": final}
            labels = ", ".join(f"{c['label']} ({c['weight']:.2f})" for c in state["clusters"][:3])
            say(f"{user}: interests {labels}")
            for hit in final["hits"]:
                say(f"    {hit['score']:.3f}  {hit['title'][:60]}  - {hit['reason']}")
        say("")
        for query, user in searches:
            result = result_to_json(service.search(query, user=user, size=3))
            run.searches.append({"query": query, "user": user, **result})
            titles = " | ".join(h["title"][:30] for h in result["hits"])
            say(f"search {query!r} for {user}: {titles}")
    if out_dir is not None:
        report = write_report(run, out_dir)
        say(f"\nreport: {report}")
    return run


def write_report(run: DemoRun, out_dir: Path) -> Path:
    """A Markdown report with the replay table, final interests and a plot of interest weights."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# dynamic-interest demo", "", f"Run at {datetime.now(UTC).isoformat()}.", ""]
    lines += [
        "| time | user | event | strongest interest | top recommendation |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {s.time} | {s.user} | {s.event} | {s.strongest} | {s.top} |" for s in run.steps]
    lines.append("")
    for user, data in run.final.items():
        lines.append(f"## {user}")
        for cluster in data["interests"]["clusters"]:
            lines.append(f"- interest **{cluster['label']}**: weight {cluster['weight']:.3f}")
        for hit in data["recommendations"]["hits"]:
            lines.append(f"- {hit['title']} ({hit['score']:.3f}): {hit['reason']}")
        lines.append("")
    plot = _plot(run, out_dir / "interests.png")
    if plot:
        lines += ["![interest weights](interests.png)", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    (out_dir / "demo.json").write_text(
        json.dumps(
            {"final": run.final, "searches": run.searches},
            ensure_ascii=False,
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    return report


def _plot(run: DemoRun, path: Path) -> bool:
    try:
        from plugin.app.plotting import pyplot

        plt = pyplot()
    except ImportError:
        return False
    users = list(run.final)
    if not users:
        return False
    fig, axes = plt.subplots(1, len(users), figsize=(4 * len(users), 3), squeeze=False)
    for axis, user in zip(axes[0], users, strict=True):
        clusters = run.final[user]["interests"]["clusters"][:5]
        axis.barh([c["label"][:18] for c in clusters][::-1], [c["weight"] for c in clusters][::-1])
        axis.set_title(user)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _now_ms() -> int:
    return int(time.time() * 1000)


def _printer(echo: bool):  # type: ignore[no-untyped-def]
    def say(text: str) -> None:
        if echo:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    return say
