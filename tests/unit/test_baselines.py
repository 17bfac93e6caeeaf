"""The evaluation's baselines (plugin.app.evaluation.baselines) on tiny hand-made data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from plugin.app.evaluation.baselines import (
    DAY_S,
    ItemKnn,
    RecentPopularity,
    build_bm25_body,
    fill,
    positive_counts,
    profile_scores,
    top_ids,
)

IDS = ["a", "b", "c", "d"]


def test_top_ids_best_first_skips_excluded_and_unscored() -> None:
    scores = np.array([1.0, 3.0, 0.0, 2.0])
    assert top_ids(scores, IDS, {"b"}, 3) == ["d", "a"]


def test_fill_appends_backup_without_repeats() -> None:
    assert fill(["c"], ["a", "c", "b"], 3) == ["c", "a", "b"]


def test_positive_counts_per_item() -> None:
    assert positive_counts(np.array([1, 1, 3]), 4).tolist() == [0, 2, 0, 1]


def test_recent_popularity_counts_window_before_moment_only() -> None:
    times = np.array([0, 50 * DAY_S, 95 * DAY_S, 100 * DAY_S])
    recent = RecentPopularity(times, np.array([0, 1, 2, 3]), 4)
    # window [10 d, 100 d): items 1 and 2; the event at 100 d is not before the moment
    assert recent.counts(100 * DAY_S).tolist() == [0, 1, 1, 0]


def test_profile_scores_prefers_items_near_the_liked_mean() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [-1.0, 0.0]])
    scores = profile_scores(np.array([0]), vectors)
    assert scores is not None
    assert top_ids(scores, IDS, {"a"}, 3) == ["c", "b", "d"]
    assert profile_scores(np.array([], dtype=int), vectors) is None


def test_item_knn_scores_co_liked_items() -> None:
    likes = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]]))
    knn = ItemKnn(likes, k=1)
    scores = knn.scores(np.array([0]))
    assert top_ids(scores, IDS, {"a"}, 4)[0] == "b"


def test_item_knn_bad_k_raises() -> None:
    with pytest.raises(Exception, match="k must be positive"):
        ItemKnn(sp.csr_matrix(np.eye(2)), k=0)


def test_build_bm25_body_tags_query_and_filters() -> None:
    body = build_bm25_body(["dark", "twist ending"], exclude={"ml-1"}, id_prefix="ml-", size=20)
    assert body is not None
    query = body["query"]["bool"]  # type: ignore[index]
    assert query["must"]["multi_match"]["query"] == "dark twist ending"
    assert query["filter"] == {"prefix": {"id": "ml-"}}
    assert query["must_not"] == {"ids": {"values": ["ml-1"]}}
    assert build_bm25_body([" "], exclude=set(), id_prefix="ml-", size=20) is None
