"""Personalised search, measured: does knowing the user help a query? (MovieLens)

For each evaluated user, up to ``QUERIES_PER_USER`` of their test positives (a seeded draw)
become queries, each one of the item's genres (a seeded draw): what someone browsing
"Comedy" types, a query that matches hundreds of movies, so only the ranking decides whether
the one the user goes on to like comes first. Each query is ranked three ways, leaving out
the user's training items:

* ``bm25``: the query alone (no user), plain BM25 order;
* ``bm25+popularity``: the stored bm25 and popularity weights, everything personal at 0;
* ``dynamic-interest``: the personalised search with the stored blend.

NDCG@10 and recall@10 of the target item (one relevant item per query), means over queries.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from plugin.app.evaluation.movielens import ITEM_PREFIX, USER_PREFIX, Split
from plugin.app.evaluation.ranking import mean, ndcg_at_k, recall_at_k
from plugin.types import SearchFilters

QUERIES_PER_USER = 3
SIZE = 10
THREADS = 4
PERSONAL_OFF = {
    "interest": 0.0,
    "query": 0.0,
    "category": 0.0,
    "collaborative": 0.0,
    "neighbours": 0.0,
    "freshness": 0.0,
}
SEARCH_METHODS = ("bm25", "bm25+popularity", "dynamic-interest")


def genre_queries(
    split: Split,
    users: Sequence[str],
    genres: Mapping[str, Sequence[str]],
    *,
    seed: int,
    per_user: int = QUERIES_PER_USER,
) -> list[tuple[str, str, str]]:
    """(user, query, target item) triples: seeded, the same for every method."""
    rng = random.Random(seed)
    queries = []
    for user in users:
        targets = sorted(item for item in split.users[user].test if genres.get(item))
        for item in rng.sample(targets, min(per_user, len(targets))):
            queries.append((user, rng.choice(sorted(genres[item])), item))
    return queries


def run(
    service: Any,
    split: Split,
    users: Sequence[str],
    genres: Mapping[str, Sequence[str]],
    foreign: Sequence[str],
    *,
    seed: int,
) -> dict[str, Any]:
    """Every method's NDCG@10 and recall@10 over the genre queries of ``users``."""
    queries = genre_queries(split, users, genres, seed=seed)

    def rank(query: tuple[str, str, str]) -> dict[str, list[str]]:
        user, text, _ = query
        exclude = tuple(sorted(ITEM_PREFIX + i for i in split.users[user].train_items))
        filters = SearchFilters(exclude_ids=(*exclude, *foreign))
        personal = USER_PREFIX + user
        results = {
            "bm25": service.search(text, size=SIZE, filters=filters),
            "bm25+popularity": service.search(
                text, user=personal, size=SIZE, filters=filters, weights=PERSONAL_OFF
            ),
            "dynamic-interest": service.search(text, user=personal, size=SIZE, filters=filters),
        }
        return {name: [hit.id for hit in result.hits] for name, result in results.items()}

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        ranked = list(pool.map(rank, queries))
    methods: dict[str, dict[str, float]] = {}
    for name in SEARCH_METHODS:
        pairs = [
            (lists[name], {ITEM_PREFIX + q[2]}) for q, lists in zip(queries, ranked, strict=True)
        ]
        methods[name] = {
            "ndcg@10": round(mean(ndcg_at_k(r, t, SIZE) for r, t in pairs), 4),
            "recall@10": round(mean(recall_at_k(r, t, SIZE) for r, t in pairs), 4),
        }
    return {
        "queries": len(queries),
        "query_kind": "one genre of a test positive (seeded); that item is the target",
        "methods": methods,
    }
