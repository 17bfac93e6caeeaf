"""Sparse EASE neighbours on toy interactions with known structure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from indexer.neighbours import fit_sparse_ease
from plugin.app.evaluation.strong import fit_ease
from plugin.errors import InputError
from tests.unit.test_strong_baselines import two_groups


def test_neighbours_stay_in_their_group_and_keep_is_a_bound() -> None:
    weights = fit_sparse_ease(two_groups(), lam=1.0, candidates=50, keep=2).toarray()
    assert np.all(weights[:6, 6:] == 0.0) and np.all(weights[6:, :6] == 0.0)
    assert np.all(np.diag(weights) == 0.0)
    assert np.count_nonzero(weights, axis=0).max() <= 2


def test_with_every_item_a_candidate_it_is_dense_ease() -> None:
    rng = np.random.default_rng(1)
    x = sp.csr_matrix((rng.random((50, 10)) < 0.4).astype(float))
    sparse = fit_sparse_ease(x, lam=2.0, candidates=50, keep=50)
    rows = np.arange(50)
    np.testing.assert_allclose((x @ sparse).toarray(), fit_ease(x, 2.0)(rows), atol=1e-9)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="lambda"):
        fit_sparse_ease(two_groups(), lam=0.0)
