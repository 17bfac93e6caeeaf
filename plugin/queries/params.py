"""The native scorer's params: vectors, weights and flags built once per request (pure)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from plugin.blend import (
    CATEGORY_FIELD,
    COLLAB_FIELD,
    FRESHNESS_FIELD,
    ID_FIELD,
    POPULARITY_FIELD,
    SCRIPT_LANG,
    SCRIPT_SOURCE,
    VECTOR_FIELD,
)
from plugin.errors import InputError
from plugin.queries.limits import BEHAVIOUR_WEIGHTS, PERSONAL_WEIGHTS
from plugin.types import (
    BlendConfig,
    BlendWeights,
    UserProfile,
)
from plugin.weights import DEFAULT_WEIGHTS

logger = logging.getLogger(__name__)


class ScorerParams(TypedDict):
    """The native scorer's params for one request, as ``engine/`` reads them (its contract:
    ``plugin.blend`` mirrors it and ``mappings/golden`` holds the shared cases). Optional keys
    are left out when absent or all-zero; mypy checks every key a caller reads or sets."""

    weights: dict[str, float]
    bm25_k: float
    vector_field: str
    now_millis: int
    freshness_field: str
    half_life_days: float
    category_field: str
    popularity_field: str
    popularity_norm: float
    collab_field: str
    short_term_weight: float
    cluster_mix: float
    similarity_floor: NotRequired[float]
    query_vector: NotRequired[list[float]]
    long_term: NotRequired[list[float]]
    short_term: NotRequired[list[float]]
    clusters: NotRequired[list[list[float]]]
    cluster_weights: NotRequired[list[float]]
    category_affinity: NotRequired[dict[str, float]]
    collab_vector: NotRequired[list[float]]
    neighbour_scores: NotRequired[dict[str, float]]
    id_field: NotRequired[str]


def _clean_vector(name: str, vector: Sequence[float] | None) -> list[float] | None:
    """A finite vector as a list; ``None`` for an absent or all-zero one (no direction)."""
    if vector is None:
        return None
    if isinstance(vector, str) or not isinstance(vector, Sequence):
        raise InputError(f"{name} must be a list of numbers")
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a list of numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{name} has a NaN or infinite value")
    if not any(values):
        return None
    return values


def usable_clusters(profile: UserProfile | None) -> list[int]:
    """Indices (into ``profile.clusters``) of clusters with a direction and a positive weight.

    The native params list exactly these, in this order, so the scorer's ``cluster`` index
    ``i`` means ``profile.clusters[usable_clusters(profile)[i]]``.
    """
    if profile is None:
        return []
    return [
        index
        for index, cluster in enumerate(profile.clusters)
        if math.isfinite(cluster.weight) and cluster.weight > 0 and any(cluster.vector)
    ]


def _effective_weights(
    config: BlendConfig, *, cold: bool, lexical: bool, has_query_vector: bool
) -> dict[str, float]:
    weights = config.weights.as_dict()
    if cold and lexical:
        # Nothing is known about the user: a search is answered in plain BM25 order.
        weights = {name: (value if name == "bm25" else 0.0) for name, value in weights.items()}
    if cold:
        for name in PERSONAL_WEIGHTS:
            weights[name] = 0.0
    if lexical:
        # In a search the typed words lead: a behaviour component, weighted for
        # recommendations where it is the strongest signal, counts at most as much as BM25
        # (else an item the user's history favours outranks the one that was asked for).
        for name in BEHAVIOUR_WEIGHTS:
            weights[name] = min(weights[name], weights["bm25"])
    else:
        weights["bm25"] = 0.0
    if not has_query_vector:
        weights["query"] = 0.0
    if not any(weights.values()):
        # Everything this request could use is weighted 0: rank by what it still has.
        fallback = (
            BlendWeights(bm25=1.0)
            if lexical
            else BlendWeights(
                freshness=DEFAULT_WEIGHTS.freshness, popularity=DEFAULT_WEIGHTS.popularity
            )
        )
        logger.info("no usable positive weight in blend v%d; using %s", config.version, fallback)
        weights = fallback.as_dict()
    return weights


def _check_dims(vectors: Mapping[str, list[float]]) -> None:
    lengths = {name: len(v) for name, v in vectors.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise InputError(f"vectors have different lengths: {detail}")


def build_native_params(
    profile: UserProfile | None,
    config: BlendConfig,
    *,
    query_vector: Sequence[float] | None,
    now_ms: int,
    lexical: bool = True,
    cluster: int | None = None,
) -> ScorerParams:
    """The params of the native scorer for one request.

    Args:
        profile: the user's interests; ``None`` or empty means a cold user, whose
            interest/category/collaborative weights are set to 0.
        config: the blend from ``_meta``.
        query_vector: the encoded query, if any (its weight is 0 without one).
        now_ms: the request time in epoch milliseconds (freshness reference).
        lexical: whether the subquery is a lexical one; if not, the bm25 weight is 0 (a
            ``match_all`` score of 1 would otherwise add the same constant to every item).
        cluster: only this index of ``profile.clusters``, at cluster weight 1 (one body per
            interest in recommendations).

    Returns:
        The params dict; absent and all-zero vectors are left out. ``short_term_weight`` is
        0 (1) when only the long (short) term vector exists, and ``cluster_mix`` is 0 without
        clusters and 1 without a user vector, so the interest component can still reach 1.

    Raises:
        InputError: a vector has a NaN/infinite value, or vectors differ in length.
    """
    cold = profile is None or profile.is_empty
    query = _clean_vector("query_vector", query_vector)
    params: ScorerParams = {
        "weights": _effective_weights(
            config, cold=cold, lexical=lexical, has_query_vector=query is not None
        ),
        "bm25_k": float(config.bm25_k),
        "vector_field": VECTOR_FIELD,
        "now_millis": int(now_ms),
        "freshness_field": FRESHNESS_FIELD,
        "half_life_days": float(config.half_life_days),
        "category_field": CATEGORY_FIELD,
        "popularity_field": POPULARITY_FIELD,
        "popularity_norm": float(config.popularity_norm),
        "collab_field": COLLAB_FIELD,
        "short_term_weight": float(config.short_term_weight),
        "cluster_mix": float(config.cluster_mix),
    }
    if config.similarity_floor > 0.0:
        # The model's cosine for unrelated texts: text cosines are rescaled to [0, 1] above it.
        params["similarity_floor"] = float(config.similarity_floor)
    dims: dict[str, list[float]] = {}
    if query is not None:
        params["query_vector"] = dims["query_vector"] = query
    if profile is None or cold:
        _check_dims(dims)
        return params

    long_term = _clean_vector("long_term", profile.long_term)
    short_term = _clean_vector("short_term", profile.short_term)
    if long_term is not None:
        params["long_term"] = dims["long_term"] = long_term
    if short_term is not None:
        params["short_term"] = dims["short_term"] = short_term
    if long_term is None or short_term is None:
        params["short_term_weight"] = 1.0 if short_term is not None else 0.0

    if cluster is not None:
        if not 0 <= cluster < len(profile.clusters):
            raise InputError(f"cluster {cluster} is not in the profile")
        indices, raw_weights = [cluster], [1.0]
    else:
        indices = usable_clusters(profile)
        raw_weights = [profile.clusters[i].weight for i in indices]
    if indices:
        # Strongest interest at 1: cluster weights are relative (counts or shares).
        top = max(raw_weights)
        vectors = []
        for i in indices:
            vector = _clean_vector(f"clusters[{i}]", profile.clusters[i].vector)
            if vector is None:
                raise InputError(f"cluster {i} has no direction (zero vector)")
            dims[f"clusters[{i}]"] = vector
            vectors.append(vector)
        params["clusters"] = vectors
        params["cluster_weights"] = [min(1.0, w / top) for w in raw_weights]
    if not indices:
        params["cluster_mix"] = 0.0
    elif long_term is None and short_term is None:
        params["cluster_mix"] = 1.0

    affinity = {
        str(name): float(value)
        for name, value in profile.categories.items()
        if isinstance(value, int | float) and math.isfinite(value)
    }
    if affinity:
        params["category_affinity"] = affinity
    collab = _clean_vector("collab_vector", profile.collab_vector)
    if collab is not None:
        params["collab_vector"] = collab
    if profile.neighbour_scores and params["weights"].get("neighbours", 0.0) > 0:
        params["neighbour_scores"] = dict(profile.neighbour_scores)
        params["id_field"] = ID_FIELD
    _check_dims(dims)
    return params


def build_blend_script(params: ScorerParams) -> dict[str, Any]:
    """The ``script`` object of the native scorer; only the scorer's name is its source."""
    return {"source": SCRIPT_SOURCE, "lang": SCRIPT_LANG, "params": dict(params)}


def params_user_vector(params: ScorerParams) -> list[float] | None:
    """u = (1 - alpha) * long_term + alpha * short_term, as the scorer forms it."""
    alpha = params["short_term_weight"]
    long_term = params.get("long_term")
    short_term = params.get("short_term")
    if long_term is None and short_term is None:
        return None
    size = len(long_term if long_term is not None else short_term or [])
    user = [0.0] * size
    for weight, vector in ((1.0 - alpha, long_term), (alpha, short_term)):
        if vector is not None:
            user = [u + weight * v for u, v in zip(user, vector, strict=True)]
    return user if any(user) else None


def knn_vector(params: ScorerParams) -> list[float] | None:
    """What approximate retrieval searches near: the query, else the user, else a cluster."""
    query = params.get("query_vector")
    if query is not None:
        return query
    user = params_user_vector(params)
    if user is not None:
        return user
    clusters = params.get("clusters") or []
    weights = params.get("cluster_weights") or []
    if clusters:
        return clusters[max(range(len(clusters)), key=lambda i: weights[i])]
    return None
