"""The MovieLens demo input, from a tiny MovieLens-shaped folder written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.app.demo_movielens import movielens_demo
from plugin.errors import InputError


def write_folder(root: Path, users: int, ratings_each: int) -> Path:
    folder = root / "movielens-ml-latest-small"
    folder.mkdir()
    movies = ["movieId,title,genres"] + [
        f"{m},Movie {m} (2000),{'Comedy|Drama' if m % 2 else 'Sci-Fi'}" for m in range(1, 41)
    ]
    ratings = ["userId,movieId,rating,timestamp"]
    for user in range(1, users + 1):
        for n in range(ratings_each):
            rating = (4.5, 3.0, 1.0)[n % 3]
            ratings.append(f"{user},{(user * 7 + n) % 40 + 1},{rating},{1_000_000 + n * 60}")
    tags = ["userId,movieId,tag,timestamp", "1,2,space opera,1000600"]
    for name, lines in (("movies.csv", movies), ("ratings.csv", ratings), ("tags.csv", tags)):
        (folder / name).write_text("\n".join(lines) + "\n")
    return root


def test_recent_events_of_seeded_users_one_hour_apart_with_their_items(tmp_path: Path) -> None:
    root = write_folder(tmp_path, users=5, ratings_each=12)
    items, events, searches = movielens_demo(root, users=2, events_per_user=5, catalogue=3)
    users = {event["user"] for event in events}
    assert len(users) == 2 and len(events) == 10
    assert {event["type"] for event in events} <= {"like", "click", "dislike", "post"}
    for user in users:
        ages = [event["days_ago"] for event in events if event["user"] == user]
        assert ages == sorted(ages, reverse=True) and ages[-1] == pytest.approx(1 / 24)
    item_ids = {item["id"] for item in items}
    assert {event["item"] for event in events} <= item_ids  # every replayed movie is indexed
    assert len(searches) == 2 and {user for _, user in searches} == users


def test_too_few_long_histories_is_a_clear_error(tmp_path: Path) -> None:
    root = write_folder(tmp_path, users=2, ratings_each=4)
    with pytest.raises(InputError, match="MovieLens users have"):
        movielens_demo(root, users=3, events_per_user=5)
