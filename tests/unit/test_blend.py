"""The Python mirror of the native scorer's maths."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from plugin import blend
from plugin.errors import InputError
from plugin.types import WEIGHT_NAMES

DAY = 86_400_000
NOW = 1_780_000_000_000  # epoch millis
ALL_ONE = dict.fromkeys(WEIGHT_NAMES, 1.0)


def _params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "weights": dict(ALL_ONE),
        "bm25_k": 5.0,
        "now_millis": NOW,
        "half_life_days": 14.0,
        "popularity_norm": 6.9,
        "short_term_weight": 0.5,
        "cluster_mix": 0.5,
    }
    params.update(overrides)
    return params


def _item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"embedding": [1.0, 0.0, 0.0]}
    item.update(overrides)
    return item


def test_bm25_saturates_at_k() -> None:
    parts = blend.components(_item(), params=_params(bm25_k=5.0), bm25_score=5.0)
    assert parts["bm25"] == pytest.approx(0.5)
    assert blend.components(_item(), params=_params(), bm25_score=15.0)["bm25"] == pytest.approx(
        0.75
    )


@pytest.mark.parametrize("raw", [0.0, -3.0, float("nan")])
def test_bm25_non_positive_or_nan_score_is_zero(raw: float) -> None:
    assert blend.components(_item(), params=_params(), bm25_score=raw)["bm25"] == 0.0


def test_interest_mixes_user_vector_and_best_cluster() -> None:
    params = _params(
        long_term=[1.0, 0.0, 0.0],
        short_term=[0.0, 1.0, 0.0],
        clusters=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        cluster_weights=[0.5, 1.0],
    )
    result = blend.evaluate(_item(), params=params)
    # u = (0.5, 0.5, 0): cos = 1/sqrt(2); clusters: 1 * 0.5 and 0 * 1 -> 0.5 from cluster 0
    assert result.components["interest"] == pytest.approx(0.5 / math.sqrt(2) + 0.5 * 0.5)
    assert result.cluster == 0


def test_interest_short_term_weight_shifts_user_vector() -> None:
    params = _params(
        long_term=[1.0, 0.0, 0.0], short_term=[0.0, 1.0, 0.0], short_term_weight=1.0, cluster_mix=0
    )
    assert blend.components(_item(), params=params)["interest"] == pytest.approx(0.0)
    params["short_term_weight"] = 0.0
    assert blend.components(_item(), params=params)["interest"] == pytest.approx(1.0)


def test_interest_negative_cosine_is_clamped() -> None:
    params = _params(long_term=[-1.0, 0.0, 0.0], cluster_mix=0.0)
    assert blend.components(_item(), params=params)["interest"] == 0.0


def test_cluster_index_is_minus_one_when_no_cluster_contributes() -> None:
    params = _params(clusters=[[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], cluster_weights=[1.0, 1.0])
    result = blend.evaluate(_item(), params=params)
    assert result.cluster == -1
    assert result.components["interest"] == 0.0


def test_cluster_weight_decides_best_cluster() -> None:
    params = _params(
        clusters=[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]], cluster_weights=[0.2, 1.0], cluster_mix=1.0
    )
    result = blend.evaluate(_item(), params=params)
    assert result.cluster == 1
    assert result.components["interest"] == pytest.approx(1 / math.sqrt(2))


def test_zero_vectors_give_zero_not_nan() -> None:
    params = _params(
        long_term=[0.0, 0.0, 0.0],
        query_vector=[0.0, 0.0, 0.0],
        clusters=[[0.0, 0.0, 0.0]],
        cluster_weights=[1.0],
    )
    parts = blend.components(_item(embedding=[0.0, 0.0, 0.0]), params=params)
    assert parts["interest"] == 0.0
    assert parts["query"] == 0.0
    assert not any(math.isnan(v) for v in parts.values())


def test_missing_fields_give_zero_components() -> None:
    params = _params(
        long_term=[1.0, 0.0, 0.0],
        query_vector=[1.0, 0.0, 0.0],
        category_affinity={"sports": 1.0},
        collab_vector=[1.0, 0.0],
    )
    result = blend.evaluate({}, params=params, bm25_score=0.0)
    assert result.components == dict.fromkeys(WEIGHT_NAMES, 0.0)
    assert result.score == 0.0
    assert result.cluster == -1


def test_freshness_halves_every_half_life() -> None:
    item = _item(created_at=NOW - 14 * DAY)
    assert blend.components(item, params=_params())["freshness"] == pytest.approx(0.5)
    item = _item(created_at=NOW - 28 * DAY)
    assert blend.components(item, params=_params())["freshness"] == pytest.approx(0.25)


def test_freshness_future_date_is_one() -> None:
    item = _item(created_at=NOW + 3 * DAY)
    assert blend.components(item, params=_params())["freshness"] == 1.0


def test_freshness_reads_iso_strings_and_field_lists() -> None:
    seven_days_ago = datetime.fromtimestamp((NOW - 7 * DAY) / 1000, UTC)
    iso = seven_days_ago.isoformat().replace("+00:00", "Z")
    parts = blend.components({"created_at": [iso]}, params=_params())
    assert parts["freshness"] == pytest.approx(2**-0.5)


def test_to_millis_formats() -> None:
    assert blend.to_millis("1970-01-02T00:00:00Z") == DAY
    assert blend.to_millis("1970-01-02") == DAY
    assert blend.to_millis("1970-01-01T08:00:00+08:00") == 0.0
    assert blend.to_millis("86400000") == DAY
    assert blend.to_millis(DAY) == DAY
    assert blend.to_millis("1970-02") == 31 * DAY
    assert blend.to_millis(["1970-01-02T00:00:00Z"]) == DAY
    assert blend.to_millis(None) is None
    assert blend.to_millis("yesterday") is None


def test_category_affinity_clamped_and_best_of_several() -> None:
    params = _params(category_affinity={"sports": 1.7, "news": -0.5, "tech": 0.4})
    assert blend.components(_item(category="sports"), params=params)["category"] == 1.0
    assert blend.components(_item(category="news"), params=params)["category"] == 0.0
    assert blend.components(_item(category=["news", "tech"]), params=params)["category"] == 0.4
    assert blend.components(_item(category="film"), params=params)["category"] == 0.0


def test_category_empty_affinity_is_zero() -> None:
    assert blend.components(_item(category="sports"), params=_params())["category"] == 0.0
    params = _params(category_affinity={})
    assert blend.components(_item(category="sports"), params=params)["category"] == 0.0


@pytest.mark.parametrize(
    ("popularity", "expected"),
    [(0, 0.0), (-5, 0.0), (99, math.log(100) / 6.9), (10**9, 1.0), ([99], math.log(100) / 6.9)],
)
def test_popularity_log_normalised_and_capped(popularity: object, expected: float) -> None:
    parts = blend.components(_item(popularity=popularity), params=_params())
    assert parts["popularity"] == pytest.approx(expected)


def test_collaborative_uses_collab_field() -> None:
    params = _params(collab_vector=[1.0, 1.0])
    parts = blend.components(_item(collab=[1.0, 0.0]), params=params)
    assert parts["collaborative"] == pytest.approx(1 / math.sqrt(2))
    assert blend.components(_item(), params=params)["collaborative"] == 0.0


def test_neighbours_is_the_clamped_score_of_the_item_id() -> None:
    params = _params(neighbour_scores={"a": 0.4, "b": 2.0, "c": -1.0, "7": 0.3})
    assert blend.components(_item(id="a"), params=params)["neighbours"] == pytest.approx(0.4)
    assert blend.components(_item(id=["a"]), params=params)["neighbours"] == pytest.approx(0.4)
    assert blend.components(_item(id="b"), params=params)["neighbours"] == 1.0
    assert blend.components(_item(id="c"), params=params)["neighbours"] == 0.0
    assert blend.components(_item(id=7), params=params)["neighbours"] == pytest.approx(0.3)
    assert blend.components(_item(id="z"), params=params)["neighbours"] == 0.0
    assert blend.components(_item(), params=params)["neighbours"] == 0.0
    assert blend.components(_item(id="a"), params=_params())["neighbours"] == 0.0
    with pytest.raises(InputError):  # like category_affinity: the value looked up is checked
        blend.components(_item(id="a"), params=_params(neighbour_scores={"a": math.inf}))


def test_neighbours_reads_the_id_field_param() -> None:
    params = _params(neighbour_scores={"x": 0.5}, id_field="item_id")
    assert blend.components(_item(item_id="x", id="y"), params=params)["neighbours"] == 0.5
    assert blend.components(_item(id="x"), params=params)["neighbours"] == 0.0


def test_weighted_components_add_up_to_score() -> None:
    weights = {
        "bm25": 0.35,
        "interest": 0.3,
        "query": 0.15,
        "freshness": 0.08,
        "category": 0.07,
        "popularity": 0.05,
        "collaborative": 0.0,
    }
    params = _params(
        weights=weights,
        long_term=[0.6, 0.8, 0.0],
        query_vector=[1.0, 0.2, 0.0],
        category_affinity={"sports": 0.5},
        clusters=[[1.0, 0.0, 0.0]],
        cluster_weights=[0.7],
    )
    item = _item(category="sports", popularity=40, created_at=NOW - 3 * DAY)
    result = blend.evaluate(item, params=params, bm25_score=7.0)
    assert result.score == pytest.approx(sum(result.components.values()))
    assert result.components["bm25"] == pytest.approx(0.35 * 7 / 12)
    assert result.components["category"] == pytest.approx(0.07 * 0.5)
    assert result.components["collaborative"] == 0.0
    assert blend.score(item, params=params, bm25_score=7.0) == pytest.approx(result.score)


def test_missing_weights_count_as_zero() -> None:
    parts = blend.components(_item(popularity=99), params=_params(weights={"popularity": 2.0}))
    assert parts["popularity"] == pytest.approx(2 * math.log(100) / 6.9)
    assert parts["freshness"] == 0.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"weights": {"cosine": 1.0}},
        {"weights": {"bm25": -1.0}},
        {"short_term_weight": 1.5},
        {"cluster_mix": -0.1},
        {"bm25_k": 0.0},
        {"clusters": [[1.0, 0.0, 0.0]], "cluster_weights": []},
        {"clusters": [[1.0, 0.0, 0.0]], "cluster_weights": [1.5]},
        {"query_vector": [1.0, 0.0]},
        {"query_vector": [1.0, float("nan"), 0.0]},
        {"long_term": [1.0, 0.0, 0.0], "short_term": [1.0, 0.0]},
        {"neighbour_scores": ["a"]},
    ],
)
def test_bad_params_raise_input_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        blend.evaluate(_item(), params=_params(**overrides), bm25_score=1.0)


def test_cluster_ties_go_to_the_first_cluster() -> None:
    params = _params(
        clusters=[[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], cluster_weights=[1.0, 1.0], cluster_mix=1.0
    )
    assert blend.evaluate(_item(), params=params).cluster == 0
