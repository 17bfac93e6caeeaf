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
    InterestCluster,
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
    similarity_scale: NotRequired[float]
    centre: NotRequired[list[float]]
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


def now_weights(clusters: Sequence[InterestCluster], now_share: float) -> list[float]:
    """Each cluster's share of what the user wants now (sums to 1 over ``clusters``):
    ``now_share`` of the belief that the user is in it now (``recent``), the rest its share of
    the lasting weight. Without any belief (a profile from before it existed), lasting only."""
    lasting = math.fsum(c.weight for c in clusters)
    recent = math.fsum(c.recent for c in clusters)
    mix = min(max(now_share, 0.0), 1.0) if recent > 0 else 0.0
    return [
        (1.0 - mix) * (c.weight / lasting if lasting > 0 else 1.0 / len(clusters))
        + (mix * c.recent / recent if mix else 0.0)
        for c in clusters
    ]


def now_affinity(
    lasting: Mapping[str, float], clusters: Sequence[InterestCluster], shares: Sequence[float]
) -> dict[str, float]:
    """Category affinity weighted as the clusters are now (``now_weights``): each category's
    share in each cluster times that cluster's share, scaled so the largest is 1; categories
    no cluster has keep their lasting affinity at the weakest share's level (a negative one,
    from dislikes, is kept as it is). Without cluster categories, ``lasting`` as it is."""
    now: dict[str, float] = {}
    for cluster, share in zip(clusters, shares, strict=True):
        for name, part in cluster.categories.items():
            now[name] = now.get(name, 0.0) + share * part
    top = max(now.values(), default=0.0)
    if top <= 0:
        return dict(lasting)
    scaled = {name: value / top for name, value in now.items()}
    weakest = min(scaled.values())
    for name, value in lasting.items():
        if name not in scaled or value < 0:
            scaled[name] = value if value < 0 else value * weakest
    return scaled


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
    if config.centre is not None:
        # The catalogue's calibration (plugin.calibration): cosines of the vectors minus the
        # centre, rescaled so that a nearest neighbour's similarity is a full match.
        params["centre"] = [float(v) for v in config.centre]
        params["similarity_scale"] = float(config.similarity_scale)
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
        # What the user wants now, not only what they liked most: a topic just switched to
        # leads the whole-profile ranking too, and an old one is back as soon as it returns.
        raw_weights = now_weights([profile.clusters[i] for i in indices], config.now_share)
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
    if cluster is None and indices:
        affinity = now_affinity(affinity, [profile.clusters[i] for i in indices], raw_weights)
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


def script_weights(body: Mapping[str, Any]) -> dict[str, float] | None:
    """The weights of a ``script_score`` body's blend script (what ``reason_for`` needs to
    tell a component's strength from its weight); None for another kind of body."""
    try:
        weights = body["query"]["script_score"]["script"]["params"]["weights"]
    except (KeyError, TypeError):
        return None
    return dict(weights) if isinstance(weights, Mapping) else None


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
