"""The soak's counting: lost and doubled per key, latency windows per request kind."""

from __future__ import annotations

from collections import Counter

from bench.soak import Sample, compare, summarise


def test_compare_counts_lost_and_doubled_per_key_not_in_total() -> None:
    expected = Counter({"a": 3, "b": 2, "c": 1})
    # a lost one, b doubled one: the totals agree, the keys do not.
    assert compare(expected, {"a": 2, "b": 3, "c": 1}) == {"expected": 6, "lost": 1, "doubled": 1}
    assert compare(expected, {"a": 3, "b": 2, "c": 1, "d": 4}) == {
        "expected": 6,
        "lost": 0,
        "doubled": 4,
    }
    assert compare(expected, {}) == {"expected": 6, "lost": 6, "doubled": 0}


def test_summarise_keeps_errors_out_of_latency_and_windows() -> None:
    samples = [
        Sample("search", 1.0, 10.0, None),
        Sample("search", 2.0, 30.0, None),
        Sample("search", 31.0, 50.0, None),
        Sample("search", 32.0, 9000.0, "http 503"),
        Sample("events", 0.5, 5.0, None),
    ]
    kinds = summarise(samples, window_s=30.0)
    search = kinds["search"]
    assert search["requests"] == 4 and search["errors"] == {"http 503": 1}
    assert search["latency_ms"]["n"] == 3 and search["latency_ms"]["p99"] == 50.0
    assert [(w["start_s"], w["n"]) for w in search["windows"]] == [(0.0, 2), (30.0, 1)]
    assert kinds["events"]["errors"] == {}
