"""Unit tests of indexer.interests: decayed vectors, clusters, affinities, documents."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from indexer.intensity import intensity
from indexer.interests import (
    DAY_MS,
    DecayedVector,
    InterestEvent,
    InterestParams,
    InterestState,
    apply_event,
    apply_events,
    from_document,
    summary,
    to_document,
    user_vectors,
)
from indexer.segment import keywords
from plugin.errors import ConfigError, InputError

DIMS = 8
T0 = 1_700_000_000_000
HOUR = 3_600_000
SPORTS, TECH, WEATHER, MOVIES = 0, 1, 2, 3
TIME_ONLY = InterestParams(long_half_life_events=math.inf, short_half_life_events=math.inf)


def topic(index: int, rng: np.random.Generator | None = None, noise: float = 0.1) -> np.ndarray:
    """A unit vector near axis ``index``; deterministic for a seeded ``rng``."""
    vector = np.zeros(DIMS)
    vector[index] = 1.0
    if rng is not None:
        vector += rng.normal(0.0, noise, DIMS)
    return vector / np.linalg.norm(vector)


def cos(a: object, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def event(
    kind: str = "like", t: int = T0, vector: object = None, **kwargs: object
) -> InterestEvent:
    return InterestEvent(kind=kind, time_ms=t, vector=vector, **kwargs)  # type: ignore[arg-type]


def post(text: str, t: int, vector: np.ndarray, **kwargs: object) -> InterestEvent:
    """A post event with keywords and intensity from the real text modules."""
    return event(
        "post", t, vector, keywords=dict(keywords(text)), intensity=intensity(text), **kwargs
    )


# --- the client's example ------------------------------------------------------------


def test_client_example_movie_cluster_strongest_and_labelled() -> None:
    rng = np.random.default_rng(1)
    state = apply_event(
        InterestState(), post("今天天气真好，出去散步了。", T0, topic(WEATHER, rng), item_id="a")
    )
    state = apply_event(
        state, post("刚刚看了个电影，叫《你的名字》。太好看了！", T0 + HOUR, topic(MOVIES, rng))
    )
    now = T0 + 2 * HOUR
    clusters = summary(state, user="u1", now_ms=now)["clusters"]
    assert len(clusters) == 2
    strongest, other = clusters
    assert "电影" in strongest["label"]
    assert "散步" in other["label"]
    assert strongest["weight"] > other["weight"]
    doc_clusters = to_document(state, user="u1", now_ms=now)["clusters"]
    assert doc_clusters[0]["weight"] == 1.0 and doc_clusters[1]["weight"] < 0.9


# --- drift, order, lateness ----------------------------------------------------------


def test_drift_short_term_follows_new_topic_long_term_keeps_old() -> None:
    rng = np.random.default_rng(7)
    sports, tech = topic(SPORTS), topic(TECH)
    state = InterestState()
    for i in range(50):
        state = apply_event(state, event("like", T0 + i * HOUR, topic(SPORTS, rng)))
    turned_at = None
    for k in range(1, 21):
        state = apply_event(state, event("like", T0 + (49 + k) * HOUR, topic(TECH, rng)))
        short = user_vectors(state)["short_term"]
        if turned_at is None and cos(short, tech) > cos(short, sports):
            turned_at = k
    assert turned_at is not None and turned_at <= 5
    vectors = user_vectors(state)
    assert cos(vectors["long_term"], sports) > cos(vectors["long_term"], tech)
    assert cos(vectors["short_term"], tech) > 0.9


def test_a_new_interest_leads_recent_activity_before_its_lasting_weight_catches_up() -> None:
    rng = np.random.default_rng(3)
    state = InterestState()
    for i in range(20):
        state = apply_event(state, event("like", T0 + i * HOUR, topic(SPORTS, rng)))
    for k in range(4):
        state = apply_event(state, event("like", T0 + (20 + k) * HOUR, topic(TECH, rng)))
    now = T0 + 24 * HOUR
    clusters = to_document(state, user="u", now_ms=now)["clusters"]
    assert len(clusters) == 2
    old, new = clusters  # strongest (lasting) first
    assert cos(old["vector"], topic(SPORTS)) > 0.9 and cos(new["vector"], topic(TECH)) > 0.9
    assert new["weight"] < 0.3 and new["recent"] > 0.6
    assert old["recent"] + new["recent"] == pytest.approx(1.0)
    # The stored recency continues exactly after a round trip.
    again = from_document(to_document(state, user="u", now_ms=now))
    assert [c.recent for c in again.clusters] == [c.recent for c in state.clusters]


def test_one_stray_event_does_not_open_a_cluster_to_a_whole_new_topic() -> None:
    params = InterestParams(cluster_join_threshold=0.9, cluster_support_threshold=0.5)
    sports, tech = topic(SPORTS), topic(TECH)
    between = (sports + tech) / np.linalg.norm(sports + tech)  # cos 0.71 with each
    state = InterestState()
    for i in range(20):
        state = apply_event(state, event("like", T0 + i * HOUR, sports, category="sports"),
                            params=params)  # fmt: skip
    # A tech item close enough to join on similarity alone: the cluster has now seen "tech".
    stray = 0.98 * sports + 0.2 * tech  # cos 0.98: above even the other-category threshold
    state = apply_event(state, event("like", T0 + 20 * HOUR, stray, category="tech"), params=params)
    assert len(state.clusters) == 1 and state.clusters[0].categories == {"sports": 20, "tech": 1}
    for k in range(5):
        moment = T0 + (21 + k) * HOUR
        state = apply_event(state, event("like", moment, between, category="tech"), params=params)
    assert len(state.clusters) == 2  # the tech events formed their own interest
    assert state.clusters[1].count == 5 and state.clusters[0].count == 21


def test_another_category_needs_a_much_closer_vector_to_join() -> None:
    params = InterestParams(cluster_join_threshold=0.9, cluster_support_threshold=0.5)
    sports, tech = topic(SPORTS), topic(TECH)
    near = 0.92 * sports + np.sqrt(1 - 0.92**2) * tech  # cos 0.92: above the join threshold
    base = apply_event(InterestState(), event("like", T0, sports, category="sports"), params=params)
    other = apply_event(base, event("like", T0 + HOUR, near, category="tech"), params=params)
    plain = apply_event(base, event("like", T0 + HOUR, near), params=params)
    assert len(other.clusters) == 2  # tech: the threshold is (0.9 + 1) / 2 = 0.95
    assert len(plain.clusters) == 1  # no category: similarity alone decides


def test_a_dislike_removes_recent_weight_but_never_below_zero() -> None:
    state = apply_event(InterestState(), event("like", T0, topic(SPORTS)))
    state = apply_event(state, event("dislike", T0 + HOUR, topic(SPORTS)))
    state = apply_event(state, event("dislike", T0 + 2 * HOUR, topic(SPORTS)))
    assert all(cluster.recent >= 0 for cluster in state.clusters)


def test_decayed_vector_time_only_sum_independent_of_arrival_order() -> None:
    rng = np.random.default_rng(3)
    events = [
        (T0 + int(rng.integers(0, 40 * DAY_MS)), rng.normal(size=DIMS), float(rng.uniform(-1, 2)))
        for _ in range(40)
    ]
    results = []
    for seed in range(5):
        order = events[:]
        random.Random(seed).shuffle(order)
        acc = DecayedVector.zeros(DIMS)
        for t, vector, weight in order:
            acc = acc.add(weight * vector, abs(weight), t, half_life_ms=7 * DAY_MS)
        results.append(acc)
    first = results[0]
    assert first.ref_ms == max(t for t, _, _ in events)
    for other in results[1:]:
        assert other.ref_ms == first.ref_ms
        assert np.allclose(other.sum, first.sum, rtol=1e-12, atol=1e-12)
        assert other.mass == pytest.approx(first.mass, rel=1e-12)
    # Not trivially equal: the decay really weighs events by age.
    undecayed = sum(weight * vector for _, vector, weight in events)
    assert not np.allclose(first.sum, undecayed)


def test_state_time_only_vectors_and_affinities_independent_of_arrival_order() -> None:
    rng = np.random.default_rng(5)
    events = [
        event(
            "like" if i % 4 else "click",
            T0 + int(rng.integers(0, 20 * DAY_MS)),
            topic(i % 3, rng),
            category=f"c{i % 3}",
            keywords={f"k{i % 5}": 1.0},
        )
        for i in range(30)
    ]
    now = T0 + 21 * DAY_MS
    states = []
    for seed in range(3):
        order = events[:]
        random.Random(seed).shuffle(order)
        state = InterestState()
        for item in order:
            state = apply_event(state, item, params=TIME_ONLY, now_ms=now)
        states.append(state)
    first = states[0]
    for other in states[1:]:
        for name in ("long_term", "short_term"):
            assert np.allclose(getattr(other, name).sum, getattr(first, name).sum)
        assert other.categories.keys() == first.categories.keys()
        for key, value in first.categories.items():
            assert other.categories[key] == pytest.approx(value)
        for key, value in first.keywords.items():
            assert other.keywords[key] == pytest.approx(value)


def test_late_event_counts_less_than_on_time_event() -> None:
    base = apply_event(InterestState(), event("like", T0 + 10 * DAY_MS, topic(SPORTS)))
    tech = topic(TECH)
    on_time = apply_event(
        base, event("like", T0 + 10 * DAY_MS, tech, category="tech", keywords={"ai": 1.0})
    )
    late = apply_event(base, event("like", T0, tech, category="tech", keywords={"ai": 1.0}))
    assert late.long_term.ref_ms == on_time.long_term.ref_ms == T0 + 10 * DAY_MS
    assert late.long_term.sum @ tech < on_time.long_term.sum @ tech
    assert late.short_term.sum @ tech < 0.2 * (on_time.short_term.sum @ tech)
    assert late.categories["tech"] < on_time.categories["tech"]
    assert late.keywords["ai"] < on_time.keywords["ai"]
    assert late.last_event_ms == T0 + 10 * DAY_MS


def test_apply_events_sorts_by_timestamp() -> None:
    rng = np.random.default_rng(2)
    early = event("like", T0, topic(SPORTS, rng), item_id="a")
    later = event("like", T0 + HOUR, topic(TECH, rng), item_id="b")
    batched = apply_events(InterestState(), [later, early], now_ms=T0 + HOUR)
    one_by_one = apply_event(apply_event(InterestState(), early), later, now_ms=T0 + HOUR)
    assert to_document(batched, user="u", now_ms=T0) == to_document(one_by_one, user="u", now_ms=T0)
    assert batched.recent_items == ("b", "a")


# --- dislikes and clusters -----------------------------------------------------------


def test_dislike_lowers_category_and_cluster_without_creating_one() -> None:
    rng = np.random.default_rng(4)
    state = InterestState()
    for i in range(2):
        state = apply_event(state, event("like", T0 + i, topic(SPORTS, rng), category="sports"))
    before_category = state.categories["sports"]
    before_weight = state.clusters[0].acc.mass
    state = apply_event(state, event("dislike", T0 + 2, topic(SPORTS, rng), category="sports"))
    assert state.categories["sports"] < before_category
    assert len(state.clusters) == 1
    assert state.clusters[0].acc.mass < before_weight
    state = apply_event(state, event("dislike", T0 + 3, topic(TECH, rng), category="tech"))
    assert len(state.clusters) == 1
    assert state.categories["tech"] < 0
    assert user_vectors(state)["categories"]["tech"] < 0


def test_dislike_on_new_user_creates_no_cluster() -> None:
    state = apply_event(
        InterestState(), event("dislike", T0, topic(TECH), category="tech", item_id="x")
    )
    assert state.clusters == ()
    assert state.categories == {"tech": -1.0}
    assert state.recent_items == ("x",)


def test_cluster_join_updates_count_keywords_and_last_seen() -> None:
    rng = np.random.default_rng(6)
    state = apply_event(InterestState(), event("like", T0, topic(SPORTS, rng), keywords={"球": 1}))
    state = apply_event(state, event("like", T0 + HOUR, topic(SPORTS, rng), keywords={"赛": 1}))
    (cluster,) = state.clusters
    assert cluster.count == 2
    assert cluster.last_seen_ms == T0 + HOUR
    assert set(cluster.keywords) == {"球", "赛"}


def test_new_interest_displaces_weakest_when_clusters_full() -> None:
    params = InterestParams(max_clusters=2)
    state = InterestState()
    for i in range(3):
        state = apply_event(state, event("like", T0 + i, topic(SPORTS)), params=params)
    state = apply_event(state, event("click", T0 + 3, topic(TECH)), params=params)
    state = apply_event(state, event("like", T0 + 4, topic(MOVIES)), params=params)
    directions = [int(np.argmax(c.acc.sum)) for c in state.clusters]
    assert len(state.clusters) == 2
    assert sorted(directions) == [SPORTS, MOVIES]


def test_clusters_fade_and_are_evicted() -> None:
    state = apply_event(InterestState(), event("like", T0, topic(SPORTS)))
    later = T0 + 200 * DAY_MS
    state = apply_event(state, event("like", later, topic(TECH)), now_ms=later)
    assert [int(np.argmax(c.acc.sum)) for c in state.clusters] == [TECH]


def test_bounded_sizes_under_many_events() -> None:
    params = InterestParams(max_clusters=3, max_keywords=10, max_categories=4, max_recent_items=5)
    rng = np.random.default_rng(8)
    state = InterestState()
    for i in range(60):
        state = apply_event(
            state,
            event(
                "like",
                T0 + i * HOUR,
                rng.normal(size=DIMS),
                category=f"cat{i}",
                keywords={f"kw{i}a": 1.0, f"kw{i}b": 0.5},
                item_id=f"item{i % 8}",
            ),
            params=params,
        )
        assert len(state.clusters) <= 3
        assert len(state.keywords) <= 10
        assert len(state.categories) <= 4
        assert len(state.recent_items) <= 5
    assert state.recent_items == ("item3", "item2", "item1", "item0", "item7")
    assert state.events == 60
    assert all(len(c.keywords) <= params.max_cluster_keywords for c in state.clusters)


def test_recent_items_dedup_most_recent_first_and_search_ignored() -> None:
    state = InterestState()
    for i, (kind, item) in enumerate([("click", "a"), ("like", "b"), ("click", "a")]):
        state = apply_event(state, event(kind, T0 + i, item_id=item))
    state = apply_event(state, event("search", T0 + 9, item_id="q"))
    assert state.recent_items == ("a", "b")


def test_cluster_label_falls_back_to_hint_then_number() -> None:
    state = apply_event(InterestState(), event("like", T0, topic(SPORTS), label="World Cup"))
    state = apply_event(state, event("like", T0 + 1, topic(TECH)))
    labels = sorted(c.label for c in state.clusters)
    assert labels == ["World Cup", "interest 2"]


# --- readers and documents -----------------------------------------------------------


def _rich_state() -> InterestState:
    rng = np.random.default_rng(11)
    state = InterestState()
    texts = ["今天天气真好，出去散步了。", "刚刚看了个电影，叫《你的名字》。太好看了！"]
    for i in range(12):
        index = i % 3
        state = apply_event(
            state,
            post(
                texts[i % 2],
                T0 + i * 5 * HOUR - (3 * DAY_MS if i == 7 else 0),
                topic(index, rng),
                category=f"cat{index}",
                item_id=f"p{i}",
                label=f"title {i}",
            ),
        )
    return apply_event(state, event("dislike", T0 + 70 * HOUR, topic(SPORTS, rng), category="x"))


def test_state_written_before_base64_sums_still_reads_the_same() -> None:
    state = _rich_state()
    now = T0 + 80 * HOUR
    doc = json.loads(json.dumps(to_document(state, user="u1", now_ms=now)))
    legacy = json.loads(json.dumps(doc))
    accumulators = [legacy["state"]["long_term"], legacy["state"]["short_term"]]
    accumulators += legacy["state"]["clusters"]
    for acc, original in zip(
        accumulators,
        [state.long_term, state.short_term, *(c.acc for c in state.clusters)],
        strict=True,
    ):
        assert isinstance(acc["sum"], str)
        acc["sum"] = original.sum.tolist()
    restored = from_document(legacy)
    assert np.array_equal(restored.long_term.sum, state.long_term.sum)
    assert to_document(restored, user="u1", now_ms=now) == doc


def test_a_corrupt_base64_sum_is_refused() -> None:
    doc = to_document(_rich_state(), user="u1", now_ms=T0)
    doc["state"]["long_term"]["sum"] = "not base64!"
    with pytest.raises(InputError):
        from_document(doc)


def test_document_round_trip_is_exact_and_continues_identically() -> None:
    state = _rich_state()
    now = T0 + 80 * HOUR
    doc = to_document(state, user="u1", now_ms=now)
    stored = json.loads(json.dumps(doc))
    restored = from_document(stored)
    assert to_document(restored, user="u1", now_ms=now) == doc
    assert np.array_equal(restored.long_term.sum, state.long_term.sum)
    assert restored.long_term.mass == state.long_term.mass
    assert [c.acc.ref_ms for c in restored.clusters] == [c.acc.ref_ms for c in state.clusters]
    nxt = event("like", now, topic(TECH), category="cat1", keywords={"电影": 1.0})
    assert to_document(apply_event(restored, nxt), user="u1", now_ms=now) == to_document(
        apply_event(state, nxt), user="u1", now_ms=now
    )


def test_document_shape_readable_fields() -> None:
    state = _rich_state()
    doc = to_document(state, user="u1", now_ms=T0 + 80 * HOUR)
    assert doc["user"] == "u1" and doc["events"] == 13
    assert doc["updated_at"] == "2023-11-18T06:13:20.000Z"
    assert doc["last_event_at"].endswith("Z")
    # Unit vectors to the 7 decimals they are written with (float32 resolution, in effect).
    assert math.isclose(np.linalg.norm(doc["long_term"]), 1.0, rel_tol=1e-6)
    assert math.isclose(np.linalg.norm(doc["short_term"]), 1.0, rel_tol=1e-6)
    weights = [c["weight"] for c in doc["clusters"]]
    assert weights[0] == 1.0 and weights == sorted(weights, reverse=True)
    for cluster in doc["clusters"]:
        assert set(cluster) == {
            "label",
            "weight",
            "recent",
            "categories",
            "last_seen",
            "count",
            "vector",
        }
        assert len(cluster["vector"]) == DIMS
    assert max(abs(v) for v in doc["categories"].values()) == 1.0
    assert doc["categories"]["x"] < 0
    assert max(abs(v) for v in doc["keywords"].values()) == 1.0
    assert doc["recent_items"][:2] == ["p11", "p10"]


def test_document_omits_absent_vectors() -> None:
    state = apply_event(InterestState(), event("click", T0, item_id="a", category="news"))
    doc = to_document(state, user="u", now_ms=T0)
    assert "long_term" not in doc and "short_term" not in doc
    assert doc["clusters"] == [] and doc["categories"] == {"news": 1.0}
    assert from_document(json.loads(json.dumps(doc))).recent_items == ("a",)


@pytest.mark.parametrize("doc", [None, {}, {"user": "u"}, {"state": None}])
def test_from_document_missing_state_is_new_user(doc: object) -> None:
    state = from_document(doc)  # type: ignore[arg-type]
    assert state.events == 0 and state.long_term is None and state.clusters == ()


@pytest.mark.parametrize(
    "raw",
    [
        {"version": 99},
        {"version": 1, "long_term": {"mass": 1.0}},
        {"version": 1, "long_term": {"sum": [1.0, "x"], "mass": 1.0, "ref_ms": 0}},
        {"version": 1, "categories": [["a"]]},
        {
            "version": 1,
            "long_term": {"sum": [1.0, 0.0], "mass": 1.0, "ref_ms": 0},
            "short_term": {"sum": [1.0, 0.0, 0.0], "mass": 1.0, "ref_ms": 0},
        },
        "not a mapping",
    ],
)
def test_from_document_malformed_state_raises(raw: object) -> None:
    with pytest.raises(InputError):
        from_document({"state": raw})


def test_user_vectors_normalized_and_ranked() -> None:
    vectors = user_vectors(_rich_state())
    assert math.isclose(np.linalg.norm(vectors["long_term"]), 1.0, rel_tol=1e-6)
    weights = [weight for _, weight, _, _ in vectors["clusters"]]
    assert weights[0] == 1.0 and all(0 <= w <= 1 for w in weights)
    assert weights == sorted(weights, reverse=True)
    for vector, _, label, last_seen in vectors["clusters"]:
        assert math.isclose(np.linalg.norm(vector), 1.0, rel_tol=1e-6)
        assert label and last_seen >= T0
    assert max(abs(v) for v in vectors["keywords"].values()) == 1.0


def test_user_vectors_empty_state() -> None:
    vectors = user_vectors(InterestState())
    assert vectors == {
        "long_term": None,
        "short_term": None,
        "clusters": [],
        "categories": {},
        "keywords": {},
    }


def test_summary_shape_and_decay_to_now() -> None:
    state = _rich_state()
    many = apply_event(
        state, event("like", T0 + 71 * HOUR, keywords={f"w{i}": 1 for i in range(30)})
    )
    now = T0 + 80 * HOUR
    view = summary(many, user="u1", now_ms=now)
    assert set(view) == {"user", "clusters", "categories", "keywords", "events", "updated_at"}
    assert len(view["keywords"]) == 20
    weights = [c["weight"] for c in view["clusters"]]
    assert weights == sorted(weights, reverse=True)
    assert set(view["clusters"][0]) == {"label", "weight", "last_seen"}
    later = summary(many, user="u1", now_ms=now + 14 * DAY_MS)
    assert later["clusters"][0]["weight"] == pytest.approx(weights[0] / 2, rel=1e-3)
    json.dumps(view)


# --- validation ----------------------------------------------------------------------


def test_wrong_dimension_raises_and_leaves_state() -> None:
    state = apply_event(InterestState(), event("like", T0, topic(SPORTS)))
    before = to_document(state, user="u", now_ms=T0)
    with pytest.raises(InputError, match="4 dimensions"):
        apply_event(state, event("like", T0 + 1, [1.0, 0.0, 0.0, 0.0]))
    assert to_document(state, user="u", now_ms=T0) == before


def test_apply_event_does_not_mutate_input_state() -> None:
    state = _rich_state()
    before = json.dumps(to_document(state, user="u", now_ms=T0))
    apply_event(state, event("like", T0 + 99 * HOUR, topic(TECH), category="cat0", item_id="p1"))
    apply_event(state, event("dislike", T0 + 99 * HOUR, topic(SPORTS), category="cat0"))
    assert json.dumps(to_document(state, user="u", now_ms=T0)) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "share"},
        {"vector": [0.0] * DIMS},
        {"vector": [math.nan] + [1.0] * (DIMS - 1)},
        {"vector": [[1.0, 0.0]]},
        {"vector": ["a", "b"]},
        {"time_ms": 1.5},
        {"time_ms": True},
        {"intensity": 0.0},
        {"intensity": math.inf},
        {"keywords": {"ok": math.nan}},
        {"keywords": ["not", "a", "mapping"]},
        {"category": 5},
    ],
)
def test_event_invalid_fields_raise(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"kind": "like", "time_ms": T0, **kwargs}
    with pytest.raises(InputError):
        InterestEvent(**fields)  # type: ignore[arg-type]


def test_event_vector_normalized_and_read_only() -> None:
    item = event("like", T0, [3.0, 4.0] + [0.0] * (DIMS - 2))
    assert isinstance(item.vector, np.ndarray)
    assert np.allclose(item.vector[:2], [0.6, 0.8])
    with pytest.raises(ValueError):
        item.vector[0] = 1.0


def test_params_from_mapping_overrides_and_merges_event_weights() -> None:
    params = InterestParams.from_mapping(
        {"max_clusters": "7", "short_half_life_days": 1, "event_weights": {"click": 0.2}}
    )
    assert params.max_clusters == 7 and params.short_half_life_days == 1.0
    assert params.event_weights["click"] == 0.2 and params.event_weights["like"] == 1.0
    assert InterestParams.from_mapping({}) == InterestParams()


@pytest.mark.parametrize(
    "values",
    [
        {"max_cluster": 3},
        {"max_clusters": 0},
        {"max_clusters": 2.5},
        {"long_half_life_days": -1},
        {"long_half_life_days": "soon"},
        {"cluster_join_threshold": 1.5},
        {"cluster_evict_weight": math.nan},
        {"event_weights": {"share": 1.0}},
        {"event_weights": {"like": math.inf}},
    ],
)
def test_params_from_mapping_invalid_raises(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        InterestParams.from_mapping(values)


def test_item_votes_decay_by_kind_and_survive_the_document_round_trip() -> None:
    day = DAY_MS
    params = InterestParams(vote_half_life_days=10.0)
    events = [
        InterestEvent(kind="like", time_ms=0, item_id="old"),
        InterestEvent(kind="dislike", time_ms=0, item_id="hated"),
        InterestEvent(kind="click", time_ms=0, item_id="glanced"),  # votes 0 by default
        InterestEvent(kind="like", time_ms=10 * day, item_id="new"),
    ]
    state = apply_events(InterestState(), events, params=params)
    votes = dict(state.item_votes)
    assert set(votes) == {"old", "hated", "new"}
    assert votes["old"] / votes["new"] == pytest.approx(0.5)  # one half-life older
    assert votes["hated"] == pytest.approx(-0.3 * votes["old"])
    doc = to_document(state, user="u", now_ms=10 * day, params=params)
    assert doc["item_votes"]["items"][0] == "new" and doc["item_votes"]["weights"][0] == 1.0
    again = from_document(doc)
    assert dict(again.item_votes) == pytest.approx(votes)
    assert again.votes_ref_ms == state.votes_ref_ms
