"""Pure helpers of the query benchmarks: percentiles, perturbation, recall (no timing)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.corpus import normalise_rows, percentiles, perturb, recall_at


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    summary = percentiles(values)
    assert summary["p50"] == 50.0
    assert summary["p95"] == 95.0
    assert summary["p99"] == 99.0
    assert summary["n"] == 100
    assert summary["mean"] == 50.5


def test_percentiles_of_nothing_and_one_value() -> None:
    assert percentiles([])["n"] == 0
    one = percentiles([7.0])
    assert one["p50"] == one["p99"] == 7.0


def test_perturb_keeps_unit_length_and_stays_near_its_source() -> None:
    rng = np.random.default_rng(0)
    base = normalise_rows(rng.normal(size=(5, 384)))
    vectors, sources = perturb(base, 12, noise_norm=0.25, rng=np.random.default_rng(1))
    assert vectors.shape == (12, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert sources.tolist() == [i % 5 for i in range(12)]
    own = np.sum(vectors * base[sources], axis=1)
    assert own.min() > 0.9  # close to its own source
    others = vectors @ base.T
    assert (others.argmax(axis=1) == sources).all()


def test_perturb_refuses_an_empty_base() -> None:
    with pytest.raises(ValueError):
        perturb(np.zeros((0, 3)), 2, noise_norm=0.1, rng=np.random.default_rng(0))


def test_recall_at_k() -> None:
    assert recall_at(["a", "b", "c"], ["a", "b", "c"], 3) == 1.0
    assert recall_at(["a", "x", "y"], ["a", "b", "c"], 3) == pytest.approx(1 / 3)
    assert recall_at([], [], 10) == 1.0
    assert recall_at(["b", "a"], ["a", "b", "c", "d"], 2) == 1.0
