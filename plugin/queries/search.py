"""The body of a personalised search: exact or approx, native scorer (pure)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from plugin.calibration import centred
from plugin.errors import InputError
from plugin.queries.filters import (
    build_candidates,
    build_knn_clause,
    build_lexical_clause,
    candidate_count,
    check_size,
    filtered,
)
from plugin.queries.limits import DEFAULT_SOURCE_FIELDS
from plugin.queries.params import build_blend_script, build_native_params, knn_vector
from plugin.types import (
    BlendConfig,
    Mode,
    SearchFilters,
    UserProfile,
)

logger = logging.getLogger(__name__)


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
    size = check_size(size)
    lexical = bool((query_text or "").strip())
    params = build_native_params(
        profile, config, query_vector=query_vector, now_ms=now_ms, lexical=lexical
    )
    if mode == "exact":
        candidates = build_candidates(query_text, segmented_query=segmented_query, filters=filters)
    elif mode == "approx":
        vector = knn_vector(params)
        if vector is None:
            logger.info("approx search without a query or user vector: exact candidates")
            candidates = build_candidates(
                query_text, segmented_query=segmented_query, filters=filters
            )
        else:
            pool = candidate_count(num_candidates, size)
            knn = build_knn_clause(
                centred(vector, params.get("centre")),
                num_candidates=pool,
                filters=filters,
                boost=0.0,  # keeps the subquery _score pure BM25 (see the module docstring)
                k=pool,  # every HNSW candidate is blended, not just `size` of them
            )
            should = [knn]
            if lexical and query_text is not None:
                should.insert(0, build_lexical_clause(query_text, segmented_query=segmented_query))
            union = {"bool": {"should": should, "minimum_should_match": 1}}
            candidates = filtered(union, filters)
    else:
        raise InputError(f"mode must be 'exact' or 'approx', got {mode!r}")
    return {
        "query": {"script_score": {"query": candidates, "script": build_blend_script(params)}},
        "size": size,
        "explain": explain,
        "_source": list(source_fields),
    }
