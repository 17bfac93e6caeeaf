"""Ranking quality of recommendation lists: recall, NDCG, MRR, coverage, diversity (pure).

Relevance is binary: an item is relevant when it is in the user's test set. A ranked list
is a sequence of item ids, best first, without repeats. Per-user values are averaged over
users by the caller (``mean``), so every user counts once whatever the size of their lists.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Sequence

import numpy as np

from plugin.errors import InputError


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    return k


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Share of the relevant items found in the first ``k`` of ``ranked``.

    ``|top-k ∩ relevant| / |relevant|`` (not divided by ``min(k, |relevant|)``), so a user
    with more relevant items than ``k`` cannot reach 1. No relevant items: 0.
    """
    _check_k(k)
    if not relevant:
        return 0.0
    hits = sum(1 for item in ranked[:k] if item in relevant)
    return hits / len(relevant)


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Normalised discounted cumulative gain with binary gains.

    ``DCG = Σ_{i ≤ k, ranked[i] relevant} 1 / log2(i + 1)`` (ranks from 1), divided by the
    DCG of an ideal list that puts ``min(k, |relevant|)`` relevant items first. No relevant
    items: 0.
    """
    _check_k(k)
    if not relevant:
        return 0.0
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, item in enumerate(ranked[:k], start=1)
        if item in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def reciprocal_rank(
    ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int | None = None
) -> float:
    """``1 / rank`` of the first relevant item in ``ranked`` (within ``k`` if given), else 0.

    Averaged over users this is the mean reciprocal rank (MRR, or MRR@k with ``k``).
    """
    limit = len(ranked) if k is None else _check_k(k)
    for rank, item in enumerate(ranked[:limit], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def catalogue_coverage(lists: Iterable[Sequence[Hashable]], catalogue_size: int, k: int) -> float:
    """Share of the catalogue that appears in at least one user's top ``k``.

    Low coverage means every user gets the same few items (popularity's weakness).
    """
    _check_k(k)
    if catalogue_size < 1:
        raise InputError(f"catalogue_size must be positive, got {catalogue_size}")
    shown = {item for ranked in lists for item in ranked[:k]}
    return len(shown) / catalogue_size


def intra_list_diversity(vectors: np.ndarray | Sequence[Sequence[float]]) -> float | None:
    """``1 − mean pairwise cosine`` of the listed items' vectors (rows; normalised here).

    Embedding-based: 0 for a list of identical items, larger for items about different
    things. With an encoder whose unrelated texts sit at cosine ~0.75 (multilingual-e5),
    values are compressed towards 0; compare methods with one encoder only. Fewer than two
    items: None (no pair to compare).
    """
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise InputError(f"vectors must be a 2-D array, got shape {matrix.shape}")
    n = matrix.shape[0]
    if n < 2:
        return None
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if np.any(norms <= 0):
        raise InputError("a vector is all zeros")
    unit = matrix / norms
    cosines = unit @ unit.T
    pairs = cosines[np.triu_indices(n, k=1)]
    return float(1.0 - pairs.mean())


def genre_diversity(genres: Sequence[Collection[str]]) -> float | None:
    """``1 − mean pairwise Jaccard similarity`` of the listed items' genre sets.

    The genre-based variant of ``intra_list_diversity``: 0 when every item has the same
    genres, 1 when no two items share one. Fewer than two items: None.
    """
    n = len(genres)
    if n < 2:
        return None
    total, pairs = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = set(genres[i]), set(genres[j])
            union = a | b
            total += len(a & b) / len(union) if union else 1.0
            pairs += 1
    return 1.0 - total / pairs


def mean(values: Iterable[float | None]) -> float:
    """Mean of the values that are not None; 0 when there are none."""
    present = [v for v in values if v is not None]
    return math.fsum(present) / len(present) if present else 0.0
