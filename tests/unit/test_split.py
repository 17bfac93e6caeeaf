"""The MovieLens per-user time split: test set, cutoff, and no leak into the replayed stream."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin.app.evaluation.movielens import (
    Interaction,
    Movie,
    build_split,
    item_rows,
    leaks,
    rating_kind,
    task_events,
)


def rating(user: str, item: str, time: int, stars: float) -> Interaction:
    return Interaction(user, item, time, rating_kind(stars), rating=stars)


def tag(user: str, item: str, time: int, text: str) -> Interaction:
    return Interaction(user, item, time, "post", text=text)


def table() -> list[Interaction]:
    """User 1: ten positives at t = 10..100 and other events around them; user 2: a short
    history of two positives with a tie-free cutoff."""
    events = [rating("1", f"p{t}", t, 4.5) for t in range(10, 101, 10)]
    events += [
        rating("1", "meh", 55, 3.0),
        rating("1", "bad", 92, 1.0),  # after the cutoff (90): never replayed
        tag("1", "p20", 25, "funny"),
        tag("1", "late", 95, "spoiler"),  # after the cutoff
        rating("1", "low-late", 120, 2.0),
        rating("2", "x", 5, 5.0),
        rating("2", "y", 7, 4.0),
        rating("2", "z", 6, 2.5),
    ]
    return events


def test_rating_kind_thresholds() -> None:
    assert [rating_kind(r) for r in (5.0, 4.0, 3.5, 2.5, 2.0, 0.5)] == [
        "like", "like", "click", "click", "dislike", "dislike",
    ]  # fmt: skip


def test_build_split_last_twenty_percent_of_positives_are_test() -> None:
    split = build_split(table())
    user = split.users["1"]
    assert user.test == {"p90", "p100"}
    assert user.cutoff == 90


def test_build_split_at_least_one_test_positive() -> None:
    user = build_split(table()).users["2"]
    assert user.test == {"y"}
    assert user.cutoff == 7
    assert [e.item for e in user.train] == ["x", "z"]


def test_build_split_training_is_exactly_events_before_cutoff() -> None:
    events = table()
    user = build_split(events).users["1"]
    expected = sorted(
        (e for e in events if e.user == "1" and e.time < 90), key=lambda e: (e.time, e.item)
    )
    assert list(user.train) == expected
    assert [e.time for e in user.train] == sorted(e.time for e in user.train)


def test_build_split_positive_tied_with_cutoff_joins_test() -> None:
    events = [rating("3", f"i{t}", t, 5.0) for t in range(1, 11)]
    events.append(rating("3", "tie", 9, 4.0))  # same second as the first test positive
    user = build_split(events).users["3"]
    assert "tie" in user.test
    assert all(e.time < user.cutoff for e in user.train)


def test_build_split_test_item_seen_in_training_is_dropped() -> None:
    events = [rating("4", f"i{t}", t, 5.0) for t in range(1, 11)]
    events.append(tag("4", "i10", 2, "want to see"))
    user = build_split(events).users["4"]
    assert user.test == {"i9"}


def test_build_split_user_without_positives_is_not_evaluated() -> None:
    split = build_split([rating("5", "a", 1, 3.0), rating("5", "b", 2, 1.0)])
    assert "5" not in split.users
    assert split.training_events() == []


def test_build_split_bad_share_raises() -> None:
    with pytest.raises(Exception, match="test_share"):
        build_split(table(), test_share=1.0)


def test_replayed_stream_has_no_event_at_or_after_any_cutoff() -> None:
    """Fails if the stream the evaluation replays could show a model the future."""
    events = table()
    split = build_split(events)
    stream = split.training_events()
    assert leaks(split, stream) == []
    test_events = {(u, item) for u, user in split.users.items() for item in user.test}
    for event in stream:
        user = split.users[event.user]
        assert event.time < user.cutoff, event
        assert (event.user, event.item) not in test_events, event
    assert not any(e.item in {"bad", "late", "low-late"} for e in stream)


def test_leaks_flags_events_at_cutoff_and_test_items() -> None:
    split = build_split(table())
    at_cutoff = rating("1", "other", 90, 3.0)
    test_item = rating("1", "p100", 10, 4.0)
    assert leaks(split, [at_cutoff, test_item]) == [at_cutoff, test_item]


def test_task_events_shift_cutoff_to_anchor_and_keep_gaps() -> None:
    user = build_split(table()).users["2"]
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    rows = task_events(user, anchor=anchor)
    times = [datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in rows]
    assert all(t < anchor for t in times)
    assert (anchor - times[0]).total_seconds() == 2  # x at 5, cutoff 7
    assert (times[1] - times[0]).total_seconds() == 1
    assert rows[0]["user"] == "movielens-2"
    assert (rows[0]["type"], rows[0]["item"]) == ("like", "ml-x")


def test_item_rows_text_is_title_and_genres_category_is_rarest_genre() -> None:
    movies = {
        "1": Movie("1", "Toy Story (1995)", ("Animation", "Comedy")),
        "2": Movie("2", "Heat (1995)", ("Comedy", "Crime")),
        "3": Movie("3", "Untitled", ()),
    }
    rows = item_rows(movies)
    assert rows[0]["id"] == "ml-1"
    assert rows[0]["body"] == "Animation, Comedy"
    assert rows[0]["category"] == "Animation"  # Comedy is in two movies, Animation in one
    assert rows[2]["category"] is None and rows[2]["body"] == ""
