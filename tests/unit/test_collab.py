"""Collaborative factors and the user's collaborative sum (pure logic, no services)."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.collab import COLLAB_DIMS, Interaction, fit_item_factors, implicit_matrix
from indexer.interests import (
    InterestEvent,
    InterestState,
    apply_events,
    from_document,
    to_document,
    with_collab,
)
from plugin.errors import InputError
from plugin.profiles import fit_collab, profile_from_document
from plugin.queries import build_recommend_bodies
from plugin.types import UserProfile
from plugin.weights import default_config, validate_weights

DAY_MS = 86_400_000
GROUP_A = [f"a{i}" for i in range(6)]
GROUP_B = [f"b{i}" for i in range(6)]


def two_groups() -> list[Interaction]:
    """Users 0-7 like group A's items only, users 8-15 group B's only."""
    events = []
    for user in range(16):
        items = GROUP_A if user < 8 else GROUP_B
        for position, item in enumerate(items):
            if (user + position) % 3:  # not everyone liked everything
                events.append(Interaction(user=f"u{user}", item=item, kind="like"))
    return events


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_items_liked_by_the_same_people_get_close_factors() -> None:
    factors = fit_item_factors(two_groups())
    vectors = dict(zip(factors.items, factors.vectors, strict=True))
    assert factors.vectors.shape == (12, COLLAB_DIMS)
    assert np.allclose(np.linalg.norm(factors.vectors, axis=1), 1.0, atol=1e-5)
    within = [cosine(vectors[a], vectors[b]) for a in GROUP_A for b in GROUP_A if a < b]
    across = [cosine(vectors[a], vectors[b]) for a in GROUP_A for b in GROUP_B]
    assert np.mean(within) > np.mean(across) + 0.3, (np.mean(within), np.mean(across))
    for item, vector in vectors.items():  # every item's nearest neighbour shares its group
        nearest = max((other for other in vectors if other != item),
                      key=lambda other: cosine(vector, vectors[other]))  # fmt: skip
        assert nearest[0] == item[0], (item, nearest)


def test_implicit_matrix_sums_kinds_and_ignores_dislikes_and_searches() -> None:
    matrix, users, items = implicit_matrix(
        [
            Interaction("u", "x", "like"),
            Interaction("u", "x", "click"),
            Interaction("u", "y", "dislike"),
            Interaction("v", "y", "search"),
            Interaction("v", "z", "post"),
        ]
    )
    assert users == ["u", "v"] and items == ["x", "z"]
    assert matrix[0, 0] == pytest.approx(np.log1p(1.5)) and matrix[1, 1] == pytest.approx(
        np.log1p(1)
    )


def test_too_few_interactions_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="too few interactions"):
        fit_item_factors([Interaction("u", "x", "like"), Interaction("v", "y", "like")])


def item_event(kind: str, day: float, factor: np.ndarray, version: int) -> InterestEvent:
    return InterestEvent(
        kind=kind, time_ms=int(day * DAY_MS), item_id="i", collab=factor, collab_version=version
    )


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(COLLAB_DIMS)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def test_collab_sum_follows_likes_and_dislikes_subtract() -> None:
    state = apply_events(
        InterestState(),
        [item_event("like", 1, unit(1, 0), 5), item_event("dislike", 2, unit(0, 1), 5)],
    )
    direction = state.collab.direction()
    assert state.collab_version == 5
    # Weighted like the item votes (like 1, dislike -0.3), a day apart on a two-year decay.
    assert direction[0] > 0 and direction[1] / direction[0] == pytest.approx(-0.3, rel=0.01)


def test_newer_factors_restart_the_sum_and_older_ones_are_skipped() -> None:
    state = apply_events(InterestState(), [item_event("like", 1, unit(1, 0), 5)])
    newer = apply_events(state, [item_event("like", 2, unit(0, 1), 9)])
    assert newer.collab_version == 9
    assert newer.collab.direction()[:2] == pytest.approx([0.0, 1.0])
    older = apply_events(newer, [item_event("like", 3, unit(1, 0), 5)])
    assert older.collab_version == 9
    assert older.collab.direction()[:2] == pytest.approx([0.0, 1.0])


def test_collab_survives_the_document_round_trip() -> None:
    state = apply_events(InterestState(), [item_event("like", 1, unit(1, 2), 5)])
    document = to_document(state, user="u", now_ms=2 * DAY_MS)
    assert document["collab_version"] == 5 and len(document["collab_vector"]) == COLLAB_DIMS
    again = from_document(document)
    assert again.collab_version == 5
    assert np.allclose(again.collab.sum, state.collab.sum)
    profile = profile_from_document("u", document)
    assert profile is not None and profile.collab_version == 5 and profile.collab_vector


def test_with_collab_rebuilds_only_the_collab_part() -> None:
    text = InterestEvent(kind="post", time_ms=DAY_MS, vector=[1.0, 0.0, 0.0])
    state = apply_events(InterestState(), [text, item_event("like", 1, unit(1, 0), 5)])
    rebuilt = with_collab(state, [item_event("like", 1, unit(0, 1), 7)], version=7)
    assert rebuilt.collab_version == 7
    assert rebuilt.collab.direction()[:2] == pytest.approx([0.0, 1.0])
    assert np.allclose(rebuilt.long_term.sum, state.long_term.sum)
    assert rebuilt.events == state.events
    empty = with_collab(state, [], version=8)
    assert empty.collab is None and empty.collab_version == 8


def test_a_collab_vector_of_other_factors_is_dropped_from_the_profile() -> None:
    profile = UserProfile(user="u", long_term=(1.0, 0.0), collab_vector=(1.0,), collab_version=5)
    assert fit_collab(profile, 5) is profile
    dropped = fit_collab(profile, 6)
    assert dropped.collab_vector is None and dropped.long_term == (1.0, 0.0)


def test_approx_recommendation_also_retrieves_by_taste_when_collab_is_weighted() -> None:
    profile = UserProfile(
        user="u", long_term=(1.0, 0.0, 0.0), collab_vector=tuple(unit(1, 1)), collab_version=5
    )
    weighted = default_config()
    weighted = type(weighted)(
        **{
            **weighted.__dict__,
            "weights": validate_weights({"interest": 0.5, "collaborative": 0.3}),
        }
    )

    def knn_fields(config: object) -> list[str]:
        body = build_recommend_bodies(profile, config, size=10, now_ms=0)[0]  # type: ignore[arg-type]
        text = repr(body["query"]["script_score"]["query"])
        return [field for field in ("'embedding'", "'collab'") if f"'field': {field}" in text]

    unweighted = type(weighted)(
        **{**weighted.__dict__, "weights": validate_weights({"interest": 0.5, "collaborative": 0})}
    )
    assert knn_fields(weighted) == ["'embedding'", "'collab'"]
    assert knn_fields(unweighted) == ["'embedding'"]
