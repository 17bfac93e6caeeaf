"""The strongest standard recommenders, tuned fairly: the bar ``dynamic-interest`` is held to.

Each method learns from the users × items matrix of training positives (0/1) and scores every
item for a user; lists leave out the user's training items, as every method's do:

* ``ease``: EASE (Steck 2019), the closed-form item-item regression
  ``B = I - P / diag(P)``, ``P = (XᵀX + λI)⁻¹`` (zero diagonal), tuned over ``λ``;
* ``rp3beta``: random walk user → item → user → item with transition probabilities raised to
  ``α`` and items divided by popularity^``β``, each item's ``k`` strongest kept;
* ``itemknn``: cosine between items' columns, ``k`` neighbours;
* ``puresvd``: ``X V_k V_kᵀ`` from the truncated SVD of ``X``, tuned over ``k``;
* ``ials``: implicit ALS (Hu, Koren, Volinsky 2008): confidence ``1 + α`` on positives, ridge
  ``λ``, ``f`` factors, each half-step solved by a few conjugate-gradient steps for all rows
  at once (as the ``implicit`` package does, in a few lines of numpy).

Tuning never sees the test part: ``validation_split`` carves each user's last ``VALID_SHARE``
of *training* positives (by time) as the validation targets, the earlier training events are
the inputs; every grid point is fitted on those and scored by NDCG@10 on the validation
targets; the best is refitted on the full training part. ``tune`` costs minutes, so its choice
is stored by dataset fingerprint (``TunedStore``) and reused by later runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from indexer.collab import ials
from plugin.app.evaluation.baselines import ItemKnn
from plugin.app.evaluation.movielens import Split, build_split
from plugin.app.evaluation.ranking import ndcg_at_k
from plugin.errors import InputError

logger = logging.getLogger(__name__)

VALID_SHARE = 0.2
TOP = 10
RANK_BATCH = 256  # users scored at once: a dense batch × items block
# Grids: wide enough that the best point is inside on ml-latest-small (checked by the
# tuning log), small enough to tune all four in a few minutes on 2 cores.
GRIDS: Mapping[str, Sequence[Mapping[str, float]]] = {
    "ease": [{"lambda": v} for v in (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0)],
    "rp3beta": [
        {"alpha": a, "beta": b, "k": k}
        for a in (0.1, 0.25, 0.5, 0.75, 1.0)
        for b in (0.2, 0.35, 0.5, 0.65)
        for k in (200.0, 500.0, 1000.0)
    ],
    "itemknn": [{"k": v} for v in (10.0, 25.0, 50.0, 100.0, 200.0, 400.0)],
    "puresvd": [{"k": v} for v in (8.0, 16.0, 32.0, 64.0, 128.0, 256.0)],
    # Probed on ml-latest-small's validation split first: λ below 50 or α below 10 lost at
    # every size (e.g. 128 factors: λ 1 0.096, λ 10 0.128, λ 50 α 10 0.139).
    "ials": [
        {"factors": f, "lambda": lam, "alpha": a}
        for f in (64.0, 128.0, 256.0)
        for lam, a in ((50.0, 10.0), (150.0, 10.0), (150.0, 30.0), (500.0, 30.0))
    ],
}

STRONG_METHODS = tuple(GRIDS)

Scorer = Callable[[np.ndarray], np.ndarray]  # rows of X -> (rows, items) scores


@dataclass(frozen=True)
class Interactions:
    """Training positives as a users × items 0/1 matrix; rows follow ``users``."""

    matrix: sp.csr_matrix
    users: tuple[str, ...]


def positives_matrix(split: Split, item_position: Mapping[str, int], n_items: int) -> Interactions:
    """Every split user's training positives (items outside the catalogue are skipped)."""
    users = tuple(sorted(split.users))
    rows, cols = [], []
    for row, user in enumerate(users):
        for event in split.users[user].train:
            if event.positive and event.item in item_position:
                rows.append(row)
                cols.append(item_position[event.item])
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(users), n_items), dtype=np.float64
    )
    matrix.data[:] = 1.0  # an item rated twice is one positive
    return Interactions(matrix=matrix, users=users)


def validation_split(split: Split) -> Split:
    """Each user's training events split again in time: the last ``VALID_SHARE`` of the
    training positives are the targets. Test items never appear: training holds none."""
    return build_split(split.training_events(), test_share=VALID_SHARE)


# --- the methods: fit on X, score rows of X ---------------------------------------------


def fit_ease(x: sp.csr_matrix, lam: float) -> Scorer:
    """EASE on the items that have a positive: for the others ``XᵀX`` is 0 apart from
    ``λ`` on the diagonal, so their weights are exactly 0 and leaving them out is exact
    (and makes the n³ inversion several times cheaper)."""
    active = np.flatnonzero(np.diff(x.tocsc().indptr))
    sub = x[:, active]
    gram = (sub.T @ sub).toarray()
    gram[np.diag_indices_from(gram)] += lam
    inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    weights = inverse / (-np.diag(inverse))
    weights[np.diag_indices_from(weights)] = 0.0
    n_items = x.shape[1]

    def scores(rows: np.ndarray) -> np.ndarray:
        full = np.zeros((len(rows), n_items))
        full[:, active] = np.asarray(sub[rows] @ weights)
        return full

    return scores


def fit_rp3beta(x: sp.csr_matrix, alpha: float, beta: float, k: int) -> Scorer:
    user_degree = np.asarray(x.sum(axis=1)).ravel()
    item_degree = np.asarray(x.sum(axis=0)).ravel()
    to_item = sp.diags(1.0 / np.maximum(user_degree, 1.0)) @ x  # P(item | user)
    to_user = sp.diags(1.0 / np.maximum(item_degree, 1.0)) @ x.T.tocsr()  # P(user | item)
    to_item.data **= alpha
    to_user.data **= alpha
    walk = (to_user @ to_item).tocsr()  # item -> item in two steps
    walk = walk @ sp.diags(1.0 / np.maximum(item_degree, 1.0) ** beta)
    walk.setdiag(0.0)
    walk.eliminate_zeros()
    neighbours = keep_top(walk.tocsr(), k)
    return lambda rows: np.asarray((x[rows] @ neighbours).toarray())


def fit_itemknn(x: sp.csr_matrix, k: int) -> Scorer:
    knn = ItemKnn(x, k=k)
    return lambda rows: np.asarray((x[rows] @ knn.neighbours).toarray())


def fit_ials(x: sp.csr_matrix, factors: int, lam: float, alpha: float) -> Scorer:
    """iALS on the 0/1 positives, scored by the users' own factors (``indexer.collab.ials``)."""
    binary = sp.csr_matrix(x, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    users, items = ials(binary, factors, lam=lam, alpha=alpha)
    return lambda rows: users[rows] @ items.T


def puresvd_path(x: sp.csr_matrix, ks: Iterable[int]) -> dict[int, Scorer]:
    """PureSVD at several ranks from one truncated SVD of the largest."""
    wanted = sorted(set(ks))
    top = min(max(wanted), min(x.shape) - 1)
    _, singular, right = svds(x, k=top, random_state=0)
    order = np.argsort(-singular)
    right = right[order]

    def projection(basis: np.ndarray) -> Scorer:
        return lambda rows: np.asarray(x[rows] @ basis.T) @ basis

    return {k: projection(right[: min(k, top)]) for k in wanted}


def keep_top(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries (a sparse item × item matrix stays sparse)."""
    matrix = matrix.tocsr()
    keep = np.zeros(matrix.nnz, dtype=bool)
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end - start <= k:
            keep[start:end] = True
        else:
            best = np.argpartition(-matrix.data[start:end], k - 1)[:k]
            keep[start + best] = True
    kept = matrix.copy()
    kept.data = np.where(keep, kept.data, 0.0)
    kept.eliminate_zeros()
    return kept


def scorers_for(method: str, x: sp.csr_matrix, grid: Sequence[Mapping[str, float]]) -> list[Scorer]:
    """One scorer per grid point, sharing work where the method allows."""
    if method == "puresvd":
        ranks = [int(p["k"]) for p in grid]
        svd = puresvd_path(x, ranks)
        return [svd[k] for k in ranks]
    return [fit(method, x, p) for p in grid]


def fit(method: str, x: sp.csr_matrix, params: Mapping[str, float]) -> Scorer:
    """``method`` fitted on ``x`` with ``params`` (one grid point)."""
    if method == "ease":
        return fit_ease(x, float(params["lambda"]))
    if method == "rp3beta":
        return fit_rp3beta(x, float(params["alpha"]), float(params["beta"]), int(params["k"]))
    if method == "itemknn":
        return fit_itemknn(x, int(params["k"]))
    if method == "puresvd":
        return puresvd_path(x, [int(params["k"])])[int(params["k"])]
    if method == "ials":
        return fit_ials(x, int(params["factors"]), float(params["lambda"]), float(params["alpha"]))
    raise InputError(f"unknown method {method!r}; known: {', '.join(STRONG_METHODS)}")


# --- ranking and tuning -------------------------------------------------------------------


def excluded_rows(
    x: sp.csr_matrix, split: Split, users: Sequence[str], item_position: Mapping[str, int]
) -> sp.csr_matrix:
    """Every training item (rated or tagged, not only positives) of ``users``, one row
    each: what the lists leave out, as every method's lists do."""
    rows, cols = [], []
    for row, user in enumerate(users):
        for item in split.users[user].train_items:
            if item in item_position:
                rows.append(row)
                cols.append(item_position[item])
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(users), x.shape[1]))


def rank_users(
    scorer: Scorer,
    interactions: Interactions,
    split: Split,
    users: Sequence[str],
    item_position: Mapping[str, int],
    size: int,
) -> dict[str, list[int]]:
    """Lists (catalogue positions) for ``users``, leaving out all their training items."""
    index = {user: row for row, user in enumerate(interactions.users)}
    rows = [index[user] for user in users]
    seen = excluded_rows(interactions.matrix, split, users, item_position)
    lists: dict[str, list[int]] = {}
    for start in range(0, len(rows), RANK_BATCH):
        chunk = np.asarray(rows[start : start + RANK_BATCH])
        scores = np.array(scorer(chunk), dtype=np.float64)
        scores[seen[start : start + RANK_BATCH].nonzero()] = -np.inf
        best = np.argsort(-scores, axis=1, kind="stable")[:, :size]
        for offset, items in enumerate(best.tolist()):
            lists[users[start + offset]] = items
    return lists


def validation_ndcg(
    scorer: Scorer,
    interactions: Interactions,
    valid: Split,
    item_position: Mapping[str, int],
) -> float:
    users = list(interactions.users)
    ranked = rank_users(scorer, interactions, valid, users, item_position, TOP)
    gains = []
    for user in users:
        targets = {item_position[i] for i in valid.users[user].test if i in item_position}
        gains.append(ndcg_at_k(ranked[user], targets, TOP))
    return float(np.mean(gains)) if gains else 0.0


def tune(
    split: Split,
    item_position: Mapping[str, int],
    n_items: int,
    methods: Sequence[str] = STRONG_METHODS,
) -> dict[str, dict[str, Any]]:
    """The best grid point of each method by validation NDCG@10, with every point's score."""
    valid = validation_split(split)
    inputs = positives_matrix(valid, item_position, n_items)
    chosen: dict[str, dict[str, Any]] = {}
    for method in methods:
        started = time.perf_counter()
        grid = GRIDS[method]
        scores = [
            validation_ndcg(scorer, inputs, valid, item_position)
            for scorer in scorers_for(method, inputs.matrix, grid)
        ]
        best = int(np.argmax(scores))
        chosen[method] = {
            "params": dict(grid[best]),
            "validation_ndcg@10": round(scores[best], 5),
            "grid": [
                {**point, "ndcg@10": round(s, 5)} for point, s in zip(grid, scores, strict=True)
            ],
            "seconds": round(time.perf_counter() - started, 1),
        }
        edge = best in (0, len(grid) - 1) and len(grid) > 1
        logger.info(
            "%s: best %s, validation NDCG@10 %.4f%s (%.0fs)",
            method, grid[best], scores[best], " (at the grid's edge)" if edge else "",
            chosen[method]["seconds"],
        )  # fmt: skip
    return chosen


def dataset_fingerprint(files: Iterable[Path]) -> str:
    """A short hash of the files' bytes: tuned parameters belong to one dataset."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def tuned_for(
    store: TunedStore,
    fingerprint: str,
    split: Split,
    item_position: Mapping[str, int],
    n_items: int,
    *,
    retune: bool = False,
) -> dict[str, dict[str, Any]]:
    """The stored tuning of this dataset, or a new one (then stored) when there is none,
    ``retune`` asks for it, or the grids changed since it was stored."""
    stored = None if retune else store.load(fingerprint)
    if stored is not None and all(
        method in stored and [dict(p) for p in GRIDS[method]] == stored[method].get("searched")
        for method in STRONG_METHODS
    ):
        return stored
    logger.info("tuning %s on a validation split of the training events", ", ".join(GRIDS))
    tuned = tune(split, item_position, n_items)
    for method in tuned:
        tuned[method]["searched"] = [dict(p) for p in GRIDS[method]]
    store.save(fingerprint, tuned)
    return tuned


class TunedStore:
    """Tuned hyper-parameters, one JSON file per dataset fingerprint, under ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, fingerprint: str) -> Path:
        return self.folder / f"tuned-{fingerprint}.json"

    def load(self, fingerprint: str) -> dict[str, dict[str, Any]] | None:
        path = self.path(fingerprint)
        if not path.is_file():
            return None
        stored: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        return stored

    def save(self, fingerprint: str, tuned: Mapping[str, Any]) -> Path:
        path = self.path(fingerprint)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tuned, indent=2, sort_keys=True), encoding="utf-8")
        return path
