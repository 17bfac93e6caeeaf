"""Filters, the lexical clause and the knn candidate clauses (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plugin.blend import (
    CATEGORY_FIELD,
    FRESHNESS_FIELD,
    VECTOR_FIELD,
)
from plugin.errors import InputError
from plugin.queries.limits import (
    CHINESE_FIELD,
    KEYWORD_FIELDS,
    LEXICAL_FIELDS,
    MAX_NUM_CANDIDATES,
    MAX_QUERY_TERMS,
    MAX_SIZE,
    MAX_TERM_CHARS,
    MIN_NUM_CANDIDATES,
)
from plugin.types import (
    SearchFilters,
)


def check_size(size: int, what: str = "size") -> int:
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


def filtered(main: dict[str, Any], filters: SearchFilters | None) -> dict[str, Any]:
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
    return filtered(main, filters)


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


def candidate_count(num_candidates: int | None, size: int) -> int:
    if num_candidates is None:
        return min(MAX_NUM_CANDIDATES, max(MIN_NUM_CANDIDATES, 2 * size))
    if isinstance(num_candidates, bool) or not isinstance(num_candidates, int):
        raise InputError(f"num_candidates must be an integer, got {num_candidates!r}")
    if not 1 <= num_candidates <= MAX_NUM_CANDIDATES:
        raise InputError(f"num_candidates must be in [1, {MAX_NUM_CANDIDATES}]")
    return max(num_candidates, size)
