"""True reasons and the calibrated similarity, on the real stack with the built-in sample.

The 30 sample items go through the workers, the calibration is fitted by the worker task (as
the daily beat would), and the sample's users replay their events. Then every item is ranked
for every user: a reason names an interest only when that interest clearly matched (strength
at least ``REASON_MIN_STRENGTH``), and an item of a topic the user never touched (alice: tech
and sports, never food) never gets an interest reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from plugin.app.demo import _timed_events, load_sample
from plugin.queries.limits import REASON_MIN_STRENGTH

INTEREST_REASON = "because of your interest in"


@pytest.fixture(scope="module")
def replayed(tasks: Any, service: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    items, events = load_sample()
    indexed = tasks.index_items(items, batch_size=16)
    assert indexed["errors"] == [], indexed["errors"]
    calibration = tasks.calibrate()
    assert "skipped" not in calibration, calibration
    timed = _timed_events(events, datetime.now(UTC))
    result = tasks.record_events(timed, batch_size=50, wait=True)
    assert result["errors"] == [], result["errors"]
    return {"items": {item["id"]: item for item in items}, "calibration": calibration}


def test_the_worker_fits_the_calibration_and_the_blend_uses_it(
    replayed: dict[str, Any], service: Any
) -> None:
    calibration = replayed["calibration"]
    assert calibration["items"] == len(replayed["items"])
    assert 0.0 <= calibration["floor"] < calibration["scale"] <= 1.0
    config = service.blend_config(fresh=True)
    assert config.centre is not None and len(config.centre) == calibration["dims"]
    assert config.similarity_scale == pytest.approx(calibration["scale"])


@pytest.fixture(scope="module")
def alice(replayed: dict[str, Any], service: Any) -> tuple[Any, dict[str, float]]:
    """Every item ranked for alice, and the weights that scored them."""
    ranked = service.recommend("alice", size=30, mode="exact")
    assert len(ranked.hits) > 10
    return ranked, service.blend_config().weights.as_dict()


def test_an_unrelated_item_never_gets_an_interest_reason(
    replayed: dict[str, Any], alice: tuple[Any, dict[str, float]]
) -> None:
    items = replayed["items"]
    ranked, weights = alice
    for hit in ranked.hits:
        category = items[hit.id].get("category")
        if category == "food":  # alice liked, clicked and posted tech and sports only
            assert INTEREST_REASON not in hit.reason, (hit.title, hit.reason, hit.components)
        if INTEREST_REASON in hit.reason:
            strength = hit.components["interest"] / weights["interest"]
            assert strength >= REASON_MIN_STRENGTH, (hit.title, strength)
    # Her interests do give reasons: the rule is not simply "never".
    assert any(INTEREST_REASON in hit.reason for hit in ranked.hits), [
        (h.title, h.reason) for h in ranked.hits
    ]


def test_calibration_separates_a_users_topic_from_an_unrelated_one(
    replayed: dict[str, Any], alice: tuple[Any, dict[str, float]]
) -> None:
    """alice's interest component: tech and sports items far above food items."""
    items = replayed["items"]
    ranked, weights = alice
    strength: dict[str, list[float]] = {}
    for hit in ranked.hits:
        category = str(items[hit.id].get("category"))
        strength.setdefault(category, []).append(hit.components["interest"] / weights["interest"])
    mine = [s for c in ("tech", "sports") for s in strength.get(c, [])]
    food = strength.get("food", [])
    assert mine and food
    assert sum(mine) / len(mine) > 2 * max(food, default=0.0) + 0.1, strength
