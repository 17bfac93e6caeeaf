"""Collaborative item factors from interactions (pure: plain data in, arrays out).

Items that the same people liked end up close: a TruncatedSVD of the implicit-feedback matrix
(users x items; likes, clicks and item posts weighted as in the interest model, dislikes left
out: a dislike is not co-occurrence) gives each item a vector of ``COLLAB_DIMS`` numbers, which
the items index keeps as the ``collab`` dense_vector. A user's collaborative vector is the
time-decayed sum of the factors of the items they acted on (dislikes subtract), so the native
scorer's cosine between the two says "people who liked what you liked also liked this".

Item factors are ``V * sqrt(S)`` of 32 components, fitted on the raw (log-damped) matrix:
the choice measured by ``bench/collab_offline.py`` on MovieLens (per-user time split, factors
from training events only). 32 dims beat 16 and 64 once blended with popularity; ``V`` alone
was the worst scaling; normalising each user's row first was best only at a small collaborative
weight (popularity about twice it) and fell off faster as the weight grew, so rows are left
as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from plugin.errors import InputError

# The items mapping's ``collab`` dims: fewer components (a small catalogue) are zero-padded.
COLLAB_DIMS = 32
# How much each kind of event says "I like this item" (dislikes are not co-occurrence).
IMPLICIT_WEIGHTS: Mapping[str, float] = {"like": 1.0, "post": 1.0, "click": 0.5}
MIN_USERS = 4
MIN_ITEMS = 4
# Below this norm a factor row carries no taste (an item nobody shares with anyone).
_EPS = 1e-9


@dataclass(frozen=True)
class Interaction:
    """One user's event on one item, as stored in ``user_events``."""

    user: str
    item: str
    kind: str


@dataclass(frozen=True)
class ItemFactors:
    """The fitted factors: ``vectors[i]`` belongs to ``items[i]`` (unit length or zero)."""

    items: tuple[str, ...]
    vectors: np.ndarray
    components: int
    users: int
    interactions: int
    explained_variance: float

    def as_mapping(self) -> dict[str, list[float]]:
        """Item id -> factor list, for items whose factors carry a direction."""
        return {
            item: vector.tolist()
            for item, vector in zip(self.items, self.vectors, strict=True)
            if float(np.linalg.norm(vector)) > _EPS
        }


def implicit_matrix(
    interactions: Iterable[Interaction],
) -> tuple[sp.csr_matrix, list[str], list[str]]:
    """Users x items matrix of summed implicit weights, plus the user and item orders."""
    strength: dict[tuple[str, str], float] = {}
    for event in interactions:
        weight = IMPLICIT_WEIGHTS.get(event.kind)
        if weight is None or not event.item:
            continue
        key = (event.user, event.item)
        strength[key] = strength.get(key, 0.0) + weight
    users = sorted({user for user, _ in strength})
    items = sorted({item for _, item in strength})
    user_pos = {user: i for i, user in enumerate(users)}
    item_pos = {item: i for i, item in enumerate(items)}
    rows = [user_pos[user] for user, _ in strength]
    cols = [item_pos[item] for _, item in strength]
    # log1p: a movie rated and tagged counts more than once, not without bound.
    values = [math.log1p(value) for value in strength.values()]
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(users), len(items)))
    return matrix, users, items


def fit_item_factors(
    interactions: Iterable[Interaction],
    *,
    dims: int = COLLAB_DIMS,
    seed: int = 7,
) -> ItemFactors:
    """TruncatedSVD item factors, unit-normalised and zero-padded to ``dims``.

    Raises:
        InputError: fewer than four users or four items have interactions.
    """
    from sklearn.decomposition import TruncatedSVD

    matrix, users, items = implicit_matrix(interactions)
    if len(users) < MIN_USERS or len(items) < MIN_ITEMS:
        raise InputError(
            f"too few interactions to fit item factors: {len(users)} users, {len(items)} items"
        )
    # As many components as the data has users or items would memorise it (every item its
    # own axis): at most a quarter of the smaller side, so shared taste is what remains.
    components = max(1, min(dims, min(matrix.shape) // 4))
    svd = TruncatedSVD(n_components=components, algorithm="randomized", random_state=seed)
    svd.fit(matrix)
    vectors = svd.components_.T * np.sqrt(svd.singular_values_)[None, :]
    padded = np.zeros((len(items), dims), dtype=np.float64)
    padded[:, :components] = vectors
    lengths = np.linalg.norm(padded, axis=1, keepdims=True)
    padded = np.where(lengths > _EPS, padded / np.maximum(lengths, _EPS), 0.0)
    return ItemFactors(
        items=tuple(items),
        vectors=padded.astype(np.float32),
        components=components,
        users=len(users),
        interactions=int(matrix.nnz),
        explained_variance=float(svd.explained_variance_ratio_.sum()),
    )


def check_factor(vector: Sequence[float] | np.ndarray, *, dims: int = COLLAB_DIMS) -> np.ndarray:
    """An item's stored factor as an array, refused if malformed (wrong size, NaN)."""
    array = np.asarray(vector, dtype=np.float64)
    if array.shape != (dims,) or not np.all(np.isfinite(array)):
        raise InputError(f"collab factor must be {dims} finite numbers, got shape {array.shape}")
    return array
