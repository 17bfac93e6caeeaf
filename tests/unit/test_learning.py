"""Learned blend weights: clicks that depend only on freshness give freshness the most weight."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plugin.errors import InputError
from plugin.learning import (
    Impression,
    fit_weights,
    impressions_from_log,
    propose_weights,
    ranking_metrics,
    raw_components,
    split_by_request,
)
from plugin.types import WEIGHT_NAMES
from plugin.weight_fit import read_log_file
from plugin.weights import DEFAULT_WEIGHTS

LOGGED_WEIGHTS = DEFAULT_WEIGHTS.as_dict()


def synthetic_log(
    *, requests: int = 300, hits: int = 20, seed: int = 3, weights_version: int = 1
) -> list[dict[str, Any]]:
    """Feedback documents where a click depends only on the hit's raw freshness.

    Components are logged weighted by the default blend (as the service logs them).
    """
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = []
    for r in range(requests):
        request_id = f"r{r}"
        for rank in range(1, hits + 1):
            raw = {name: rng.random() for name in WEIGHT_NAMES}
            components = {name: LOGGED_WEIGHTS[name] * raw[name] for name in WEIGHT_NAMES}
            item = f"i{r}-{rank}"
            docs.append(
                {
                    "kind": "impression",
                    "request_id": request_id,
                    "user": f"u{r % 20}",
                    "item": item,
                    "rank": rank,
                    "components": components,
                    "weights_version": weights_version,
                }
            )
            p_click = 1 / (1 + math.exp(-10 * (raw["freshness"] - 0.75)))
            if rng.random() < p_click:
                docs.append({"kind": "click", "request_id": request_id, "item": item})
    return docs


def _impressions(docs: list[dict[str, Any]]) -> list[Impression]:
    return impressions_from_log(docs, weights_by_version={1: LOGGED_WEIGHTS}, current={})


def test_raw_components_divides_by_weight_and_zero_weight_gives_zero() -> None:
    weights = {**LOGGED_WEIGHTS, "bm25": 0.35, "freshness": 0.08, "collaborative": 0.0}
    raw = raw_components({"bm25": 0.2, "freshness": 0.04, "collaborative": 0.3}, weights)
    assert raw["bm25"] == pytest.approx(0.2 / 0.35)
    assert raw["freshness"] == pytest.approx(0.5)
    assert raw["collaborative"] == 0.0 and raw["interest"] == 0.0


def test_impressions_of_versions_gone_from_the_history_are_left_out_and_counted() -> None:
    docs = synthetic_log(requests=3, hits=2) + synthetic_log(requests=2, hits=2, weights_version=9)
    skipped: Counter[int] = Counter()
    kept = impressions_from_log(
        docs, weights_by_version={1: LOGGED_WEIGHTS}, current=LOGGED_WEIGHTS, skipped=skipped
    )
    assert len(kept) == 6 and skipped == {9: 4}


def test_impressions_from_log_joins_clicks_by_request_and_by_user() -> None:
    docs = [
        {"kind": "impression", "request_id": "a", "item": "x", "user": "u", "components": {}},
        {"kind": "impression", "request_id": "a", "item": "y", "user": "u", "components": {}},
        {"kind": "impression", "request_id": "b", "item": "z", "user": "v", "components": {}},
        {"kind": "click", "request_id": "a", "item": "x", "user": "u"},
        {"kind": "click", "item": "z", "user": "v"},
    ]
    clicked = {imp.item: imp.clicked for imp in _impressions(docs)}
    assert clicked == {"x": True, "y": False, "z": True}


def test_fit_weights_freshness_only_clicks_puts_most_weight_on_freshness() -> None:
    weights = fit_weights(_impressions(synthetic_log()))
    assert max(weights, key=lambda name: weights[name]) == "freshness"
    assert weights["freshness"] >= 0.5
    assert all(value >= 0 for value in weights.values())
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert weights["collaborative"] == 0.0  # never varied in the log


def test_propose_weights_held_out_ranking_improves_over_current() -> None:
    result = propose_weights(_impressions(synthetic_log()), LOGGED_WEIGHTS, seed=7)
    current, proposed = result["metrics"]["current"], result["metrics"]["proposed"]
    assert proposed["ndcg@10"] > current["ndcg@10"] + 0.1
    assert proposed["recall@10"] > current["recall@10"]
    assert result["split"]["by"] == "request_id"


def test_split_by_request_keeps_requests_whole_and_is_seeded() -> None:
    impressions = _impressions(synthetic_log(requests=40))
    fit, test = split_by_request(impressions, seed=1)
    assert {i.request_id for i in fit}.isdisjoint({i.request_id for i in test})
    assert len(fit) + len(test) == len(impressions)
    again, _ = split_by_request(impressions, seed=1)
    assert again == fit


def test_ranking_metrics_perfect_ranking_scores_one() -> None:
    hits = [
        Impression("r", "a", {"freshness": 0.9}, clicked=True, rank=2),
        Impression("r", "b", {"freshness": 0.1}, clicked=False, rank=1),
    ]
    metrics = ranking_metrics(hits, {"freshness": 1.0})
    assert metrics["ndcg@10"] == 1.0 and metrics["recall@10"] == 1.0


def test_fit_weights_too_few_clicks_raises() -> None:
    hits = [Impression("r", str(i), {"bm25": 0.5}, clicked=i == 0) for i in range(20)]
    with pytest.raises(InputError, match="clicked"):
        fit_weights(hits)


def test_read_log_file_reads_jsonl_and_rejects_garbage(tmp_path: Path) -> None:
    good = tmp_path / "log.jsonl"
    good.write_text("\n".join(json.dumps(d) for d in synthetic_log(requests=2)) + "\n")
    assert len(list(read_log_file(good))) >= 20
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(InputError, match=r"bad\.jsonl:1"):
        list(read_log_file(bad))
    with pytest.raises(InputError, match="not found"):
        list(read_log_file(tmp_path / "missing.jsonl"))
