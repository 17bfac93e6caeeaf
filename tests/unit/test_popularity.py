"""The popularity outbox: generations only grow, and nothing is owed twice."""

from __future__ import annotations

from indexer.popularity import Outbox, next_outbox, outbox_items


def test_next_outbox_without_new_clicks_keeps_the_previous_one():
    previous = Outbox(generation=5, items={"a": 1})
    assert next_outbox(previous, {}, now_ms=100) is previous
    assert next_outbox(None, {}, now_ms=100).generation == 0


def test_next_outbox_generation_follows_the_clock_and_always_grows():
    assert next_outbox(None, {"a": 2}, now_ms=1_000).generation == 1_000
    later = next_outbox(Outbox(generation=1_000, items={"a": 2}), {"b": 1}, now_ms=1_000)
    assert later.generation == 1_001 and later.items == {"b": 1}  # same millisecond: +1
    # A clock behind the stored generation (another worker's) still moves forward.
    assert next_outbox(Outbox(generation=9_000, items={}), {"c": 1}, now_ms=10).generation == 9_001


def test_outbox_round_trips_and_refuses_malformed_json():
    box = Outbox(generation=7, items={"x": 3})
    assert Outbox.from_json(box.as_json()) == box
    assert Outbox.from_json({"generation": 7, "items": {"x": 0}}) == Outbox(7, {})
    assert Outbox.from_json({"generation": "seven", "items": {}}) is None
    assert Outbox.from_json(["not", "a", "mapping"]) is None
    assert Outbox.from_json(None) is None


def test_outbox_items_counts_each_click():
    assert outbox_items(["a", "b", "a"]) == {"a": 2, "b": 1}
    assert outbox_items([]) == {}
