"""The catalogue calibration (plugin.calibration) and how the blend and the bodies use it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from plugin.blend import evaluate
from plugin.calibration import (
    MIN_ITEMS,
    SCALE_SAMPLE,
    calibration_from_meta,
    centred,
    fit_calibration,
)
from plugin.errors import InputError
from plugin.queries import build_native_params, build_recommend_bodies
from plugin.types import InterestCluster, UserProfile
from plugin.weights import default_config

DIMS = 24


def anisotropic_catalogue(
    n: int = 600, topics: int = 6, seed: int = 0
) -> tuple[np.ndarray, list[int]]:
    """Unit vectors that all share one strong direction (as e5's and USE's do), plus a topic
    direction and noise: raw cosines of unrelated items are high."""
    rng = np.random.default_rng(seed)
    common = np.zeros(DIMS)
    common[0] = 1.0
    labels = [i % topics for i in range(n)]
    rows = []
    for label in labels:
        vector = 2.0 * common + rng.normal(0.0, 0.3, DIMS)
        vector[1 + label] += 1.0
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows), labels


def test_the_centre_is_the_mean_unit_vector_and_the_scale_a_nearest_neighbours_cosine() -> None:
    vectors, _ = anisotropic_catalogue()
    fitted = fit_calibration(vectors * 3.0, model="m")  # lengths do not matter
    assert np.allclose(fitted.centre, vectors.mean(axis=0))
    assert 0.2 <= fitted.scale <= 1.0
    assert 0.0 <= fitted.floor < fitted.scale
    assert fitted.items == len(vectors) and fitted.dims == DIMS
    meta = fitted.to_meta()
    assert meta["sample"] == min(len(vectors), SCALE_SAMPLE)
    assert calibration_from_meta({"calibration": meta}, model="m", dims=DIMS) == replace(
        fitted, centre=tuple(round(v, 7) for v in fitted.centre), scale=round(fitted.scale, 6),
        floor=round(fitted.floor, 6),
    )  # fmt: skip


def test_calibration_at_least_doubles_the_gap_between_related_and_unrelated() -> None:
    """The interest component of an item of the user's topic against one of another topic."""
    vectors, labels = anisotropic_catalogue()
    fitted = fit_calibration(vectors, model="m")
    labels_array = np.asarray(labels)
    user = vectors[labels_array == 0][:10].mean(axis=0)
    base = {"weights": {"interest": 1.0}, "long_term": list(user), "short_term_weight": 0.0}
    calibrated = {
        **base,
        "centre": list(fitted.centre),
        "similarity_floor": fitted.floor,
        "similarity_scale": fitted.scale,
    }

    def gap(params: dict[str, object]) -> float:
        scores = np.array(
            [
                evaluate({"embedding": list(v)}, params=params).components["interest"]
                for v in vectors
            ]
        )
        return float(scores[labels_array == 0].mean() - scores[labels_array != 0].mean())

    assert gap(calibrated) >= 2 * gap(base)


def test_too_few_items_or_a_bad_array_are_refused() -> None:
    with pytest.raises(InputError, match=f"at least {MIN_ITEMS}"):
        fit_calibration(np.eye(DIMS)[:5], model="m")
    with pytest.raises(InputError, match="2-d"):
        fit_calibration(np.ones(DIMS), model="m")


def test_a_calibration_of_another_model_or_size_or_malformed_is_ignored() -> None:
    meta = fit_calibration(anisotropic_catalogue()[0], model="m").to_meta()
    assert calibration_from_meta({"calibration": meta}, model="other", dims=DIMS) is None
    assert calibration_from_meta({"calibration": meta}, model="m", dims=DIMS + 1) is None
    assert (
        calibration_from_meta({"calibration": {**meta, "scale": 2}}, model="m", dims=DIMS) is None
    )
    assert (
        calibration_from_meta({"calibration": {**meta, "scale": "x"}}, model="m", dims=DIMS) is None
    )
    assert calibration_from_meta({}, model="m", dims=DIMS) is None


def test_centred_is_the_unit_vector_minus_the_centre() -> None:
    assert centred([3.0, 4.0], [0.1, 0.2]) == pytest.approx([0.5, 0.6])
    assert centred([3.0, 4.0], None) == [3.0, 4.0]
    assert centred([0.0, 0.0], [0.1, 0.2]) == [0.0, 0.0]


def test_the_params_and_the_knn_vectors_carry_the_calibration() -> None:
    centre = (0.5, 0.0, 0.0)
    config = replace(default_config(), centre=centre, similarity_scale=0.4, similarity_floor=0.0)
    profile = UserProfile(
        user="u",
        long_term=(1.0, 0.0, 0.0),
        clusters=(InterestCluster((0.0, 1.0, 0.0), 1.0, "x"),),
    )
    params = build_native_params(profile, config, query_vector=None, now_ms=0, lexical=False)
    assert params["centre"] == list(centre)
    assert params["similarity_scale"] == 0.4
    bodies = build_recommend_bodies(profile, config, size=5, now_ms=0)
    knn = [body["query"]["script_score"]["query"] for body in bodies]
    vectors = [clause["knn"]["query_vector"] for clause in _knn_clauses(knn)]
    assert [0.5, 0.0, 0.0] in vectors or [-0.5, 1.0, 0.0] in vectors
    assert all(vector != [0.0, 1.0, 0.0] for vector in vectors)  # centred, not raw
    uncalibrated = build_native_params(
        profile, default_config(), query_vector=None, now_ms=0, lexical=False
    )
    assert "centre" not in uncalibrated and "similarity_scale" not in uncalibrated


def _knn_clauses(node: object) -> list[dict[str, object]]:
    found = []
    if isinstance(node, dict):
        if "knn" in node:
            found.append(node)
        for value in node.values():
            found += _knn_clauses(value)
    elif isinstance(node, list):
        for value in node:
            found += _knn_clauses(value)
    return found
