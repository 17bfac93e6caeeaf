"""`interest demo` end to end on the real stack, with a small part of the built-in sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugin.app.demo import load_sample, run_demo
from plugin.settings import Settings

DEMO_USER = "xiaoming"


def small_sample() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The film and outdoor items, and xiaoming's two posts (weather, then a film)."""
    items, events = load_sample()
    chosen = [item for item in items if item["id"].split("-")[0] in ("film", "outdoor")]
    return chosen, [event for event in events if event["user"] == DEMO_USER]


def test_run_demo_small_sample_follows_xiaoming_to_film(
    settings: Settings, service: Any, tmp_path: Path
) -> None:
    items, events = small_sample()
    assert len(items) == 10 and len(events) == 2
    service.forget(DEMO_USER)  # another test may have written this user
    run = run_demo(
        settings,
        items=items,
        events=events,
        out_dir=tmp_path,
        searches=(("电影", DEMO_USER),),
        echo=False,
    )
    assert [step.user for step in run.steps] == [DEMO_USER, DEMO_USER]
    assert (tmp_path / "report.md").is_file()
    assert (tmp_path / "demo.json").is_file()
    clusters = run.final[DEMO_USER]["interests"]["clusters"]
    assert clusters, "xiaoming has no interest after two posts"
    assert "电影" in clusters[0]["label"], clusters
    recommended = [hit["id"] for hit in run.final[DEMO_USER]["recommendations"]["hits"]]
    assert recommended and recommended[0].startswith("film-"), recommended
    assert run.searches[0]["hits"], "the search for 电影 found nothing"
