"""Item-to-item neighbours from behaviour: a sparse EASE fitted one item at a time (pure).

EASE (Steck 2019) regresses each item's column of the users × items matrix on every other
item's; its closed form inverts the dense items × items Gram matrix, which cannot exist at a
million items. Here item ``j`` is regressed only on its ``candidates`` most co-occurring items
(the only ones that can carry weight for it in practice), with the same ridge ``λ``:

    w_j = (X_Nᵀ X_N + λ I)⁻¹ X_Nᵀ X_j,   N = the top co-occurring items of j

so each item costs one ``candidates``² system and the result has at most ``candidates``
weights per item: ``weights[i, j]`` is how much a user's interaction with ``i`` votes for ``j``.
The Gram matrix stays sparse (only co-occurring pairs), and items fit independently, so the
work splits into chunks for several workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from indexer.collab import Interaction
from plugin.errors import InputError

# λ 200 and 100 candidates: the best of the grid on the MovieLens validation split
# (bench/neighbours_offline.py: NDCG@10 0.1437 against the dense EASE's 0.1439).
DEFAULT_CANDIDATES = 100
DEFAULT_LAMBDA = 200.0
DEFAULT_KEEP = 100
# Out-neighbours kept per item (what one voted item can lift; its document's size). On the
# MovieLens validation split: all (up to 3,097) 0.1462, 400 0.1461, 200 0.1449, 50 0.1401.
DEFAULT_KEEP_OUT = 400
MIN_USERS = 2
MIN_ITEMS = 2


@dataclass(frozen=True)
class NeighbourTable:
    """Each item's out-neighbours: the items an interaction with it votes for, strongest first."""

    out: Mapping[str, tuple[tuple[str, float], ...]]
    users: int
    interactions: int

    @property
    def pairs(self) -> int:
        return sum(len(row) for row in self.out.values())


def fit_sparse_ease(
    x: sp.csr_matrix,
    *,
    lam: float = DEFAULT_LAMBDA,
    candidates: int = DEFAULT_CANDIDATES,
    keep: int = DEFAULT_KEEP,
    items: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Item-item weights (rows vote for columns), at most ``keep`` per target item.

    Args:
        x: users × items interactions (any positive values count as 1).
        lam: the ridge λ (EASE's; larger means smoother, more popular neighbours).
        candidates: co-occurring items each item is regressed on.
        keep: strongest weights kept per target item (by absolute value).
        items: fit only these target columns (a chunk of the work); default all.

    Raises:
        InputError: a parameter out of range.
    """
    if lam <= 0 or candidates < 1 or keep < 1:
        raise InputError(
            f"lambda must be > 0, candidates and keep >= 1; got {lam}, {candidates}, {keep}"
        )
    binary = sp.csc_matrix(x, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    gram = (binary.T @ binary).tocsc()
    n_items = gram.shape[0]
    targets = np.arange(n_items) if items is None else np.asarray(items, dtype=np.int64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for j in targets:
        start, end = gram.indptr[j], gram.indptr[j + 1]
        partners, counts = gram.indices[start:end], gram.data[start:end]
        mask = partners != j
        partners, counts = partners[mask], counts[mask]
        if partners.size == 0:
            continue
        if partners.size > candidates:
            best = np.argpartition(-counts, candidates - 1)[:candidates]
            partners, counts = partners[best], counts[best]
        # The candidates' Gram block from their columns: cost follows their interactions,
        # not the catalogue (slicing the sparse Gram matrix twice was 10x slower).
        block = binary[:, partners]
        system = (block.T @ block).toarray()
        system[np.diag_indices_from(system)] += lam
        weights = np.linalg.solve(system, counts)
        if weights.size > keep:
            strongest = np.argpartition(-np.abs(weights), keep - 1)[:keep]
            partners, weights = partners[strongest], weights[strongest]
        rows.append(partners)
        cols.append(np.full(partners.size, j))
        values.append(weights)
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )


def out_neighbours(weights: sp.spmatrix, keep_out: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per source item (row), at most ``keep_out`` (target, weight) pairs, by |weight| then
    strongest first: a voted item's contribution is read from one row at ranking time."""
    if keep_out < 1:
        raise InputError(f"keep_out must be >= 1, got {keep_out}")
    rows = sp.csr_matrix(weights)
    result = []
    for r in range(rows.shape[0]):
        start, end = rows.indptr[r], rows.indptr[r + 1]
        targets, values = rows.indices[start:end], rows.data[start:end]
        if values.size > keep_out:
            kept = np.argpartition(-np.abs(values), keep_out - 1)[:keep_out]
            targets, values = targets[kept], values[kept]
        order = np.lexsort((targets, -values))
        result.append((targets[order], values[order]))
    return result


def fit_neighbour_table(
    interactions: Iterable[Interaction],
    *,
    kinds: Iterable[str],
    lam: float = DEFAULT_LAMBDA,
    candidates: int = DEFAULT_CANDIDATES,
    keep: int = DEFAULT_KEEP,
    keep_out: int = DEFAULT_KEEP_OUT,
) -> NeighbourTable:
    """Sparse EASE neighbours from interactions of ``kinds`` (the kinds that vote: a dislike
    says nothing about what goes together).

    Raises:
        InputError: fewer than ``MIN_USERS`` users or ``MIN_ITEMS`` items to learn from.
    """
    wanted = frozenset(kinds)
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    pairs: set[tuple[int, int]] = set()
    for interaction in interactions:
        if interaction.kind not in wanted:
            continue
        row = users.setdefault(interaction.user, len(users))
        col = items.setdefault(interaction.item, len(items))
        pairs.add((row, col))
    if len(users) < MIN_USERS or len(items) < MIN_ITEMS:
        raise InputError(
            f"neighbours need at least {MIN_USERS} users and {MIN_ITEMS} items with "
            f"{'/'.join(sorted(wanted))} events; found {len(users)} and {len(items)}"
        )
    rows, cols = zip(*sorted(pairs), strict=True)
    x = sp.csr_matrix(
        (np.ones(len(rows)), (np.asarray(rows), np.asarray(cols))), shape=(len(users), len(items))
    )
    weights = fit_sparse_ease(x, lam=lam, candidates=candidates, keep=keep)
    names = list(items)
    out = {
        names[source]: tuple(
            (names[t], float(w)) for t, w in zip(targets.tolist(), values.tolist(), strict=True)
        )
        for source, (targets, values) in enumerate(out_neighbours(weights, keep_out))
        if targets.size
    }
    return NeighbourTable(out=out, users=len(users), interactions=len(pairs))
