"""Classification by cosine: nearest class centroid and k-nearest-neighbour vote (pure).

Vectors are rows of a dense array or a scipy sparse matrix; rows are L2-normalised here,
so a dot product is the cosine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.preprocessing import normalize

from plugin.errors import InputError

Matrix = Any  # np.ndarray or a scipy.sparse matrix
DEFAULT_K = 10


def cosine_matrix(test: Matrix, fit: Matrix) -> np.ndarray:
    """Cosine of every test row with every fit row, shape (len(test), len(fit))."""
    product = normalize(test) @ normalize(fit).T
    return np.asarray(product.todense() if hasattr(product, "todense") else product)


def centroid_accuracy(
    fit: Matrix, fit_labels: Sequence[str], test: Matrix, test_labels: Sequence[str]
) -> float:
    """Share of test rows whose nearest class centroid (by cosine) has their label.

    A centroid is the mean of the class's normalised fit rows.
    """
    _check(fit, fit_labels, test, test_labels)
    classes = sorted(set(fit_labels))
    labels = np.asarray(fit_labels)
    rows = normalize(fit)
    centroids = np.vstack(
        [np.asarray(rows[np.flatnonzero(labels == c)].mean(axis=0)).ravel() for c in classes]
    )
    predicted = cosine_matrix(test, centroids).argmax(axis=1)
    return _share([classes[i] for i in predicted], test_labels)


def knn_accuracy(
    fit: Matrix,
    fit_labels: Sequence[str],
    test: Matrix,
    test_labels: Sequence[str],
    *,
    k: int = DEFAULT_K,
) -> float:
    """Share of test rows whose ``k`` nearest fit rows (by cosine) vote for their label.

    A tie between classes goes to the one whose best neighbour is nearest.
    """
    _check(fit, fit_labels, test, test_labels)
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    sims = cosine_matrix(test, fit)
    k = min(k, sims.shape[1])
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    predicted = [knn_vote([fit_labels[j] for j in row]) for row in nearest]
    return _share(predicted, test_labels)


def knn_vote(neighbour_labels: Sequence[str]) -> str:
    """Majority label of neighbours given nearest first; ties go to the nearest one."""
    counts = Counter(neighbour_labels)
    top = max(counts.values())
    return next(label for label in neighbour_labels if counts[label] == top)


def _share(predicted: Sequence[str], truth: Sequence[str]) -> float:
    hits = sum(p == t for p, t in zip(predicted, truth, strict=True))
    return hits / len(truth)


def _check(
    fit: Matrix, fit_labels: Sequence[str], test: Matrix, test_labels: Sequence[str]
) -> None:
    if fit.shape[0] != len(fit_labels) or test.shape[0] != len(test_labels):
        raise InputError("each vector needs exactly one label")
    if not len(fit_labels) or not len(test_labels):
        raise InputError("fit and test sets must both be non-empty")
    if fit.shape[1] != test.shape[1]:
        raise InputError(f"fit has {fit.shape[1]} dims, test has {test.shape[1]}")
