"""Simple recommenders to compare against, from the same training events (pure numpy/scipy).

Each returns item ids best first, without the user's excluded (training) items. Items are
addressed by position in one catalogue order (``ids``); counts and vectors follow it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp

from plugin.errors import InputError

DAY_S = 86_400
RECENT_DAYS = 90
KNN_NEIGHBOURS = 50


def top_ids(
    scores: np.ndarray, ids: Sequence[str], exclude: Collection[str], size: int
) -> list[str]:
    """The ``size`` best-scoring ids (ties by catalogue order), skipping ``exclude``.

    Items scoring 0 or less are never listed: a method with no evidence for an item does
    not recommend it.
    """
    order = np.argsort(-scores, kind="stable")
    picked: list[str] = []
    for index in order:
        if scores[index] <= 0 or len(picked) >= size:
            break
        if ids[index] not in exclude:
            picked.append(ids[index])
    return picked


def fill(first: Sequence[str], backup: Sequence[str], size: int) -> list[str]:
    """``first``, then ``backup`` items not in it, up to ``size``."""
    picked = list(first[:size])
    seen = set(picked)
    for item in backup:
        if len(picked) >= size:
            break
        if item not in seen:
            picked.append(item)
            seen.add(item)
    return picked


def positive_counts(item_index: np.ndarray, n_items: int) -> np.ndarray:
    """How many training positives each item has (``item_index``: one entry per positive)."""
    return np.bincount(item_index, minlength=n_items).astype(np.float64)


class RecentPopularity:
    """Most positives in the ``days`` before a moment, from time-sorted training positives."""

    def __init__(self, times: np.ndarray, items: np.ndarray, n_items: int, days: int = RECENT_DAYS):
        order = np.argsort(times, kind="stable")
        self.times = np.asarray(times)[order]
        self.items = np.asarray(items)[order]
        self.n_items = n_items
        self.window_s = days * DAY_S

    def counts(self, before: int) -> np.ndarray:
        """Positives per item with time in ``[before − window, before)``."""
        lo = np.searchsorted(self.times, before - self.window_s, side="left")
        hi = np.searchsorted(self.times, before, side="left")
        return np.bincount(self.items[lo:hi], minlength=self.n_items).astype(np.float64)


def profile_scores(liked: np.ndarray, vectors: np.ndarray) -> np.ndarray | None:
    """Cosine of every item with the mean of the liked items' vectors (no decay).

    Args:
        liked: catalogue positions of the user's training likes.
        vectors: unit item vectors, one row per catalogue item.

    Returns:
        One score per item, or None when the user liked nothing.
    """
    if liked.size == 0:
        return None
    centre = vectors[liked].mean(axis=0)
    norm = float(np.linalg.norm(centre))
    if norm == 0.0:
        return None
    # Shift cosines into (0, 2] so that top_ids keeps every item in the ranking.
    return np.asarray(vectors @ (centre / norm), dtype=np.float64) + 1.0 + 1e-9


class ItemKnn:
    """Item-based kNN: cosine between items' columns of the user × item like matrix.

    Each item keeps its ``k`` most similar items; a user's score for an item is the sum of
    its similarities to the items the user liked.
    """

    def __init__(self, likes: sp.csr_matrix, k: int = KNN_NEIGHBOURS):
        if k < 1:
            raise InputError(f"k must be positive, got {k}")
        matrix = sp.csr_matrix(likes, dtype=np.float64)
        matrix.data[:] = 1.0
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        scaled = matrix @ sp.diags(1.0 / norms)
        similarity = (scaled.T @ scaled).tocsr()
        similarity.setdiag(0.0)
        similarity.eliminate_zeros()
        self.neighbours = _keep_top(similarity, k)

    def scores(self, liked: np.ndarray) -> np.ndarray:
        if liked.size == 0:
            return np.zeros(self.neighbours.shape[1])
        return np.asarray(self.neighbours[liked].sum(axis=0)).ravel()


def _keep_top(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep each row's ``k`` largest entries."""
    rows, cols, values = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        data, index = matrix.data[start:end], matrix.indices[start:end]
        if data.size > k:
            best = np.argpartition(-data, k - 1)[:k]
            data, index = data[best], index[best]
        rows.append(np.full(data.size, row))
        cols.append(index)
        values.append(data)
    if not rows:
        return sp.csr_matrix(matrix.shape)
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape
    )


def build_bm25_body(
    tags: Sequence[str], *, exclude: Collection[str], id_prefix: str, size: int
) -> dict[str, object] | None:
    """An ``es.search`` body: the user's tags as one BM25 query over title and body.

    Only this dataset's items (``id`` starting with ``id_prefix``) and none of ``exclude``.
    None when the user wrote no tags.
    """
    text = " ".join(t for t in tags if t.strip())
    if not text:
        return None
    return {
        "size": size,
        "_source": False,
        "query": {
            "bool": {
                "must": {"multi_match": {"query": text, "fields": ["title", "body"]}},
                "filter": {"prefix": {"id": id_prefix}},
                "must_not": {"ids": {"values": sorted(exclude)}},
            }
        },
    }
