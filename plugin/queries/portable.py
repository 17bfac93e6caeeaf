"""The portable mode (no plugin): a core-query pool ranked in Python by plugin.blend (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from plugin.blend import (
    CATEGORY_FIELD,
    FRESHNESS_FIELD,
    ID_FIELD,
    MILLIS_PER_DAY,
    POPULARITY_FIELD,
    evaluate,
)
from plugin.calibration import centred
from plugin.errors import InputError
from plugin.queries.explain import category_of, cluster_label, public_source, reason_for
from plugin.queries.filters import (
    build_knn_clause,
    build_lexical_clause,
    candidate_count,
    check_size,
    filtered,
)
from plugin.queries.limits import (
    BM25_QUERY_NAME,
    DEFAULT_SOURCE_FIELDS,
    MAX_CATEGORY_CLAUSES,
    MAX_SIZE,
    MIN_PORTABLE_POOL,
    VECTOR_SOURCE_FIELDS,
)
from plugin.queries.params import ScorerParams, params_user_vector, usable_clusters
from plugin.types import (
    SearchFilters,
    SearchHit,
    UserProfile,
)


def _iso_millis(now_ms: int) -> str:
    moment = datetime.fromtimestamp(now_ms / 1000.0, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_portable_search_body(
    query_text: str | None,
    *,
    params: ScorerParams,
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
    * neighbours: the scored ids as one more candidate clause (boost ``w_neighbours``); their
      own scores are applied client-side.

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
    size = check_size(size)
    pool = check_size(pool_size or min(MAX_SIZE, max(4 * size, MIN_PORTABLE_POOL)), "pool_size")
    weights = params["weights"]
    k = params["bm25_k"]
    candidates_per_shard = candidate_count(num_candidates, pool)
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
                    centred(vector, params.get("centre")),
                    num_candidates=candidates_per_shard,
                    filters=filters,
                    boost=boost,
                    k=candidates_per_shard,
                )
            )

    beta = params["cluster_mix"]
    user = params_user_vector(params)
    if user is not None:
        knn(user, weights["interest"] * (1.0 - beta))
    for vector, cluster_weight in zip(
        params.get("clusters") or [], params.get("cluster_weights") or [], strict=True
    ):
        knn(vector, weights["interest"] * beta * cluster_weight)
    if "query_vector" in params:
        knn(params["query_vector"], weights["query"])
    voted = params.get("neighbour_scores") or {}
    if voted and weights.get("neighbours", 0.0) > 0:
        retrieval.append({"ids": {"values": list(voted), "boost": weights["neighbours"]}})

    main: dict[str, Any] = (
        {"bool": {"should": retrieval, "minimum_should_match": 1}}
        if retrieval
        else {"match_all": {}}
    )
    query = filtered(main, filters)
    affinity = params.get("category_affinity") or {}
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
        scale_ms = max(1, round(params["half_life_days"] * MILLIS_PER_DAY))
        decay = {"origin": _iso_millis(params["now_millis"]), "scale": f"{scale_ms}ms"}
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
                "weight": weights["popularity"] * math.log(10.0) / params["popularity_norm"],
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


def rank_portable_hits(
    response: Mapping[str, Any],
    *,
    params: ScorerParams,
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
    size = check_size(size)
    clusters = usable_clusters(profile)
    scored: list[SearchHit] = []
    for hit in response.get("hits", {}).get("hits", []):
        source: Mapping[str, Any] = hit.get("_source") or {}
        # The scorer reads the id from the `id` field; a hit's `_id` is the same id.
        document = {ID_FIELD: str(hit["_id"]), **source}
        breakdown = evaluate(document, params=params, bm25_score=_named_bm25(hit))
        label = cluster_label(profile, clusters, breakdown.cluster)
        scored.append(
            SearchHit(
                id=str(hit["_id"]),
                title=str(source.get("title") or ""),
                score=breakdown.score,
                components=breakdown.components,
                reason=reason_for(
                    breakdown.components,
                    label,
                    profile,
                    item_category=category_of(source),
                    liked=profile.neighbour_because.get(str(hit["_id"])) if profile else None,
                    weights=params["weights"],
                ),
                cluster_label=label,
                source=public_source(source),
            )
        )
    scored.sort(key=lambda h: -h.score)
    return scored[:size]
