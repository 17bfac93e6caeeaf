"""Request bodies of personalised search and recommendation, and reading their hits (pure).

Three ways to rank, one blend (see ``plugin.blend`` for the maths):

* exact (native): ``script_score`` with the native scorer (lang ``interest``) over the lexical
  candidates (BM25 over title/body/keywords/tags/text_zh), or over every filtered item when
  there is no query text.
* approx (native): the same ``script_score``, but its subquery is the *union* of the lexical
  clause and a ``knn`` query clause (HNSW; the query vector, else the user's vector) in a bool
  ``should``. The knn clause has boost 0, so the subquery ``_score`` the scorer saturates is
  still pure BM25 (0 for items found only by knn), and every candidate, lexical or knn, is
  ranked by the full blend. A top-level ``knn`` section would instead *add* its similarity
  to the BM25 score and corrupt the bm25 component. Every knn clause sets ``k`` to its
  ``num_candidates``: without ``k``, Elasticsearch (8.15+) lets the clause match only the
  request's ``size`` neighbours, and the blend could merely reorder those.
* portable (no plugin): core queries fetch a candidate pool ranked by a linear stand-in for
  the blend (knn clauses with boosts, BM25, ``term`` boosts for liked categories, and a
  ``function_score`` with an ``exp`` decay on ``created_at`` and ``log1p`` of popularity);
  then ``rank_portable_hits`` scores the pool in Python with ``plugin.blend`` - the very
  formulas of the Java scorer - from each hit's ``_source`` (including its ``embedding``)
  and its BM25 score, read from the named lexical clause (``_name: "bm25"``, run with
  ``include_named_queries_score=true``: ``PORTABLE_SEARCH_PARAMS``). So portable scores and
  components equal the native ones on the pool, and components add up to the score by
  construction; only which items reach the pool is approximate.

Every native hit carries the scorer's explanation (``explain: true``), from which
``parse_explanation`` reads the weighted components.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from plugin.blend import (
    CATEGORY_FIELD,
    COLLAB_FIELD,
    FRESHNESS_FIELD,
    MILLIS_PER_DAY,
    POPULARITY_FIELD,
    SCRIPT_LANG,
    SCRIPT_SOURCE,
    VECTOR_FIELD,
    evaluate,
)
from plugin.errors import InputError
from plugin.types import (
    WEIGHT_NAMES,
    BlendConfig,
    BlendWeights,
    MergedHit,
    Mode,
    SearchFilters,
    SearchHit,
    UserProfile,
)
from plugin.weights import DEFAULT_WEIGHTS

logger = logging.getLogger(__name__)

DEFAULT_SOURCE_FIELDS: tuple[str, ...] = (
    "title",
    "category",
    "tags",
    "keywords",
    "lang",
    "created_at",
    "popularity",
)
# Vectors are large: only the portable mode asks for them, and hits never carry them.
VECTOR_SOURCE_FIELDS: tuple[str, ...] = (VECTOR_FIELD, COLLAB_FIELD)
# An interest with this share of a user's (lasting + recent) attention always gets a slot.
GUARANTEED_SHARE = 0.1
# A cold user has none of these, so their weights are 0 and the rest keeps its proportions.
PERSONAL_WEIGHTS: tuple[str, ...] = ("interest", "category", "collaborative")
LEXICAL_FIELDS: tuple[str, ...] = ("title^2", "body")
KEYWORD_FIELDS: tuple[str, ...] = ("keywords", "tags")
CHINESE_FIELD = "text_zh"
BM25_QUERY_NAME = "bm25"
# The portable mode reads each hit's BM25 score from its named lexical clause.
# The share of a hit's score a personal signal needs before it is named as the reason.
PERSONAL_REASON_SHARE = 0.2
PORTABLE_SEARCH_PARAMS: Mapping[str, Any] = {"include_named_queries_score": True}

MAX_SIZE = 10_000
MAX_NUM_CANDIDATES = 10_000
MIN_NUM_CANDIDATES = 100
MAX_QUERY_TERMS = 32
MAX_TERM_CHARS = 100
MAX_CATEGORY_CLAUSES = 50
MIN_PORTABLE_POOL = 50


# --- filters and candidates -------------------------------------------------------------


def _check_size(size: int, what: str = "size") -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise InputError(f"{what} must be an integer in [1, {MAX_SIZE}], got {size!r}")
    return size


def _filter_parts(
    filters: SearchFilters | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if filters is None:
        return [], []
    clauses: list[dict[str, Any]] = []
    if filters.categories:
        clauses.append({"terms": {CATEGORY_FIELD: list(filters.categories)}})
    if filters.langs:
        clauses.append({"terms": {"lang": list(filters.langs)}})
    if filters.created_from or filters.created_to:
        bounds: dict[str, str] = {}
        if filters.created_from:
            bounds["gte"] = filters.created_from
        if filters.created_to:
            bounds["lte"] = filters.created_to
        clauses.append({"range": {FRESHNESS_FIELD: bounds}})
    must_not: list[dict[str, Any]] = []
    if filters.exclude_ids:
        must_not.append({"ids": {"values": list(dict.fromkeys(filters.exclude_ids))}})
    return clauses, must_not


def _filtered(main: dict[str, Any], filters: SearchFilters | None) -> dict[str, Any]:
    clauses, must_not = _filter_parts(filters)
    if not clauses and not must_not:
        return main
    query: dict[str, Any] = {"must": [main]}
    if clauses:
        query["filter"] = clauses
    if must_not:
        query["must_not"] = must_not
    return {"bool": query}


def build_filter_query(filters: SearchFilters | None) -> dict[str, Any] | None:
    """The filters as one query (for a knn clause's ``filter``); ``None`` when there are none."""
    clauses, must_not = _filter_parts(filters)
    if not clauses and not must_not:
        return None
    query: dict[str, Any] = {}
    if clauses:
        query["filter"] = clauses
    if must_not:
        query["must_not"] = must_not
    return {"bool": query}


def _query_terms(text: str) -> list[str]:
    terms = [t for t in text.split() if len(t) <= MAX_TERM_CHARS]
    whole = " ".join(text.split())
    if len(terms) > 1 and len(whole) <= MAX_TERM_CHARS:
        terms.append(whole)  # a multi-word tag such as "machine learning"
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def build_lexical_clause(query_text: str, *, segmented_query: str | None = None) -> dict[str, Any]:
    """BM25 over title (x2) and body, exact keyword/tag terms, and jieba-segmented ``text_zh``.

    Args:
        query_text: what the user typed (not empty).
        segmented_query: the query segmented by jieba and joined with spaces, for Chinese
            text; it is matched against ``text_zh`` and supplies the keyword/tag terms.

    Returns:
        A bool query matching any of the clauses, each adding its BM25 score.
    """
    text = " ".join(query_text.split())
    if not text:
        raise InputError("query text is empty")
    should: list[dict[str, Any]] = [
        {
            "multi_match": {
                "query": text,
                "fields": list(LEXICAL_FIELDS),
                "type": "best_fields",
                "tie_breaker": 0.3,
            }
        }
    ]
    segmented = " ".join((segmented_query or "").split())
    if segmented:
        should.append({"match": {CHINESE_FIELD: {"query": segmented}}})
    # term (unlike terms) is scored with BM25, so a rare tag counts more than a common one
    for term in _query_terms(segmented or text):
        for field in KEYWORD_FIELDS:
            should.append({"term": {field: {"value": term}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def build_candidates(
    query_text: str | None,
    *,
    segmented_query: str | None = None,
    filters: SearchFilters | None = None,
) -> dict[str, Any]:
    """The exact mode's candidate query: lexical matches (or everything), filtered.

    Args:
        query_text: the user's query; ``None`` or blank matches every item.
        segmented_query: jieba-segmented query for ``text_zh`` (the caller segments).
        filters: categories, languages, a ``created_at`` range and ids to leave out.

    Returns:
        The query dict, a bool with ``filter``/``must_not`` when there are filters.
    """
    text = (query_text or "").strip()
    main = (
        build_lexical_clause(text, segmented_query=segmented_query) if text else {"match_all": {}}
    )
    return _filtered(main, filters)


def build_knn_clause(
    vector: Sequence[float],
    *,
    num_candidates: int,
    filters: SearchFilters | None = None,
    field: str = VECTOR_FIELD,
    boost: float | None = None,
    k: int | None = None,
) -> dict[str, Any]:
    """A ``knn`` query clause (HNSW), pre-filtered by the same filters as the rest.

    Args:
        k: neighbours the clause matches per shard (at most ``num_candidates``). Without it
            Elasticsearch 8.15+ matches only the request's ``size`` neighbours, so a clause
            meant to supply a candidate pool for re-scoring must set it.
    """
    knn: dict[str, Any] = {
        "field": field,
        "query_vector": [float(v) for v in vector],
        "num_candidates": num_candidates,
    }
    if k is not None:
        knn["k"] = min(k, num_candidates)
    filter_query = build_filter_query(filters)
    if filter_query is not None:
        knn["filter"] = filter_query
    if boost is not None:
        knn["boost"] = boost
    return {"knn": knn}


def _num_candidates(num_candidates: int | None, size: int) -> int:
    if num_candidates is None:
        return min(MAX_NUM_CANDIDATES, max(MIN_NUM_CANDIDATES, 2 * size))
    if isinstance(num_candidates, bool) or not isinstance(num_candidates, int):
        raise InputError(f"num_candidates must be an integer, got {num_candidates!r}")
    if not 1 <= num_candidates <= MAX_NUM_CANDIDATES:
        raise InputError(f"num_candidates must be in [1, {MAX_NUM_CANDIDATES}]")
    return max(num_candidates, size)


# --- native scorer params ---------------------------------------------------------------


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
    if not lexical:
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
) -> dict[str, Any]:
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
    params: dict[str, Any] = {
        "weights": _effective_weights(
            config, cold=cold, lexical=lexical, has_query_vector=query is not None
        ),
        "bm25_k": config.bm25_k,
        "vector_field": VECTOR_FIELD,
        "now_millis": int(now_ms),
        "freshness_field": FRESHNESS_FIELD,
        "half_life_days": config.half_life_days,
        "category_field": CATEGORY_FIELD,
        "popularity_field": POPULARITY_FIELD,
        "popularity_norm": config.popularity_norm,
        "collab_field": COLLAB_FIELD,
        "short_term_weight": config.short_term_weight,
        "cluster_mix": config.cluster_mix,
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
    _check_dims(dims)
    return params


def build_blend_script(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``script`` object of the native scorer; only the scorer's name is its source."""
    return {"source": SCRIPT_SOURCE, "lang": SCRIPT_LANG, "params": dict(params)}


def _params_user_vector(params: Mapping[str, Any]) -> list[float] | None:
    """u = (1 - alpha) * long_term + alpha * short_term, as the scorer forms it."""
    alpha = float(params.get("short_term_weight", 0.0))
    long_term: list[float] | None = params.get("long_term")
    short_term: list[float] | None = params.get("short_term")
    if long_term is None and short_term is None:
        return None
    size = len(long_term if long_term is not None else short_term or [])
    user = [0.0] * size
    for weight, vector in ((1.0 - alpha, long_term), (alpha, short_term)):
        if vector is not None:
            user = [u + weight * v for u, v in zip(user, vector, strict=True)]
    return user if any(user) else None


def _knn_vector(params: Mapping[str, Any]) -> list[float] | None:
    """What approximate retrieval searches near: the query, else the user, else a cluster."""
    query: list[float] | None = params.get("query_vector")
    if query is not None:
        return query
    user = _params_user_vector(params)
    if user is not None:
        return user
    clusters: list[list[float]] = params.get("clusters") or []
    weights: list[float] = params.get("cluster_weights") or []
    if clusters:
        return clusters[max(range(len(clusters)), key=lambda i: weights[i])]
    return None


# --- search -----------------------------------------------------------------------------


def build_search_body(
    query_text: str | None,
    *,
    profile: UserProfile | None,
    config: BlendConfig,
    query_vector: Sequence[float] | None,
    now_ms: int,
    segmented_query: str | None = None,
    filters: SearchFilters | None = None,
    size: int = 10,
    mode: Mode = "exact",
    num_candidates: int | None = None,
    explain: bool = True,
    source_fields: Sequence[str] = DEFAULT_SOURCE_FIELDS,
) -> dict[str, Any]:
    """A personalised search request scored by the native scorer.

    Args:
        query_text: what the user typed; ``None``/blank ranks every filtered item.
        profile: the user's interests (``None``/empty: cold user).
        config: the blend from ``_meta``.
        query_vector: the encoded query (``None`` without an encoder or query).
        now_ms: request time, epoch milliseconds.
        segmented_query: jieba-segmented query for ``text_zh``.
        filters: hard filters, applied to lexical and knn candidates alike.
        size: hits to return.
        mode: ``"exact"`` (blend the lexical/filtered candidates) or ``"approx"`` (blend the
            union of lexical and HNSW knn candidates; without any vector it is exact).
        num_candidates: knn candidates per shard in approx mode.
        explain: ask for explanations (needed for components and reasons).
        source_fields: ``_source`` fields to return.

    Returns:
        ``{"query": {"script_score": ...}, "size", "explain", "_source"}``.

    Raises:
        InputError: a bad size, mode, num_candidates or vector.
    """
    size = _check_size(size)
    lexical = bool((query_text or "").strip())
    params = build_native_params(
        profile, config, query_vector=query_vector, now_ms=now_ms, lexical=lexical
    )
    if mode == "exact":
        candidates = build_candidates(query_text, segmented_query=segmented_query, filters=filters)
    elif mode == "approx":
        vector = _knn_vector(params)
        if vector is None:
            logger.info("approx search without a query or user vector: exact candidates")
            candidates = build_candidates(
                query_text, segmented_query=segmented_query, filters=filters
            )
        else:
            pool = _num_candidates(num_candidates, size)
            knn = build_knn_clause(
                vector,
                num_candidates=pool,
                filters=filters,
                boost=0.0,  # keeps the subquery _score pure BM25 (see the module docstring)
                k=pool,  # every HNSW candidate is blended, not just `size` of them
            )
            should = [knn]
            if lexical and query_text is not None:
                should.insert(0, build_lexical_clause(query_text, segmented_query=segmented_query))
            union = {"bool": {"should": should, "minimum_should_match": 1}}
            candidates = _filtered(union, filters)
    else:
        raise InputError(f"mode must be 'exact' or 'approx', got {mode!r}")
    return {
        "query": {"script_score": {"query": candidates, "script": build_blend_script(params)}},
        "size": size,
        "explain": explain,
        "_source": list(source_fields),
    }


# --- recommendation ---------------------------------------------------------------------


def recommend_clusters(profile: UserProfile) -> list[int | None]:
    """Which cluster each recommendation body is for (``None``: the whole profile)."""
    indices = usable_clusters(profile)
    return list(indices) if indices else [None]


def cluster_quotas(profile: UserProfile, size: int, *, recent_share: float = 0.0) -> list[int]:
    """How many of ``size`` recommendations each body gets, by cluster weight.

    A cluster's share mixes its lasting weight (share of the clusters' weights) with its
    share of the user's recent activity, ``recent_share`` of the latter (the blend's
    ``short_term_weight``): a user who just switched topic sees the new one at once, not
    after it has outgrown the old one. Largest-remainder shares that sum to ``size``; every
    cluster with at least ``GUARANTEED_SHARE`` of the mix gets at least one while ``size``
    allows (diversity), the strongest first; a stray one-event interest competes by its share
    instead of taking a slot of its own.
    """
    size = _check_size(size)
    targets = recommend_clusters(profile)
    if targets == [None]:
        return [size]
    chosen = [profile.clusters[i] for i in targets if i is not None]
    lasting = math.fsum(c.weight for c in chosen)
    recent = math.fsum(c.recent for c in chosen)
    mix = min(max(recent_share, 0.0), 1.0) if recent > 0 else 0.0
    weights = [
        (1.0 - mix) * c.weight / lasting + (mix * c.recent / recent if mix else 0.0) for c in chosen
    ]
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    quotas = [0] * len(weights)
    total = math.fsum(weights)
    guaranteed = [i for i in order if weights[i] >= GUARANTEED_SHARE * total] or order[:1]
    for i in guaranteed[:size]:
        quotas[i] = 1
    rest = size - sum(quotas)
    shares = [rest * w / total for w in weights]
    for i, share in enumerate(shares):
        quotas[i] += int(share)
    left = size - sum(quotas)
    for i in sorted(order, key=lambda i: -(shares[i] - int(shares[i])))[:left]:
        quotas[i] += 1
    return quotas


def build_recommend_bodies(
    profile: UserProfile,
    config: BlendConfig,
    *,
    size: int,
    now_ms: int,
    exclude_ids: Iterable[str] = (),
    per_cluster_quota: int | None = None,
    mode: Mode = "approx",
    num_candidates: int | None = None,
    filters: SearchFilters | None = None,
    explain: bool = True,
    source_fields: Sequence[str] = DEFAULT_SOURCE_FIELDS,
    extra_candidates: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One ``_msearch`` body per interest cluster (order of ``recommend_clusters``).

    Each body blends with the whole profile but only its own cluster (at weight 1), so each
    surfaces what is best for that interest; ``cluster_quotas`` then weights the clusters
    when ``merge_recommendations`` interleaves them. Approx mode retrieves each body's
    candidates by knn on its cluster's vector; exact mode scores every filtered item.
    Items in ``exclude_ids`` and ``profile.recent_items`` are left out.

    Args:
        profile: a non-empty profile (use ``build_cold_start_body`` for cold users).
        config: the blend from ``_meta``.
        size: recommendations wanted in the end.
        now_ms: request time, epoch milliseconds.
        exclude_ids: ids the user has already seen.
        per_cluster_quota: hits each body fetches (default ``size``, enough to fill the page
            from one interest after de-duplication).
        mode: ``"approx"`` or ``"exact"``.
        num_candidates: knn candidates per shard (approx).
        filters: extra hard filters.
        explain: ask for explanations.
        source_fields: ``_source`` fields to return.
        extra_candidates: item ids every approx body also scores (the most popular and the
            newest items: the blend ranks them high, but they are rarely the nearest
            neighbours of an interest's vector).

    Raises:
        InputError: the profile is empty, or a bad size/mode.
    """
    size = _check_size(size)
    fetch = _check_size(per_cluster_quota or size, "per_cluster_quota")
    if profile.is_empty:
        raise InputError(f"user {profile.user!r} has no interests yet; use the cold-start body")
    if mode not in ("exact", "approx"):
        raise InputError(f"mode must be 'exact' or 'approx', got {mode!r}")
    base = filters or SearchFilters()
    excluded = tuple(dict.fromkeys((*base.exclude_ids, *exclude_ids, *profile.recent_items)))
    body_filters = replace(base, exclude_ids=excluded)
    bodies: list[dict[str, Any]] = []
    for cluster in recommend_clusters(profile):
        params = build_native_params(
            profile, config, query_vector=None, now_ms=now_ms, lexical=False, cluster=cluster
        )
        if cluster is not None:
            # The body is this interest's share of the page: rank by this interest alone (its
            # vector, its categories), or a strong old interest, carried by the user's overall
            # vector and category affinity, fills every body.
            params["cluster_mix"] = 1.0
            if profile.clusters[cluster].categories:
                params["category_affinity"] = dict(profile.clusters[cluster].categories)
        vector = params["clusters"][0] if cluster is not None else _knn_vector(params)
        if mode == "approx" and vector is not None:
            pool = _num_candidates(num_candidates, fetch)
            knn = build_knn_clause(vector, num_candidates=pool, filters=body_filters, k=pool)
            collab = params.get("collab_vector")
            if collab is not None and params["weights"].get("collaborative", 0.0) > 0:
                # What people with similar taste liked is rarely near the text vector.
                taste = build_knn_clause(
                    collab, num_candidates=pool, filters=body_filters, k=pool, field=COLLAB_FIELD
                )
                knn = {"bool": {"should": [knn, taste], "minimum_should_match": 1}}
            if extra_candidates:
                also = {"ids": {"values": list(extra_candidates)}}
                knn = {"bool": {"should": [knn, also], "minimum_should_match": 1}}
            candidates = _filtered(knn, body_filters)
        else:
            candidates = build_candidates(None, filters=body_filters)
        bodies.append(
            {
                "query": {
                    "script_score": {"query": candidates, "script": build_blend_script(params)}
                },
                "size": fetch,
                "explain": explain,
                "_source": list(source_fields),
            }
        )
    return bodies


def _response_hits(response: Mapping[str, Any], position: int) -> list[Mapping[str, Any]]:
    if "error" in response:
        error = response["error"]
        kind = error.get("type") if isinstance(error, Mapping) else error
        logger.warning("recommendation body %d failed (%s); merging the others", position, kind)
        return []
    hits = response.get("hits", {}).get("hits", [])
    return [hit for hit in hits if isinstance(hit, Mapping) and "_id" in hit]


def merge_recommendations(
    responses: Sequence[Mapping[str, Any]],
    quotas: Sequence[int],
    size: int,
    *,
    clusters: Sequence[int | None] | None = None,
) -> list[MergedHit]:
    """Interleave per-cluster results: round-robin within quotas, then fill by score.

    Args:
        responses: the ``_msearch`` responses, one per body (a failed one counts as empty).
        quotas: how many hits each response may contribute in the round-robin phase.
        size: hits wanted.
        clusters: the cluster index of each response (``recommend_clusters``); default: the
            response's position.

    Returns:
        At most ``size`` hits, each id once (credited to the first cluster that took it):
        clusters take turns, largest quota first; if that leaves room (duplicates, short
        lists), the best remaining hits by ``_score`` fill it.
    """
    if len(quotas) != len(responses):
        raise InputError(f"{len(responses)} responses but {len(quotas)} quotas")
    owners = list(clusters) if clusters is not None else list(range(len(responses)))
    if len(owners) != len(responses):
        raise InputError(f"{len(responses)} responses but {len(owners)} cluster indices")
    lists = [_response_hits(r, i) for i, r in enumerate(responses)]
    positions = [0] * len(lists)
    taken_from = [0] * len(lists)
    seen: set[str] = set()
    merged: list[MergedHit] = []
    order = sorted(range(len(lists)), key=lambda i: -quotas[i])

    def next_new(i: int) -> Mapping[str, Any] | None:
        while positions[i] < len(lists[i]):
            hit = lists[i][positions[i]]
            positions[i] += 1
            if str(hit["_id"]) not in seen:
                return hit
        return None

    while len(merged) < size:
        progressed = False
        for i in order:
            if len(merged) >= size or taken_from[i] >= quotas[i]:
                continue
            hit = next_new(i)
            if hit is None:
                continue
            seen.add(str(hit["_id"]))
            merged.append(MergedHit(hit=hit, cluster=owners[i]))
            taken_from[i] += 1
            progressed = True
        if not progressed:
            break

    rest = [(hit, i) for i in range(len(lists)) for hit in lists[i][positions[i] :]]
    rest.sort(key=lambda pair: -float(pair[0].get("_score") or 0.0))
    for hit, i in rest:
        if len(merged) >= size:
            break
        if str(hit["_id"]) in seen:
            continue
        seen.add(str(hit["_id"]))
        merged.append(MergedHit(hit=hit, cluster=owners[i]))
    return merged


def build_top_items_body(field: str, size: int) -> dict[str, Any]:
    """The ``size`` items with the largest ``field`` (ids only): popular or newest candidates."""
    return {
        "size": _check_size(size),
        "sort": [{field: {"order": "desc", "missing": "_last", "unmapped_type": "long"}}],
        "_source": False,
        "query": {"match_all": {}},
    }


def build_cold_start_body(
    config: BlendConfig,
    size: int,
    now_ms: int,
    exclude_ids: Iterable[str] = (),
    *,
    filters: SearchFilters | None = None,
    explain: bool = True,
    source_fields: Sequence[str] = DEFAULT_SOURCE_FIELDS,
) -> dict[str, Any]:
    """Popular and fresh items for a user with no interests: only those two weights count.

    Their ratio comes from ``config`` (the defaults' if both are 0 there).
    """
    size = _check_size(size)
    weights = BlendWeights(freshness=config.weights.freshness, popularity=config.weights.popularity)
    if weights.total() <= 0:
        weights = BlendWeights(
            freshness=DEFAULT_WEIGHTS.freshness, popularity=DEFAULT_WEIGHTS.popularity
        )
    params = build_native_params(
        None, replace(config, weights=weights), query_vector=None, now_ms=now_ms, lexical=False
    )
    base = filters or SearchFilters()
    body_filters = replace(
        base, exclude_ids=tuple(dict.fromkeys((*base.exclude_ids, *exclude_ids)))
    )
    return {
        "query": {
            "script_score": {
                "query": build_candidates(None, filters=body_filters),
                "script": build_blend_script(params),
            }
        },
        "size": size,
        "explain": explain,
        "_source": list(source_fields),
    }


# --- portable mode ----------------------------------------------------------------------


def _iso_millis(now_ms: int) -> str:
    moment = datetime.fromtimestamp(now_ms / 1000.0, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_portable_search_body(
    query_text: str | None,
    *,
    params: Mapping[str, Any],
    segmented_query: str | None = None,
    filters: SearchFilters | None = None,
    size: int = 10,
    pool_size: int | None = None,
    num_candidates: int | None = None,
    source_fields: Sequence[str] = DEFAULT_SOURCE_FIELDS,
) -> dict[str, Any]:
    """The candidate pool for the portable mode (core queries only, no plugin).

    How each core query stands in for a native component (for the pool's order only; the
    final scores come from ``rank_portable_hits``):

    * bm25: the lexical clause named ``"bm25"`` in a bool with boost ``w_bm25 / (2 k)``, the
      secant of s/(s+k) through s = 0 and s = k.
    * interest: a knn clause on u with boost ``w_interest (1 - beta)``, one per cluster with
      ``w_interest beta cw_c`` (knn scores cosine as (1 + cos) / 2).
    * query: a knn clause on the query vector, boost ``w_query``.
    * category: a ``term`` on ``category`` per liked category, boost ``w_category aff``;
      these only add score, they do not add candidates.
    * freshness: ``exp`` decay on ``created_at`` with scale = half-life and decay 0.5, i.e.
      exactly 2^(-age/half_life), times ``w_freshness``.
    * popularity: ``field_value_factor`` ``log1p`` (log10(1 + p)) times
      ``w_popularity ln(10) / norm`` = w ln(1 + p) / norm, without the cap at 1.
    * collaborative: scored client-side only (the ``collab`` field may not be mapped).

    Candidates are the lexical matches plus each knn clause's neighbours (everything
    filtered when there are neither). Run with ``PORTABLE_SEARCH_PARAMS``.

    Args:
        query_text: what the user typed, or ``None``.
        params: ``build_native_params(...)`` for this request; pass the same to
            ``rank_portable_hits``.
        segmented_query: jieba-segmented query for ``text_zh``.
        filters: hard filters.
        size: hits wanted in the end.
        pool_size: candidates to fetch and re-score (default ``max(4 size, 50)``).
        num_candidates: knn candidates per shard.
        source_fields: ``_source`` fields besides the vectors, which are always fetched.
    """
    size = _check_size(size)
    pool = _check_size(pool_size or min(MAX_SIZE, max(4 * size, MIN_PORTABLE_POOL)), "pool_size")
    weights: Mapping[str, float] = params["weights"]
    k = float(params["bm25_k"])
    candidates_per_shard = _num_candidates(num_candidates, pool)
    retrieval: list[dict[str, Any]] = []
    text = (query_text or "").strip()
    if text:
        lexical = build_lexical_clause(text, segmented_query=segmented_query)
        lexical["bool"]["_name"] = BM25_QUERY_NAME
        retrieval.append({"bool": {"must": [lexical], "boost": weights["bm25"] / (2.0 * k)}})

    def knn(vector: Sequence[float], boost: float) -> None:
        if boost > 0:
            retrieval.append(
                build_knn_clause(
                    vector,
                    num_candidates=candidates_per_shard,
                    filters=filters,
                    boost=boost,
                    k=candidates_per_shard,
                )
            )

    beta = float(params.get("cluster_mix", 0.0))
    user = _params_user_vector(params)
    if user is not None:
        knn(user, weights["interest"] * (1.0 - beta))
    for vector, cluster_weight in zip(
        params.get("clusters") or [], params.get("cluster_weights") or [], strict=True
    ):
        knn(vector, weights["interest"] * beta * float(cluster_weight))
    if "query_vector" in params:
        knn(params["query_vector"], weights["query"])

    main: dict[str, Any] = (
        {"bool": {"should": retrieval, "minimum_should_match": 1}}
        if retrieval
        else {"match_all": {}}
    )
    query = _filtered(main, filters)
    affinity: Mapping[str, float] = params.get("category_affinity") or {}
    liked = sorted(
        ((name, min(1.0, value)) for name, value in affinity.items() if value > 0),
        key=lambda pair: -pair[1],
    )[:MAX_CATEGORY_CLAUSES]
    boosts = [
        {"term": {CATEGORY_FIELD: {"value": name, "boost": weights["category"] * value}}}
        for name, value in liked
        if weights["category"] > 0
    ]
    if boosts:
        query = {"bool": {"must": [query], "should": boosts}}

    functions: list[dict[str, Any]] = []
    if weights["freshness"] > 0:
        scale_ms = max(1, round(float(params["half_life_days"]) * MILLIS_PER_DAY))
        decay = {"origin": _iso_millis(int(params["now_millis"])), "scale": f"{scale_ms}ms"}
        functions.append(
            {"exp": {FRESHNESS_FIELD: {**decay, "decay": 0.5}}, "weight": weights["freshness"]}
        )
    if weights["popularity"] > 0:
        functions.append(
            {
                "field_value_factor": {
                    "field": POPULARITY_FIELD,
                    "modifier": "log1p",
                    "missing": 0,
                },
                "weight": weights["popularity"] * math.log(10.0) / float(params["popularity_norm"]),
            }
        )
    if functions:
        query = {
            "function_score": {
                "query": query,
                "functions": functions,
                "score_mode": "sum",
                "boost_mode": "sum",
            }
        }
    fields = list(dict.fromkeys((*source_fields, *VECTOR_SOURCE_FIELDS)))
    return {"query": query, "size": pool, "_source": fields, "track_total_hits": False}


def _named_bm25(hit: Mapping[str, Any]) -> float:
    matched = hit.get("matched_queries")
    if matched is None:
        return 0.0
    if isinstance(matched, Mapping):
        return float(matched.get(BM25_QUERY_NAME, 0.0))
    if BM25_QUERY_NAME in matched:
        raise InputError(
            "hit has matched_queries without scores: run the portable search with "
            "include_named_queries_score=true"
        )
    return 0.0


def _public_source(source: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k not in VECTOR_SOURCE_FIELDS}


def rank_portable_hits(
    response: Mapping[str, Any],
    *,
    params: Mapping[str, Any],
    profile: UserProfile | None,
    size: int,
) -> list[SearchHit]:
    """Score the portable pool with the native formulas and keep the best ``size``.

    Args:
        response: the search response of ``build_portable_search_body``.
        params: the same ``build_native_params(...)`` the body was built from.
        profile: the user (for cluster labels and reasons).
        size: hits to return.

    Returns:
        Hits ordered by blended score; components add up to each score.
    """
    size = _check_size(size)
    clusters = usable_clusters(profile)
    scored: list[SearchHit] = []
    for hit in response.get("hits", {}).get("hits", []):
        source: Mapping[str, Any] = hit.get("_source") or {}
        breakdown = evaluate(source, params=params, bm25_score=_named_bm25(hit))
        label = _cluster_label(profile, clusters, breakdown.cluster)
        scored.append(
            SearchHit(
                id=str(hit["_id"]),
                title=str(source.get("title") or ""),
                score=breakdown.score,
                components=breakdown.components,
                reason=reason_for(
                    breakdown.components, label, profile, item_category=_category_of(source)
                ),
                cluster_label=label,
                source=_public_source(source),
            )
        )
    scored.sort(key=lambda h: -h.score)
    return scored[:size]


# --- explanations -----------------------------------------------------------------------


def _decode_blend(description: str) -> Mapping[str, Any] | None:
    decoder = json.JSONDecoder()
    start = description.find("{")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(description, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, Mapping) and isinstance(value.get("components"), Mapping):
            return value
        start = description.find("{", start + 1)
    return None


def parse_explanation(hit: Mapping[str, Any]) -> tuple[dict[str, float], int]:
    """The scorer's weighted components and best cluster, from a hit's ``_explanation``.

    The scorer's node is found anywhere in the tree: the first ``description`` (depth first)
    holding a JSON object with a ``components`` object.

    Returns:
        Every component name mapped to its weighted value (missing ones 0), and the cluster
        index (-1 when none).

    Raises:
        InputError: the hit has no such explanation (``explain`` was off, or another
            scorer ran) or a component is not a number.
    """
    stack: list[Any] = [hit.get("_explanation")]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        description = node.get("description")
        found = _decode_blend(description) if isinstance(description, str) else None
        if found is not None:
            raw = found["components"]
            parsed: dict[str, float] = {}
            for name in WEIGHT_NAMES:
                value = raw.get(name, 0.0)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(f"explanation component {name!r} is not a number: {value!r}")
                parsed[name] = float(value)
            cluster = found.get("cluster")
            index = cluster if isinstance(cluster, int) and not isinstance(cluster, bool) else -1
            return parsed, index
        details = node.get("details") or []
        stack.extend(reversed(details))
    raise InputError(f"hit {hit.get('_id')!r} has no blend explanation (was explain on?)")


def _top(mapping: Mapping[str, float]) -> str | None:
    positive = [(value, name) for name, value in mapping.items() if value > 0]
    return max(positive)[1] if positive else None


def reason_for(
    components: Mapping[str, float],
    cluster_label: str | None,
    profile: UserProfile | None,
    *,
    item_category: str | None = None,
) -> str:
    """One plain-language reason, from the largest contribution (bm25 and query together).

    Args:
        components: weighted components of the hit.
        cluster_label: label of the interest cluster that matched best, if any.
        profile: the user, for a fallback label (top keyword or category).
        item_category: the item's category, named in the category reason.
    """
    search = components.get("bm25", 0.0) + components.get("query", 0.0)
    personal = {
        "interest": components.get("interest", 0.0),
        "category": components.get("category", 0.0),
        "collaborative": components.get("collaborative", 0.0),
    }
    context = {
        "popularity": components.get("popularity", 0.0),
        "freshness": components.get("freshness", 0.0),
    }
    total = search + sum(personal.values()) + sum(context.values())
    if total <= 0:
        return "recommended for you"
    label = cluster_label or (_top(profile.keywords) if profile else None)
    if search >= max(*personal.values(), *context.values()):
        if personal["interest"] >= PERSONAL_REASON_SHARE * total and label:
            return f"matches your search and your interest in {label}"
        return "matches your search"
    # Personal signals explain a pick better than freshness or popularity, which most items
    # share: they win once they carry a fair share of the score.
    best = max(personal, key=lambda name: personal[name])  # ties: the earlier one
    if personal[best] >= PERSONAL_REASON_SHARE * total:
        if best == "interest":
            return f"because of your interest in {label}" if label else "similar to what you like"
        if best == "category":
            name = item_category or (_top(profile.categories) if profile else None)
            return f"in a category you like ({name})" if name else "in a category you like"
        return "liked by people with similar tastes"
    return "popular right now" if context["popularity"] > context["freshness"] else "fresh"


def _category_of(source: Mapping[str, Any]) -> str | None:
    value = source.get(CATEGORY_FIELD)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def _cluster_label(profile: UserProfile | None, usable: Sequence[int], index: int) -> str | None:
    if profile is None or not 0 <= index < len(usable):
        return None
    return profile.clusters[usable[index]].label or None


def parse_hit(
    hit: Mapping[str, Any],
    *,
    profile: UserProfile | None,
    cluster: int | None = None,
) -> SearchHit:
    """A native hit as a ``SearchHit`` with components, reason and cluster label.

    Args:
        hit: one hit of a native search or recommendation response (with ``_explanation``).
        profile: the user.
        cluster: for a recommendation body, its cluster (``MergedHit.cluster``); otherwise
            the scorer's cluster index is mapped through ``usable_clusters``.
    """
    components, index = parse_explanation(hit)
    if cluster is not None:
        in_profile = profile is not None and 0 <= cluster < len(profile.clusters)
        label = (profile.clusters[cluster].label or None) if profile and in_profile else None
    else:
        label = _cluster_label(profile, usable_clusters(profile), index)
    source: Mapping[str, Any] = hit.get("_source") or {}
    return SearchHit(
        id=str(hit["_id"]),
        title=str(source.get("title") or ""),
        score=float(hit.get("_score") or 0.0),
        components=components,
        reason=reason_for(components, label, profile, item_category=_category_of(source)),
        cluster_label=label,
        source=_public_source(source),
    )
