"""The golden cases of the blend scorer, shared with the Java engine's JUnit tests: the
portable mode's mirror (plugin/blend.py) and the native scorer are held to the same numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from plugin.blend import evaluate

GOLDEN = Path(__file__).parents[2] / "engine/src/test/resources/golden/blend-cases.json"
CASES: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))


def item_source(doc: dict[str, Any]) -> dict[str, Any]:
    """The case's document as an item ``_source``."""
    renamed = {"categories": "category"}
    return {renamed.get(k, k): v for k, v in doc.items() if k != "bm25"}


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda case: case["name"])
def test_the_python_mirror_gives_the_golden_components(case: dict[str, Any]) -> None:
    breakdown = evaluate(
        item_source(case["doc"]), params=case["params"], bm25_score=case["doc"].get("bm25", 0.0)
    )
    expected = case["expected"]
    assert set(breakdown.components) == set(expected["components"])
    for name, value in expected["components"].items():
        assert breakdown.components[name] == pytest.approx(value, abs=CASES["tolerance"]), name
    assert breakdown.cluster == expected["cluster"]


def expected_of(name: str) -> dict[str, float]:
    case = next(c for c in CASES["cases"] if c["name"] == name)
    return case["expected"]["components"]


def test_the_golden_file_agrees_with_the_formulas_worked_by_hand() -> None:
    """The file was generated once; these cases are checked against closed forms."""
    assert expected_of("bm25-default-k")["bm25"] == pytest.approx(3 / 8)
    # u = 0.5 (1,0) + 0.5 (0,1) (the default short_term_weight), cos with (0.6, 0.8).
    assert expected_of("user-vectors-default-short-term-weight")["interest"] == pytest.approx(
        (0.6 + 0.8) / math.sqrt(2)
    )
    assert expected_of("freshness-a-week-old")["freshness"] == pytest.approx(2**-0.5)
    assert expected_of("popularity-default-norm")["popularity"] == pytest.approx(
        math.log(11) / math.log(1001)
    )
    assert expected_of("collaborative")["collaborative"] == pytest.approx(0.96)
    assert expected_of("category-best-clamped")["category"] == 1.0
    assert expected_of("neighbours-above-one-clamped")["neighbours"] == 2.0
    assert expected_of("neighbours-weight-zero")["neighbours"] == 0.0


def test_an_absent_now_measures_freshness_from_the_clock() -> None:
    import time

    now = time.time() * 1000
    fresh = evaluate({"created_at": now - 1000}, params={"weights": {"freshness": 1}})
    assert fresh.components["freshness"] == pytest.approx(1.0, abs=1e-6)
