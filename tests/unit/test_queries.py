"""Request bodies, explanations, merging and the portable re-ranking (plain dicts, no client)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest

from plugin import blend
from plugin.errors import InputError
from plugin.queries import (
    PORTABLE_SEARCH_PARAMS,
    build_candidates,
    build_cold_start_body,
    build_explain_bodies,
    build_native_params,
    build_portable_search_body,
    build_recommend_bodies,
    build_search_body,
    cluster_quotas,
    cold_start_config,
    merge_recommendations,
    parse_explanation,
    parse_hit,
    rank_portable_hits,
    reason_for,
    recommend_clusters,
    usable_clusters,
)
from plugin.types import (
    WEIGHT_NAMES,
    BlendWeights,
    InterestCluster,
    MergedHit,
    SearchFilters,
    UserProfile,
)
from plugin.weights import default_config

NOW = 1_780_000_000_000
DAY = 86_400_000
CONFIG = default_config()


def _profile(**overrides: Any) -> UserProfile:
    fields: dict[str, Any] = {
        "user": "u1",
        "long_term": (1.0, 0.0, 0.0),
        "short_term": (0.0, 1.0, 0.0),
        "clusters": (
            InterestCluster((1.0, 0.0, 0.0), 3.0, "电影"),
            InterestCluster((0.0, 0.0, 0.0), 5.0, "broken"),
            InterestCluster((0.0, 0.0, 1.0), 1.0, "sports"),
        ),
        "categories": {"sports": 0.8, "news": 0.1},
        "keywords": {"电影": 2.0, "导演": 1.0},
        "recent_items": ("seen-1", "seen-2"),
    }
    fields.update(overrides)
    return UserProfile(**fields)


def _script(body: dict[str, Any]) -> dict[str, Any]:
    script: dict[str, Any] = body["query"]["script_score"]["script"]
    return script


def _find(node: object, key: str) -> list[Any]:
    """Every value under ``key`` anywhere in a nested dict/list."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found.extend(_find(v, key))
    elif isinstance(node, list):
        for v in node:
            found.extend(_find(v, key))
    return found


# --- candidates -------------------------------------------------------------------------


def test_candidates_english_query_fields_and_terms() -> None:
    query = build_candidates("machine learning", segmented_query=None, filters=None)
    should = query["bool"]["should"]
    assert query["bool"]["minimum_should_match"] == 1
    assert should[0]["multi_match"]["query"] == "machine learning"
    assert should[0]["multi_match"]["fields"] == ["title^2", "body"]
    terms = {(f, c["value"]) for clause in should[1:] for f, c in clause["term"].items()}
    assert ("keywords", "machine") in terms
    assert ("tags", "learning") in terms
    assert ("tags", "machine learning") in terms
    assert _find(query, "text_zh") == []


def test_candidates_chinese_query_goes_to_text_zh_segmented() -> None:
    query = build_candidates("我喜欢看电影", segmented_query="我 喜欢 看 电影", filters=None)
    zh = _find(query, "text_zh")
    assert zh == [{"query": "我 喜欢 看 电影"}]
    terms = {c["value"] for t in _find(query, "term") for c in t.values()}
    assert "电影" in terms
    assert "我喜欢看电影" not in terms


def test_candidates_filters_and_excluded_ids() -> None:
    filters = SearchFilters(
        categories=("sports", "news"),
        created_from="2026-01-01",
        created_to="now",
        exclude_ids=("a", "b", "a"),
    )
    query = build_candidates("golf", filters=filters)
    assert query["bool"]["must"][0]["bool"]["should"][0]["multi_match"]["query"] == "golf"
    assert {"terms": {"category": ["sports", "news"]}} in query["bool"]["filter"]
    assert {"range": {"created_at": {"gte": "2026-01-01", "lte": "now"}}} in query["bool"]["filter"]
    assert query["bool"]["must_not"] == [{"ids": {"values": ["a", "b"]}}]


def test_candidates_without_text_is_match_all() -> None:
    assert build_candidates(None) == {"match_all": {}}
    assert build_candidates("   ") == {"match_all": {}}
    query = build_candidates(None, filters=SearchFilters(exclude_ids=("x",)))
    assert query == {
        "bool": {"must": [{"match_all": {}}], "must_not": [{"ids": {"values": ["x"]}}]}
    }


# --- native params ----------------------------------------------------------------------


@pytest.mark.parametrize("profile", [None, UserProfile(user="new")])
def test_native_params_cold_user_search_is_plain_bm25(profile: UserProfile | None) -> None:
    params = build_native_params(profile, CONFIG, query_vector=[0.1, 0.2, 0.3], now_ms=NOW)
    weights = params["weights"]
    assert weights["bm25"] == CONFIG.weights.bm25
    assert all(value == 0.0 for name, value in weights.items() if name != "bm25")
    assert "long_term" not in params
    assert "clusters" not in params
    assert "category_affinity" not in params


def test_native_params_warm_user_full_contract() -> None:
    params = build_native_params(_profile(), CONFIG, query_vector=[0.5, 0.5, 0.0], now_ms=NOW)
    # A search: behaviour components count at most as much as bm25.
    capped = {
        name: min(CONFIG.weights.bm25, value) for name, value in CONFIG.weights.as_dict().items()
    }
    assert params["weights"] == {
        **CONFIG.weights.as_dict(),
        **{name: capped[name] for name in ("collaborative", "neighbours")},
    }
    assert params["bm25_k"] == 5.0
    assert params["vector_field"] == "embedding"
    assert params["now_millis"] == NOW
    assert params["freshness_field"] == "created_at"
    assert params["category_field"] == "category"
    assert params["popularity_field"] == "popularity"
    assert params["collab_field"] == "collab"
    assert params["query_vector"] == [0.5, 0.5, 0.0]
    assert params["long_term"] == [1.0, 0.0, 0.0]
    assert params["short_term"] == [0.0, 1.0, 0.0]
    assert params["short_term_weight"] == 0.5
    assert params["cluster_mix"] == 0.5
    # the zero-vector cluster is dropped; weights relative to the strongest remaining one
    assert params["clusters"] == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert params["cluster_weights"] == pytest.approx([1.0, 1 / 3])
    assert params["category_affinity"] == {"sports": 0.8, "news": 0.1}
    assert "collab_vector" not in params


def test_native_params_without_query_vector_or_text() -> None:
    params = build_native_params(_profile(), CONFIG, query_vector=None, now_ms=NOW, lexical=False)
    assert "query_vector" not in params
    assert params["weights"]["query"] == 0.0
    assert params["weights"]["bm25"] == 0.0
    assert params["weights"]["interest"] == CONFIG.weights.interest


def test_native_params_mixing_fractions_follow_available_vectors() -> None:
    only_long = build_native_params(
        _profile(short_term=None, clusters=()), CONFIG, query_vector=None, now_ms=NOW
    )
    assert only_long["short_term_weight"] == 0.0
    assert only_long["cluster_mix"] == 0.0
    only_short = build_native_params(
        _profile(long_term=None), CONFIG, query_vector=None, now_ms=NOW
    )
    assert only_short["short_term_weight"] == 1.0
    only_clusters = build_native_params(
        _profile(long_term=None, short_term=None), CONFIG, query_vector=None, now_ms=NOW
    )
    assert only_clusters["cluster_mix"] == 1.0


def test_native_params_collab_vector_and_zero_vectors() -> None:
    profile = _profile(collab_vector=(0.3, 0.4), long_term=(0.0, 0.0, 0.0))
    params = build_native_params(profile, CONFIG, query_vector=[0.0, 0.0, 0.0], now_ms=NOW)
    assert params["collab_vector"] == [0.3, 0.4]
    assert "long_term" not in params
    assert "query_vector" not in params


def test_native_params_rejects_mismatched_or_nan_vectors() -> None:
    with pytest.raises(InputError, match="different lengths"):
        build_native_params(_profile(), CONFIG, query_vector=[1.0, 0.0], now_ms=NOW)
    with pytest.raises(InputError, match="NaN"):
        build_native_params(_profile(), CONFIG, query_vector=[1.0, math.nan, 0.0], now_ms=NOW)


def test_native_params_all_usable_weights_zero_falls_back() -> None:
    config = replace(CONFIG, weights=BlendWeights(interest=1.0))
    params = build_native_params(None, config, query_vector=None, now_ms=NOW)
    assert params["weights"]["bm25"] == 1.0
    assert sum(params["weights"].values()) == 1.0


# --- search bodies ----------------------------------------------------------------------


def test_search_body_exact_shape() -> None:
    body = build_search_body(
        "golf",
        profile=_profile(),
        config=CONFIG,
        query_vector=[0.5, 0.5, 0.0],
        now_ms=NOW,
        size=7,
        filters=SearchFilters(exclude_ids=("seen",)),
    )
    assert set(body) == {"query", "size", "explain", "_source"}
    assert body["size"] == 7
    assert body["explain"] is True
    assert "embedding" not in body["_source"]
    assert "title" in body["_source"]
    script = _script(body)
    assert script["source"] == "blend"
    assert script["lang"] == "interest"
    assert script["params"]["weights"]["interest"] == CONFIG.weights.interest
    candidates = body["query"]["script_score"]["query"]
    assert candidates["bool"]["must_not"] == [{"ids": {"values": ["seen"]}}]
    assert _find(candidates, "knn") == []


def test_search_body_cold_user_has_interest_weights_zero() -> None:
    body = build_search_body("golf", profile=None, config=CONFIG, query_vector=None, now_ms=NOW)
    weights = _script(body)["params"]["weights"]
    assert (weights["interest"], weights["category"], weights["collaborative"]) == (0, 0, 0)
    assert weights["bm25"] == CONFIG.weights.bm25


def test_search_body_approx_unions_lexical_and_knn() -> None:
    filters = SearchFilters(categories=("sports",), exclude_ids=("x",))
    body = build_search_body(
        "golf",
        profile=_profile(),
        config=CONFIG,
        query_vector=[0.5, 0.5, 0.0],
        now_ms=NOW,
        mode="approx",
        size=10,
        num_candidates=80,
        filters=filters,
    )
    candidates = body["query"]["script_score"]["query"]
    union = candidates["bool"]["must"][0]["bool"]
    assert union["minimum_should_match"] == 1
    lexical, knn_clause = union["should"]
    assert lexical["bool"]["should"][0]["multi_match"]["query"] == "golf"
    knn = knn_clause["knn"]
    assert knn["field"] == "embedding"
    assert knn["query_vector"] == [0.5, 0.5, 0.0]
    assert knn["num_candidates"] == 80
    assert knn["k"] == 80  # without k, Elasticsearch would blend only `size` neighbours
    assert knn["boost"] == 0.0
    assert knn["filter"]["bool"]["filter"] == [{"terms": {"category": ["sports"]}}]
    assert knn["filter"]["bool"]["must_not"] == [{"ids": {"values": ["x"]}}]
    assert candidates["bool"]["filter"] == [{"terms": {"category": ["sports"]}}]


def test_search_body_approx_without_query_vector_uses_user_vector() -> None:
    body = build_search_body(
        None, profile=_profile(), config=CONFIG, query_vector=None, now_ms=NOW, mode="approx"
    )
    (knn,) = _find(body["query"]["script_score"]["query"], "knn")
    assert knn["query_vector"] == [0.5, 0.5, 0.0]  # (1 - 0.5) long + 0.5 short
    assert _script(body)["params"]["weights"]["bm25"] == 0.0


def test_search_body_approx_without_any_vector_is_exact() -> None:
    body = build_search_body(
        "golf", profile=None, config=CONFIG, query_vector=None, now_ms=NOW, mode="approx"
    )
    assert _find(body, "knn") == []
    assert _find(body, "multi_match")[0]["query"] == "golf"


@pytest.mark.parametrize(("mode", "size"), [("hybrid", 10), ("exact", 0), ("exact", 10_001)])
def test_search_body_bad_mode_or_size_raises(mode: str, size: int) -> None:
    with pytest.raises(InputError):
        build_search_body(
            "golf",
            profile=None,
            config=CONFIG,
            query_vector=None,
            now_ms=NOW,
            mode=mode,  # type: ignore[arg-type]
            size=size,
        )


# --- recommendation ---------------------------------------------------------------------


def test_recommend_bodies_one_per_usable_cluster() -> None:
    profile = _profile()
    bodies = build_recommend_bodies(
        profile, CONFIG, size=10, now_ms=NOW, exclude_ids=["seen-0"], per_cluster_quota=6
    )
    assert recommend_clusters(profile) == [0, 2]
    assert len(bodies) == 2
    for body, vector in zip(bodies, ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]), strict=True):
        params = _script(body)["params"]
        assert params["clusters"] == [vector]
        assert params["cluster_weights"] == [1.0]
        assert params["weights"]["bm25"] == 0.0
        assert body["size"] == 6
        candidates = body["query"]["script_score"]["query"]
        assert candidates["bool"]["must"][0]["knn"]["query_vector"] == vector
        knn = candidates["bool"]["must"][0]["knn"]
        assert knn["k"] == knn["num_candidates"] == 100
        assert candidates["bool"]["must_not"] == [
            {"ids": {"values": ["seen-0", "seen-1", "seen-2"]}}
        ]


def test_each_cluster_body_ranks_by_its_own_interest_and_categories() -> None:
    profile = _profile(
        clusters=(
            InterestCluster((1.0, 0.0, 0.0), 1.0, "old", categories={"sports": 1.0}),
            InterestCluster((0.0, 0.0, 1.0), 0.4, "new", categories={"tech": 0.75, "game": 0.25}),
        )
    )
    old, new = (_script(body)["params"] for body in build_recommend_bodies(
        profile, CONFIG, size=10, now_ms=NOW))  # fmt: skip
    assert old["cluster_mix"] == new["cluster_mix"] == 1.0  # not the overall vector
    assert old["category_affinity"] == {"sports": 1.0}
    assert new["category_affinity"] == {"tech": 0.75, "game": 0.25}
    # Without categories on the cluster, the user's affinity stays.
    plain = _script(build_recommend_bodies(_profile(), CONFIG, size=10, now_ms=NOW)[0])["params"]
    assert plain["category_affinity"] == {"sports": 0.8, "news": 0.1}


def test_approx_bodies_also_score_the_popular_and_new_items_but_never_seen_ones() -> None:
    profile = _profile()
    extra = ("pop-1", "new-1")
    approx = build_recommend_bodies(profile, CONFIG, size=5, now_ms=NOW, extra_candidates=extra)
    for body in approx:
        candidates = body["query"]["script_score"]["query"]
        assert {"ids": {"values": ["pop-1", "new-1"]}} in _find(candidates, "should")[0]
        assert candidates["bool"]["must_not"]  # the seen items stay excluded around it all
    exact = build_recommend_bodies(
        profile, CONFIG, size=5, now_ms=NOW, extra_candidates=extra, mode="exact"
    )
    assert not any("pop-1" in repr(body) for body in exact)  # exact scores everything anyway


def test_recommend_bodies_exact_mode_scores_all_filtered_items() -> None:
    bodies = build_recommend_bodies(_profile(), CONFIG, size=5, now_ms=NOW, mode="exact")
    candidates = bodies[0]["query"]["script_score"]["query"]
    assert candidates["bool"]["must"] == [{"match_all": {}}]
    assert _find(bodies, "knn") == []


def test_recommend_bodies_without_clusters_use_user_vector() -> None:
    profile = _profile(clusters=())
    bodies = build_recommend_bodies(profile, CONFIG, size=5, now_ms=NOW)
    assert recommend_clusters(profile) == [None]
    (knn,) = _find(bodies[0]["query"], "knn")
    assert knn["query_vector"] == [0.5, 0.5, 0.0]


def test_recommend_bodies_empty_profile_raises() -> None:
    with pytest.raises(InputError, match="cold-start"):
        build_recommend_bodies(UserProfile(user="new"), CONFIG, size=5, now_ms=NOW)


def test_cluster_quotas_proportional_and_at_least_one() -> None:
    profile = _profile()
    assert cluster_quotas(profile, 8) == [6, 2]  # weights 3 and 1; zero-vector cluster ignored
    assert cluster_quotas(profile, 2) == [1, 1]
    assert cluster_quotas(profile, 1) == [1, 0]
    assert sum(cluster_quotas(profile, 13)) == 13
    assert cluster_quotas(_profile(clusters=()), 4) == [4]


def test_stray_small_interests_compete_by_share_instead_of_taking_a_slot_each() -> None:
    weights = (0.5, 0.35, 0.05, 0.05, 0.05)
    profile = _profile(
        clusters=tuple(
            InterestCluster(tuple(float(i == k) for i in range(5)), w, f"c{k}")
            for k, w in enumerate(weights)
        ),
        long_term=(1.0, 0.0, 0.0, 0.0, 0.0),
        short_term=None,
    )
    quotas = cluster_quotas(profile, 10)
    assert sum(quotas) == 10 and quotas[:2] == [5, 4]
    assert quotas[2:].count(0) >= 2  # at most one of the strays shows, by its remainder


def test_cluster_quotas_give_the_recent_interest_its_share_at_once() -> None:
    switched = _profile(
        clusters=(
            InterestCluster((1.0, 0.0, 0.0), 1.0, "old", recent=0.1),
            InterestCluster((0.0, 0.0, 1.0), 0.2, "new", recent=0.9),
        )
    )
    assert cluster_quotas(switched, 10) == [8, 2]  # lasting weight only
    # 0.5 * 1/1.2 + 0.5 * 0.1 = 0.47 vs 0.5 * 0.2/1.2 + 0.5 * 0.9 = 0.53
    assert cluster_quotas(switched, 10, recent_share=0.5) == [5, 5]
    assert cluster_quotas(switched, 10, recent_share=1.0) == [2, 8]  # one each, then 0.1:0.9
    # Without recency recorded (documents written before it existed) the weights decide.
    assert cluster_quotas(_profile(), 8, recent_share=0.5) == [6, 2]


def test_diversity_gives_the_rest_of_the_page_to_one_whole_profile_ranking() -> None:
    profile = _profile()
    assert recommend_clusters(profile, diversity=1.0) == [0, 2]
    assert recommend_clusters(profile, diversity=0.5) == [None, 0, 2]
    assert recommend_clusters(profile, diversity=0.0) == [None]
    assert cluster_quotas(profile, 8, diversity=1.0) == [6, 2]
    assert cluster_quotas(profile, 8, diversity=0.5) == [4, 3, 1]  # 4 whole, interests 3:1
    assert cluster_quotas(profile, 10, diversity=0.0) == [10]
    assert cluster_quotas(profile, 10, diversity=0.04) == [10, 0, 0]  # rounds to no slots
    bodies = build_recommend_bodies(profile, CONFIG, size=8, now_ms=NOW, diversity=0.5)
    assert len(bodies) == 3
    assert (
        "clusters" not in _script(bodies[0])["params"]
        or len(_script(bodies[0])["params"]["clusters"]) == 2
    )  # the whole-profile body blends every usable interest


def test_neighbour_scores_go_to_the_scorer_and_become_approx_candidates() -> None:
    profile = _profile(neighbour_scores={"n1": 1.0, "n2": 0.4})
    config = replace(CONFIG, weights=replace(CONFIG.weights, neighbours=0.5))
    params = build_native_params(profile, config, query_vector=None, now_ms=NOW, lexical=False)
    assert params["neighbour_scores"] == {"n1": 1.0, "n2": 0.4} and params["id_field"] == "id"
    no_neighbours = replace(CONFIG, weights=replace(CONFIG.weights, neighbours=0.0))
    off = build_native_params(profile, no_neighbours, query_vector=None, now_ms=NOW, lexical=False)
    assert "neighbour_scores" not in off  # weight 0: nothing sent
    bodies = build_recommend_bodies(profile, config, size=5, now_ms=NOW, mode="approx")
    for body in bodies:
        assert {"n1", "n2"} <= {item for ids in _find(body, "values") for item in ids}
    assert not _profile(
        long_term=None, short_term=None, clusters=(), categories={}, neighbour_scores={"x": 1.0}
    ).is_empty


def _response(*ids_scores: tuple[str, float]) -> dict[str, Any]:
    return {"hits": {"hits": [{"_id": i, "_score": s} for i, s in ids_scores]}}


def test_merge_round_robin_with_quotas_and_dedup() -> None:
    responses = [
        _response(("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6)),
        _response(("b", 0.85), ("x", 0.5), ("y", 0.4)),
    ]
    merged = merge_recommendations(responses, [3, 2], 5, clusters=[0, 2])
    # turns: a (0), b (2); then 0 skips b, already taken -> c, 2 -> x; then 0 -> d (size)
    assert [m.hit["_id"] for m in merged] == ["a", "b", "c", "x", "d"]
    assert [m.cluster for m in merged] == [0, 2, 0, 2, 0]
    assert len({m.hit["_id"] for m in merged}) == len(merged)


def test_merge_fills_by_score_when_a_cluster_runs_short() -> None:
    responses = [_response(("a", 0.9), ("b", 0.8), ("c", 0.75)), _response(("x", 0.95))]
    merged = merge_recommendations(responses, [2, 2], 4)
    assert [m.hit["_id"] for m in merged] == ["a", "x", "b", "c"]
    assert [m.cluster for m in merged] == [0, 1, 0, 0]


def test_merge_skips_failed_response_and_respects_size() -> None:
    responses = [{"error": {"type": "search_phase_execution_exception"}}, _response(("a", 1.0))]
    merged = merge_recommendations(responses, [5, 5], 3)
    assert [m.hit["_id"] for m in merged] == ["a"]
    with pytest.raises(InputError):
        merge_recommendations(responses, [1], 3)


def test_cold_start_body_only_popularity_and_freshness() -> None:
    body = build_cold_start_body(CONFIG, 12, NOW, ["seen"])
    weights = _script(body)["params"]["weights"]
    positive = {name for name, value in weights.items() if value > 0}
    assert positive == {"popularity", "freshness"}
    assert weights["popularity"] == CONFIG.weights.popularity
    assert body["size"] == 12
    candidates = body["query"]["script_score"]["query"]
    assert candidates == {
        "bool": {"must": [{"match_all": {}}], "must_not": [{"ids": {"values": ["seen"]}}]}
    }


def test_cold_start_body_falls_back_when_config_has_neither() -> None:
    body = build_cold_start_body(replace(CONFIG, weights=BlendWeights(bm25=1.0)), 5, NOW)
    weights = _script(body)["params"]["weights"]
    assert weights["popularity"] > 0 and weights["freshness"] > 0
    assert weights["bm25"] == 0.0


# --- portable mode ----------------------------------------------------------------------


def test_portable_body_maps_components_to_core_queries() -> None:
    params = build_native_params(_profile(), CONFIG, query_vector=[0.5, 0.5, 0.0], now_ms=NOW)
    body = build_portable_search_body(
        "golf", params=params, size=10, filters=SearchFilters(exclude_ids=("x",))
    )
    assert PORTABLE_SEARCH_PARAMS == {"include_named_queries_score": True}
    assert body["size"] == 50
    assert "embedding" in body["_source"] and "collab" in body["_source"]
    assert "explain" not in body
    function_score = body["query"]["function_score"]
    assert (function_score["score_mode"], function_score["boost_mode"]) == ("sum", "sum")
    decay, popularity = function_score["functions"]
    assert decay["exp"]["created_at"]["scale"] == f"{14 * DAY}ms"
    assert decay["exp"]["created_at"]["decay"] == 0.5
    assert decay["weight"] == CONFIG.weights.freshness
    assert popularity["field_value_factor"]["modifier"] == "log1p"
    assert popularity["weight"] == pytest.approx(CONFIG.weights.popularity * math.log(10) / 6.9)
    outer = function_score["query"]["bool"]
    boost = pytest.approx(CONFIG.weights.category * 0.8)
    assert {"term": {"category": {"value": "sports", "boost": boost}}} in outer["should"]
    filtered = outer["must"][0]["bool"]
    assert filtered["must_not"] == [{"ids": {"values": ["x"]}}]
    retrieval = filtered["must"][0]["bool"]["should"]
    named = retrieval[0]["bool"]["must"][0]["bool"]
    assert named["_name"] == "bm25"
    assert retrieval[0]["bool"]["boost"] == pytest.approx(CONFIG.weights.bm25 / 10.0)
    boosts = sorted(c["knn"]["boost"] for c in retrieval[1:])
    # u: w_interest * 0.5; clusters: w_interest * 0.5 * 1 and * 1/3; query: w_query
    w = CONFIG.weights
    expected = [w.interest * 0.5, w.interest * 0.5, w.interest * 0.5 / 3, w.query]
    assert boosts == pytest.approx(sorted(expected))
    assert all(c["knn"]["k"] == c["knn"]["num_candidates"] for c in retrieval[1:])


def test_portable_body_cold_user_without_query_is_popular_and_fresh() -> None:
    params = build_native_params(None, CONFIG, query_vector=None, now_ms=NOW, lexical=False)
    body = build_portable_search_body(None, params=params, size=5)
    assert _find(body, "knn") == []
    assert _find(body, "_name") == []
    assert body["query"]["function_score"]["query"] == {"match_all": {}}


def _portable_hit(hit_id: str, bm25: float | None, **source: Any) -> dict[str, Any]:
    hit: dict[str, Any] = {"_id": hit_id, "_score": 1.0, "_source": {"title": hit_id, **source}}
    if bm25 is not None:
        hit["matched_queries"] = {"bm25": bm25}
    return hit


def test_rank_portable_hits_scores_with_native_formulas() -> None:
    profile = _profile()
    params = build_native_params(profile, CONFIG, query_vector=[0.5, 0.5, 0.0], now_ms=NOW)
    hits = [
        _portable_hit("lexical", 12.0, embedding=[0.0, 1.0, 0.0], created_at=NOW - 30 * DAY),
        _portable_hit(
            "personal",
            None,
            embedding=[1.0, 0.0, 0.0],
            category="sports",
            popularity=500,
            created_at=NOW - DAY,
        ),
        _portable_hit("weak", 0.5, embedding=[0.0, -1.0, 0.0]),
    ]
    ranked = rank_portable_hits({"hits": {"hits": hits}}, params=params, profile=profile, size=2)
    assert [h.id for h in ranked] == ["personal", "lexical"]
    for hit, raw in zip(ranked, (hits[1], hits[0]), strict=True):
        assert hit.score == pytest.approx(sum(hit.components.values()))
        expected = blend.score(
            raw["_source"],
            params=params,
            bm25_score=raw.get("matched_queries", {}).get("bm25", 0.0),
        )
        assert hit.score == pytest.approx(expected)
        assert "embedding" not in hit.source
    assert ranked[1].components["bm25"] == pytest.approx(CONFIG.weights.bm25 * 12 / 17)
    assert ranked[0].components["bm25"] == 0.0
    assert ranked[0].cluster_label == "电影"


def test_rank_portable_hits_needs_named_scores() -> None:
    params = build_native_params(None, CONFIG, query_vector=None, now_ms=NOW)
    hit = {"_id": "a", "_source": {}, "matched_queries": ["bm25"]}
    with pytest.raises(InputError, match="include_named_queries_score"):
        rank_portable_hits({"hits": {"hits": [hit]}}, params=params, profile=None, size=1)


# --- explanations -----------------------------------------------------------------------


BM25_NODE = "weight(title:film in 3) [PerFieldSimilarity], result of:"


def _explained_hit(components: dict[str, float], cluster: int, prefix: str = "") -> dict[str, Any]:
    description = prefix + json.dumps({"components": components, "cluster": cluster})
    total = sum(components.values())
    return {
        "_id": "item-7",
        "_score": total,
        "_source": {"title": "A film", "category": "movies"},
        "_explanation": {
            "value": total,
            "description": "function score, product of:",
            "details": [
                {
                    "value": 8.1,
                    "description": "sum of:",
                    "details": [
                        {
                            "value": 8.1,
                            "description": BM25_NODE,
                            "details": [
                                {
                                    "value": 2.2,
                                    "description": "score(freq=1.0), computed as "
                                    "boost * idf * tf from:",
                                    "details": [],
                                },
                            ],
                        }
                    ],
                },
                {
                    "value": total,
                    "description": "script score {not json} then",
                    "details": [{"value": total, "description": description, "details": []}],
                },
            ],
        },
    }


COMPONENTS = {
    "bm25": 0.2,
    "interest": 0.3,
    "query": 0.05,
    "freshness": 0.04,
    "category": 0.0,
    "popularity": 0.01,
    "collaborative": 0.0,
    "neighbours": 0.02,
}


def test_parse_explanation_finds_nested_json() -> None:
    components, cluster = parse_explanation(_explained_hit(COMPONENTS, 2))
    assert components == COMPONENTS
    assert cluster == 2


def test_parse_explanation_with_prefix_and_missing_keys() -> None:
    hit = _explained_hit({"bm25": 0.5}, -1, prefix="blend: ")
    components, cluster = parse_explanation(hit)
    assert components == {name: (0.5 if name == "bm25" else 0.0) for name in WEIGHT_NAMES}
    assert cluster == -1


def test_parse_explanation_missing_raises() -> None:
    with pytest.raises(InputError, match="item-1"):
        parse_explanation({"_id": "item-1", "_score": 1.0})
    hit = _explained_hit(COMPONENTS, 0)
    hit["_explanation"]["details"].pop()
    with pytest.raises(InputError):
        parse_explanation(hit)


def test_parse_hit_maps_cluster_through_usable_clusters() -> None:
    profile = _profile()
    assert usable_clusters(profile) == [0, 2]
    hit = parse_hit(_explained_hit(COMPONENTS, 1), profile=profile)
    assert hit.id == "item-7"
    assert hit.title == "A film"
    assert hit.cluster_label == "sports"  # scorer index 1 -> profile.clusters[2]
    assert hit.score == pytest.approx(sum(hit.components.values()))
    assert hit.reason == "because of your interest in sports"
    override = parse_hit(_explained_hit(COMPONENTS, 0), profile=profile, cluster=0)
    assert override.cluster_label == "电影"


@pytest.mark.parametrize(
    ("components", "label", "category", "expected"),
    [
        (
            {"bm25": 0.3, "query": 0.1, "interest": 0.35},
            None,
            None,
            "matches your search and your interest in 电影",
        ),
        ({"bm25": 0.5, "query": 0.1, "interest": 0.05}, None, None, "matches your search"),
        ({"interest": 0.4, "bm25": 0.1}, "电影", None, "because of your interest in 电影"),
        ({"interest": 0.4}, None, None, "because of your interest in 电影"),  # top keyword
        # A personal signal with a fair share beats freshness that every item has.
        ({"interest": 0.075, "freshness": 0.08}, "电影", None, "because of your interest in 电影"),
        ({"interest": 0.01, "freshness": 0.08}, "电影", None, "fresh"),
        ({"popularity": 0.05, "freshness": 0.01}, None, None, "popular right now"),
        ({"freshness": 0.07, "popularity": 0.01}, None, None, "fresh"),
        ({"category": 0.06}, None, "sports", "in a category you like (sports)"),
        ({"category": 0.06}, None, None, "in a category you like (sports)"),
        ({"collaborative": 0.2}, None, None, "liked by people with similar tastes"),
        ({}, None, None, "recommended for you"),
    ],
)
def test_reason_for(
    components: dict[str, float], label: str | None, category: str | None, expected: str
) -> None:
    assert reason_for(components, label, _profile(), item_category=category) == expected


def test_reason_for_interest_without_profile_or_label() -> None:
    assert reason_for({"interest": 0.3}, None, None) == "similar to what you like"


def test_cold_start_config_keeps_an_admins_zero() -> None:
    no_popularity = replace(CONFIG, weights=replace(CONFIG.weights, popularity=0.0))
    weights = cold_start_config(no_popularity).weights
    assert weights.popularity == 0.0 and weights.freshness == CONFIG.weights.freshness
    assert weights.total() == weights.freshness


@pytest.mark.parametrize("scorer", ["native", "portable"])
def test_both_scorers_rank_a_cold_start_with_the_same_weights(
    scorer: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugin import service as service_module
    from plugin.service import PersonalizedSearch
    from plugin.settings import Settings
    from tests.unit.test_security import USER_KEY, RecordingEs, TinyEncoder

    no_popularity = replace(CONFIG, weights=replace(CONFIG.weights, popularity=0.0))
    used: list[BlendWeights] = []
    real = service_module.build_native_params

    def recording(profile: Any, config: Any, **kwargs: Any) -> Any:
        used.append(config.weights)
        return real(profile, config, **kwargs)

    monkeypatch.setattr(service_module, "build_native_params", recording)
    monkeypatch.setattr("plugin.queries.recommend.build_native_params", recording, raising=True)
    settings = Settings(index_prefix="t", state_dir=tmp_path, user_key=USER_KEY)
    search = PersonalizedSearch(RecordingEs(None), settings=settings, encoder=TinyEncoder())  # type: ignore[arg-type]
    monkeypatch.setattr(search, "blend_config", lambda: no_popularity)
    result = search.recommend("nobody", scorer=scorer)  # type: ignore[arg-type]
    assert result.cold_start
    assert used and all(w == cold_start_config(no_popularity).weights for w in used)


def test_only_the_merged_hits_are_explained_each_by_the_body_that_ranked_it() -> None:
    profile = _profile()
    bodies = build_recommend_bodies(
        profile, CONFIG, size=4, now_ms=NOW, diversity=0.5, explain=False
    )
    assert all(body["explain"] is False for body in bodies)
    clusters = recommend_clusters(profile, diversity=0.5)  # [None, 0, 2]
    merged = [
        MergedHit(hit={"_id": "a"}, cluster=None),
        MergedHit(hit={"_id": "b"}, cluster=2),
        MergedHit(hit={"_id": "c"}, cluster=None),
    ]
    requests = build_explain_bodies(bodies, clusters, merged)
    assert [index for index, _ in requests] == [0, 2]
    first, second = (body for _, body in requests)
    assert first["query"]["script_score"]["query"] == {"ids": {"values": ["a", "c"]}}
    assert second["query"]["script_score"]["query"] == {"ids": {"values": ["b"]}}
    assert first["explain"] is True and first["size"] == 2
    assert second["query"]["script_score"]["script"] == _script(bodies[2])


def test_the_whole_profile_body_weights_clusters_and_categories_by_now() -> None:
    from plugin.queries.params import now_affinity, now_weights

    old = InterestCluster((1.0, 0.0, 0.0), 1.0, "old", recent=0.1, categories={"sports": 1.0})
    new = InterestCluster((0.0, 0.0, 1.0), 0.25, "new", recent=0.9, categories={"tech": 1.0})
    shares = now_weights([old, new], 0.8)
    # 0.2 * 0.8 + 0.8 * 0.1 = 0.24 against 0.2 * 0.2 + 0.8 * 0.9 = 0.76
    assert shares == pytest.approx([0.24, 0.76])
    assert now_weights([old, new], 0.0) == pytest.approx([0.8, 0.2])
    profile = _profile(clusters=(old, new), categories={"sports": 1.0, "tech": 0.2, "news": 0.5})
    config = replace(default_config(), now_share=0.8)
    params = build_native_params(profile, config, query_vector=None, now_ms=0, lexical=False)
    assert params["cluster_weights"] == pytest.approx([0.24 / 0.76, 1.0])
    affinity = params.get("category_affinity", {})
    assert affinity["tech"] == pytest.approx(1.0)
    assert affinity["sports"] == pytest.approx(0.24 / 0.76)
    # A category no cluster has keeps its lasting affinity, at most the weakest cluster's.
    assert affinity["news"] == pytest.approx(0.5 * 0.24 / 0.76)
    assert now_affinity({"x": -0.5}, [old], [1.0])["x"] == -0.5  # a dislike stays as it is


@pytest.mark.parametrize(
    ("components", "weights", "expected"),
    [
        # Interest 0.2 of weight 0.25: strength 0.8, a true match.
        (
            {"interest": 0.2, "freshness": 0.05},
            {"interest": 0.25},
            "because of your interest in 电影",
        ),
        # The same share of the score from a weak similarity (strength 0.2) that unrelated
        # items also get: the reason says what ranked it instead.
        ({"interest": 0.05, "freshness": 0.06}, {"interest": 0.25}, "fresh"),
        ({"interest": 0.05, "popularity": 0.06}, {"interest": 0.25}, "popular right now"),
        (
            {"interest": 0.05, "collaborative": 0.05, "popularity": 0.01},
            {"interest": 0.25, "collaborative": 0.1},
            "liked by people with similar tastes",
        ),
        ({"category": 0.02, "freshness": 0.02}, {"category": 0.1}, "fresh"),
        (
            {"bm25": 0.3, "interest": 0.1},
            {"interest": 0.5},
            "matches your search",
        ),
    ],
)
def test_a_reason_names_an_interest_only_when_it_clearly_matched(
    components: dict[str, float], weights: dict[str, float], expected: str
) -> None:
    assert reason_for(components, "电影", _profile(), weights=weights) == expected


def test_at_most_five_interests_get_a_recommendation_body_the_current_ones_first() -> None:
    from plugin.queries.recommend import MAX_CLUSTER_BODIES

    clusters = tuple(
        InterestCluster(tuple(float(i == k) for i in range(8)), 8.0 - k, f"c{k}", recent=0.0)
        for k in range(8)
    )
    # The weakest lasting interest is the one the user is in now.
    clusters = (*clusters[:7], replace(clusters[7], recent=1.0))
    profile = _profile(clusters=clusters, long_term=None, short_term=None)
    chosen = recommend_clusters(profile, diversity=1.0, now_share=0.8)
    assert len(chosen) == MAX_CLUSTER_BODIES == 5
    assert 7 in chosen and chosen == sorted(chosen)  # profile order kept
    assert recommend_clusters(profile, diversity=1.0, now_share=0.0) == [0, 1, 2, 3, 4]
    assert len(cluster_quotas(profile, 10, recent_share=0.8)) == 5
