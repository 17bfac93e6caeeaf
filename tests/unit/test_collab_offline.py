"""The offline collaborative bench's pure pieces (bench.collab_offline) on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bench.collab_offline import (
    collab_scores,
    event_weights,
    popularity_norm,
    top_positions,
)
from plugin.app.evaluation import baselines
from plugin.app.evaluation.movielens import Interaction as Event

DAY_S = 86_400


def test_event_weights_decay_in_time_and_events() -> None:
    events = [
        Event("u", "a", 0, "like"),
        Event("u", "b", 30 * DAY_S, "dislike"),
        Event("u", "c", 30 * DAY_S, "click"),
    ]
    weights = event_weights(events, half_life_days=30.0, half_life_events=2.0)
    # a: one half-life in time, two events back (2^-1); b: one event back; c: the newest
    assert weights == pytest.approx([0.5 * 0.5, -(2**-0.5), 0.5])


def test_top_positions_matches_top_ids_with_ties_and_exclusions() -> None:
    rng = np.random.default_rng(3)
    ids = [str(i) for i in range(40)]
    for _ in range(200):
        scores = rng.integers(-2, 4, 40).astype(float)
        excluded = rng.choice(40, size=int(rng.integers(0, 40)), replace=False)
        expected = baselines.top_ids(scores, ids, {ids[i] for i in excluded}, 5)
        assert [ids[i] for i in top_positions(scores, excluded, 5)] == expected


def test_popularity_norm_is_one_at_the_top_and_zero_without_counts() -> None:
    assert popularity_norm(np.array([0.0, 3.0, 15.0])).tolist() == pytest.approx(
        [0.0, np.log(4) / np.log(16), 1.0]
    )
    assert popularity_norm(np.zeros(2)).tolist() == [0.0, 0.0]


def test_collab_scores_clip_negative_cosines_and_skip_users_without_direction() -> None:
    factors = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    weights = sp.csr_matrix(np.array([[2.0, 0.0, 0.0], [1.0, 0.0, 1.0]]))
    scores = collab_scores(weights, factors)
    assert scores[0].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert scores[1].tolist() == [0.0, 0.0, 0.0]  # a like cancelled by its opposite
