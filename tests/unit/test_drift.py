"""The drift simulation's schedule and measures (evaluation.eval_drift), without a stack."""

from __future__ import annotations

from datetime import UTC, datetime

from plugin.app.evaluation.eval_drift import (
    PHASE_A,
    PHASE_B,
    PHASE_RETURN,
    build_corpus,
    events_to_return,
    events_to_switch,
    precision,
    schedule_pairs,
    user_events,
)

ROWS = [(f"{label} headline {n}", label) for label in ("x", "y", "z") for n in range(60)]


def test_build_corpus_even_sample_and_rest_for_posts() -> None:
    corpus = build_corpus(ROWS, dataset="t", items=90, seed=1)
    assert sorted(corpus.categories.values()).count("x") == 30
    assert len(corpus.posts["y"]) == 30
    indexed = set(corpus.titles.values())
    assert not indexed & {text for texts in corpus.posts.values() for text in texts}


def test_schedule_pairs_distinct_categories() -> None:
    pairs = schedule_pairs(["a", "b", "c", "d", "e"], 3, seed=2)
    assert len(pairs) == 3
    assert all(a != b for a, b in pairs)
    assert len({c for p in pairs[:2] for c in p}) == 4


def test_user_events_follow_the_schedule() -> None:
    corpus = build_corpus(ROWS, dataset="t", items=90, seed=1)
    end = datetime(2026, 1, 2, tzinfo=UTC)
    events = user_events(corpus, ("x", "y"), "u", end=end, seed=3)
    assert len(events) == PHASE_A + PHASE_B + PHASE_RETURN
    clicks = [(n, e) for n, e in enumerate(events) if e["type"] == "click"]
    in_b = range(PHASE_A, PHASE_A + PHASE_B)
    assert {corpus.categories[e["item"]] for n, e in clicks if n in in_b} == {"y"}
    assert {corpus.categories[e["item"]] for n, e in clicks if n not in in_b} == {"x"}
    assert any(n >= PHASE_A + PHASE_B for n, _ in clicks)  # the return to x
    assert events[-1]["time"] == end.isoformat()
    assert len({e["item"] for _, e in clicks}) == len(clicks)


def test_precision_counts_missing_slots_as_misses() -> None:
    assert precision(["a", "b"], {"a": "x", "b": "y"}, "x") == 0.1


def test_events_to_switch_counts_b_events() -> None:
    curve = [0.0] * PHASE_A + [0.2, 0.5, 0.6, 0.9] + [1.0] * (PHASE_B - 4)
    assert events_to_switch(curve) == 3
    assert events_to_switch([0.9] * PHASE_A + [0.1] * PHASE_B) is None


def test_events_to_return_counts_events_back_in_a() -> None:
    curve_a = [1.0] * PHASE_A + [0.0] * PHASE_B + [0.3, 0.7] + [0.9] * (PHASE_RETURN - 2)
    assert events_to_return(curve_a) == 2
    assert events_to_return([1.0] * (PHASE_A + PHASE_B) + [0.5] * PHASE_RETURN) is None
    # A precision during the B phase does not count as a return.
    assert events_to_return([1.0] * (PHASE_A + PHASE_B + PHASE_RETURN)) == 1
