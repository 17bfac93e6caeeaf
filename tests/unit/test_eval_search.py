"""The search evaluation's queries and the replayed history's shape (pure parts)."""

from __future__ import annotations

from plugin.app.evaluation.eval_movielens import HISTORY_PREFIX, _history
from plugin.app.evaluation.eval_search import genre_queries
from tests.unit.test_strong_baselines import toy_split


def test_genre_queries_are_seeded_one_genre_of_a_test_item_each() -> None:
    split = toy_split()
    users = sorted(split.users)
    genres = {f"{g}{i}": (f"genre-{g}", "Drama") for g in "ab" for i in range(8)}
    first = genre_queries(split, users, genres, seed=3, per_user=2)
    assert first == genre_queries(split, users, genres, seed=3, per_user=2)
    assert first != genre_queries(split, users, genres, seed=4, per_user=2)
    per_user: dict[str, int] = {}
    for user, query, item in first:
        assert item in split.users[user].test and query in genres[item]
        per_user[user] = per_user.get(user, 0) + 1
    assert max(per_user.values()) <= 2 and set(per_user) == set(users)
    assert genre_queries(split, users, {}, seed=3) == []  # items without genres ask nothing


def test_history_is_the_training_part_of_the_given_users_only() -> None:
    split = toy_split()
    rows = _history(split, ["1", "2"])
    assert rows and {row["user"] for row in rows} == {HISTORY_PREFIX + "1", HISTORY_PREFIX + "2"}
    trained = {(u, e.item) for u in ("1", "2") for e in split.users[u].train}
    assert {(row["user"][len(HISTORY_PREFIX) :], row["item_id"][3:]) for row in rows} <= trained
    assert all(row["time"].endswith("Z") for row in rows)
