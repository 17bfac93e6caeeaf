"""Request bodies of personalised search and recommendation, and reading their hits (pure).

Modules: ``limits`` (field lists and limits), ``filters`` (filters, lexical and knn clauses),
``params`` (the native scorer's params), ``search``, ``recommend`` (bodies, quotas, merge,
cold start), ``portable`` (the no-plugin mode) and ``explain`` (reading hits and reasons).

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

from plugin.queries.explain import parse_explanation, parse_hit, reason_for
from plugin.queries.filters import (
    build_candidates,
    build_filter_query,
    build_knn_clause,
    build_lexical_clause,
)
from plugin.queries.limits import PORTABLE_SEARCH_PARAMS
from plugin.queries.params import (
    ScorerParams,
    build_blend_script,
    build_native_params,
    script_weights,
    usable_clusters,
)
from plugin.queries.portable import build_portable_search_body, rank_portable_hits
from plugin.queries.recommend import (
    CANDIDATE_SOURCES,
    build_cold_start_body,
    build_explain_bodies,
    build_recommend_bodies,
    build_top_items_body,
    cluster_quotas,
    cold_start_config,
    merge_recommendations,
    recommend_clusters,
)
from plugin.queries.search import build_search_body

__all__ = [
    "CANDIDATE_SOURCES",
    "PORTABLE_SEARCH_PARAMS",
    "ScorerParams",
    "build_blend_script",
    "build_candidates",
    "build_cold_start_body",
    "build_explain_bodies",
    "build_filter_query",
    "build_knn_clause",
    "build_lexical_clause",
    "build_native_params",
    "build_portable_search_body",
    "build_recommend_bodies",
    "build_search_body",
    "build_top_items_body",
    "cluster_quotas",
    "cold_start_config",
    "merge_recommendations",
    "parse_explanation",
    "parse_hit",
    "rank_portable_hits",
    "reason_for",
    "recommend_clusters",
    "script_weights",
    "usable_clusters",
]
