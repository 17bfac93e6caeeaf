"""Ranking metrics of plugin.app.evaluation.ranking on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plugin.app.evaluation.ranking import (
    catalogue_coverage,
    genre_diversity,
    intra_list_diversity,
    mean,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)
from plugin.errors import InputError

RANKED = ["a", "b", "c", "d", "e"]


def test_recall_at_k_counts_hits_within_k_over_all_relevant() -> None:
    assert recall_at_k(RANKED, {"b", "e", "z"}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, {"b", "e", "z"}, 5) == pytest.approx(2 / 3)


def test_recall_at_k_no_relevant_is_zero() -> None:
    assert recall_at_k(RANKED, set(), 3) == 0.0


def test_recall_at_k_bad_k_raises() -> None:
    with pytest.raises(InputError):
        recall_at_k(RANKED, {"a"}, 0)


def test_ndcg_at_k_binary_gains_hand_computed() -> None:
    # hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal (2 relevant) = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, {"b", "d"}, 5) == pytest.approx(expected)


def test_ndcg_at_k_perfect_list_is_one() -> None:
    assert ndcg_at_k(RANKED, {"a", "b"}, 3) == pytest.approx(1.0)


def test_ndcg_at_k_ideal_capped_at_k() -> None:
    # 3 relevant, k = 1, hit at rank 1: ideal DCG holds one item only.
    assert ndcg_at_k(RANKED, {"a", "b", "c"}, 1) == pytest.approx(1.0)


def test_ndcg_at_k_hit_beyond_k_is_zero() -> None:
    assert ndcg_at_k(RANKED, {"e"}, 4) == 0.0


def test_reciprocal_rank_first_hit() -> None:
    assert reciprocal_rank(RANKED, {"c", "e"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKED, {"e"}, k=4) == 0.0
    assert reciprocal_rank(RANKED, {"z"}) == 0.0


def test_mean_skips_none_and_empty_is_zero() -> None:
    assert mean([1.0, None, 0.0]) == pytest.approx(0.5)
    assert mean([]) == 0.0


def test_catalogue_coverage_counts_distinct_items_in_top_k() -> None:
    lists = [["a", "b", "c"], ["b", "d", "e"]]
    # top 2: {a, b, d} of a catalogue of 10
    assert catalogue_coverage(lists, 10, 2) == pytest.approx(0.3)


def test_catalogue_coverage_empty_catalogue_raises() -> None:
    with pytest.raises(InputError):
        catalogue_coverage([["a"]], 0, 1)


def test_intra_list_diversity_orthogonal_and_identical() -> None:
    assert intra_list_diversity(np.eye(3)) == pytest.approx(1.0)
    assert intra_list_diversity([[1.0, 0.0], [2.0, 0.0]]) == pytest.approx(0.0)


def test_intra_list_diversity_hand_computed() -> None:
    # pairs: (x, y) cos 0, (x, xy) cos 1/sqrt2, (y, xy) cos 1/sqrt2
    vectors = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    expected = 1 - (0 + 2 / math.sqrt(2)) / 3
    assert intra_list_diversity(vectors) == pytest.approx(expected)


def test_intra_list_diversity_single_item_is_none() -> None:
    assert intra_list_diversity([[1.0, 0.0]]) is None


def test_genre_diversity_jaccard_hand_computed() -> None:
    # Jaccard: {A,B}-{B} 1/2, {A,B}-{C} 0, {B}-{C} 0 -> mean 1/6
    assert genre_diversity([{"A", "B"}, {"B"}, {"C"}]) == pytest.approx(1 - 1 / 6)
    assert genre_diversity([{"A"}, {"A"}]) == pytest.approx(0.0)
    assert genre_diversity([{"A"}]) is None
