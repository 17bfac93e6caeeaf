"""Recommendation bodies (one per interest cluster, quotas), their merge, and cold start (pure)."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from plugin.blend import (
    COLLAB_FIELD,
)
from plugin.calibration import centred
from plugin.errors import InputError
from plugin.queries.filters import (
    build_candidates,
    build_knn_clause,
    candidate_count,
    check_size,
    filtered,
)
from plugin.queries.limits import DEFAULT_SOURCE_FIELDS, GUARANTEED_SHARE
from plugin.queries.params import (
    build_blend_script,
    build_native_params,
    knn_vector,
    now_weights,
    usable_clusters,
)
from plugin.types import (
    BlendConfig,
    BlendWeights,
    MergedHit,
    Mode,
    SearchFilters,
    UserProfile,
)
from plugin.weights import DEFAULT_WEIGHTS

logger = logging.getLogger(__name__)

# Where approximate recommendation finds its candidates: knn on the interest (or cluster)
# vector, knn on the collaborative vector, the items the user's votes lift most (neighbours),
# and the most popular and newest items.
CANDIDATE_SOURCES = ("interest", "collaborative", "neighbours", "popular-new")
# A page of ten has room for about five interests: a body more costs a search and adds nothing.
MAX_CLUSTER_BODIES = 5


def recommend_clusters(
    profile: UserProfile, *, diversity: float = 1.0, now_share: float = 0.0
) -> list[int | None]:
    """Which cluster each recommendation body is for (``None``: the whole profile).

    ``diversity`` (the blend's): below 1 a body for the whole profile comes first and takes
    ``1 - diversity`` of the page (``cluster_quotas``); at 0 it is the only one. At most
    ``MAX_CLUSTER_BODIES`` interests get a body, those with the largest ``now_weights``
    (``now_share``, the blend's), in profile order.
    """
    indices = usable_clusters(profile)
    if not indices or diversity <= 0.0:
        return [None]
    if len(indices) > MAX_CLUSTER_BODIES:
        shares = now_weights([profile.clusters[i] for i in indices], now_share)
        ranked = sorted(range(len(indices)), key=lambda k: (-shares[k], k))
        indices = [indices[k] for k in sorted(ranked[:MAX_CLUSTER_BODIES])]
    return [None, *indices] if diversity < 1.0 else list(indices)


def cluster_quotas(
    profile: UserProfile, size: int, *, recent_share: float = 0.0, diversity: float = 1.0
) -> list[int]:
    """How many of ``size`` recommendations each body of ``recommend_clusters`` gets.

    With a whole-profile body (``diversity`` < 1), it gets ``size - round(diversity * size)``
    and the interests share the rest as below (none when that is 0).

    A cluster's share mixes its lasting weight with the belief that the user is in it now,
    ``recent_share`` of the latter (the blend's ``now_share``, ``now_weights``): a user who
    just switched topic sees the new one at once, not after it has outgrown the old one.
    Largest-remainder shares that sum to ``size``; every
    cluster with at least ``GUARANTEED_SHARE`` of the mix gets at least one while ``size``
    allows (diversity), the strongest first; a stray one-event interest competes by its share
    instead of taking a slot of its own.
    """
    size = check_size(size)
    targets = recommend_clusters(profile, diversity=diversity, now_share=recent_share)
    if targets == [None]:
        return [size]
    if targets[0] is None:
        shared = round(diversity * size)
        split = cluster_quotas(profile, shared, recent_share=recent_share) if shared else []
        return [size - shared, *(split or [0] * (len(targets) - 1))]
    weights = now_weights([profile.clusters[i] for i in targets if i is not None], recent_share)
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
    diversity: float = 1.0,
    sources: Collection[str] = CANDIDATE_SOURCES,
) -> list[dict[str, Any]]:
    """One ``_msearch`` body per interest cluster (order of ``recommend_clusters``), and one
    for the whole profile first when ``diversity`` < 1.

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
        diversity: the blend's share of the page split by interest (``cluster_quotas``).
        sources: the approx candidate sources used (``CANDIDATE_SOURCES``; fewer only to
            measure what each adds).

    Raises:
        InputError: the profile is empty, or a bad size/mode.
    """
    size = check_size(size)
    fetch = check_size(per_cluster_quota or size, "per_cluster_quota")
    if profile.is_empty:
        raise InputError(f"user {profile.user!r} has no interests yet; use the cold-start body")
    if mode not in ("exact", "approx"):
        raise InputError(f"mode must be 'exact' or 'approx', got {mode!r}")
    base = filters or SearchFilters()
    excluded = tuple(dict.fromkeys((*base.exclude_ids, *exclude_ids, *profile.recent_items)))
    body_filters = replace(base, exclude_ids=excluded)
    bodies: list[dict[str, Any]] = []
    targets = recommend_clusters(profile, diversity=diversity, now_share=config.now_share)
    whole_profile_body = None in targets
    for cluster in targets:
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
        vector = params["clusters"][0] if cluster is not None else knn_vector(params)
        if vector is not None:
            vector = centred(vector, params.get("centre"))
        if mode == "approx" and vector is not None:
            pool = candidate_count(num_candidates, fetch)
            retrieval: list[dict[str, Any]] = []
            if "interest" in sources:
                retrieval.append(
                    build_knn_clause(vector, num_candidates=pool, filters=body_filters, k=pool)
                )
            collab = params.get("collab_vector")
            weighted_collab = params["weights"].get("collaborative", 0.0) > 0
            if "collaborative" in sources and collab is not None and weighted_collab:
                # What people with similar taste liked is rarely near the text vector.
                retrieval.append(
                    build_knn_clause(
                        collab,
                        num_candidates=pool,
                        filters=body_filters,
                        k=pool,
                        field=COLLAB_FIELD,
                    )
                )
            # The items the user's votes lift most (in the whole-profile body when there is
            # one: 500 more candidates in every interest's body doubled its time), then the
            # popular and newest ones.
            voted = "neighbours" in sources and (cluster is None or not whole_profile_body)
            also_ids = [
                *(params.get("neighbour_scores", {}) if voted else ()),
                *(extra_candidates if "popular-new" in sources else ()),
            ]
            if also_ids:
                retrieval.append({"ids": {"values": list(dict.fromkeys(also_ids))}})
            if len(retrieval) == 1:
                knn = retrieval[0]
            else:
                knn = {
                    "bool": {"should": retrieval or [{"match_none": {}}], "minimum_should_match": 1}
                }
            candidates = filtered(knn, body_filters)
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


def build_explain_bodies(
    bodies: Sequence[Mapping[str, Any]],
    clusters: Sequence[int | None],
    merged: Sequence[MergedHit],
) -> list[tuple[int, dict[str, Any]]]:
    """For each body that contributed to ``merged``, the same script over just its hits, with
    ``explain``: the recommendation bodies run without it (explaining 20 hits of each of six
    bodies cost three quarters of a recommendation), and only the shown hits are explained.

    Returns:
        (body position, body) pairs; the script and ``_source`` are the original body's, so
        scores and components are the ones that ranked the hits.
    """
    position = {cluster: i for i, cluster in enumerate(clusters)}
    wanted: dict[int, list[str]] = {}
    for item in merged:
        wanted.setdefault(position[item.cluster], []).append(str(item.hit["_id"]))
    explain_bodies = []
    for index, ids in sorted(wanted.items()):
        original = bodies[index]
        script = original["query"]["script_score"]["script"]
        explain_bodies.append(
            (
                index,
                {
                    "query": {
                        "script_score": {"query": {"ids": {"values": ids}}, "script": script}
                    },
                    "size": len(ids),
                    "explain": True,
                    "_source": original.get("_source", list(DEFAULT_SOURCE_FIELDS)),
                },
            )
        )
    return explain_bodies


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
        "size": check_size(size),
        "sort": [{field: {"order": "desc", "missing": "_last", "unmapped_type": "long"}}],
        "_source": False,
        "query": {"match_all": {}},
    }


def cold_start_config(config: BlendConfig) -> BlendConfig:
    """The blend for a user with no interests: only freshness and popularity count, in the
    ratio the admin set (an admin's 0 stays 0); the defaults' ratio only if both are 0.

    The native and the portable cold start both use it, so they rank alike.
    """
    weights = BlendWeights(freshness=config.weights.freshness, popularity=config.weights.popularity)
    if weights.total() <= 0:
        weights = BlendWeights(
            freshness=DEFAULT_WEIGHTS.freshness, popularity=DEFAULT_WEIGHTS.popularity
        )
    return replace(config, weights=weights)


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
    """Popular and fresh items for a user with no interests (``cold_start_config``)."""
    size = check_size(size)
    params = build_native_params(
        None, cold_start_config(config), query_vector=None, now_ms=now_ms, lexical=False
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
