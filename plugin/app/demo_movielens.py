"""`interest demo --dataset movielens`: the demo's catalogue and replay drawn from MovieLens.

A few users with long histories replay their most recent events (ratings as likes, clicks and
dislikes; tags as posts) one hour apart, so their interests move within the demo's time frame.
The catalogue is the most rated movies plus every movie those users touch, so indexing takes
minutes, not the whole catalogue's time.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from plugin.errors import InputError

DEFAULT_USERS = 3
DEFAULT_EVENTS_PER_USER = 30
DEFAULT_CATALOGUE = 1500
DEFAULT_SEED = 7
HOUR_IN_DAYS = 1 / 24
SEARCHES = ("love", "war", "space")


def movielens_demo(
    data_dir: str | Path,
    *,
    users: int = DEFAULT_USERS,
    events_per_user: int = DEFAULT_EVENTS_PER_USER,
    catalogue: int = DEFAULT_CATALOGUE,
    seed: int = DEFAULT_SEED,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]:
    """Items, events (with ``days_ago``) and searches for ``plugin.app.demo.run_demo``.

    Raises:
        InputError: the folder holds no MovieLens files, or too few users have that many events.
    """
    from plugin.app.evaluation.movielens import ITEM_PREFIX, item_rows, load_movielens

    data = load_movielens(data_dir)
    by_user: dict[str, list[Any]] = {}
    for event in data.events:
        if event.item in data.movies:
            by_user.setdefault(event.user, []).append(event)
    eligible = sorted(
        (user for user, events in by_user.items() if len(events) >= 2 * events_per_user),
        key=int,
    )
    if len(eligible) < users:
        raise InputError(f"only {len(eligible)} MovieLens users have {2 * events_per_user} events")
    chosen = sorted(random.Random(seed).sample(eligible, users), key=int)
    rows: list[dict[str, Any]] = []
    touched: set[str] = set()
    for user in chosen:
        recent = sorted(by_user[user], key=lambda e: (e.time, e.item, e.kind))[-events_per_user:]
        for position, event in enumerate(recent):
            row: dict[str, Any] = {
                "user": f"movielens-{user}",
                "type": event.kind,
                "item": ITEM_PREFIX + event.item,
                "days_ago": (len(recent) - position) * HOUR_IN_DAYS,
            }
            if event.text:
                row["text"] = event.text
            rows.append(row)
            touched.add(event.item)
    liked = Counter(e.item for e in data.events if e.kind == "like" and e.item in data.movies)
    keep = {movie for movie, _ in liked.most_common(catalogue)} | touched
    items = [row for row in item_rows(data.movies) if row["id"][len(ITEM_PREFIX) :] in keep]
    searches = [(query, f"movielens-{user}") for query, user in zip(SEARCHES, chosen, strict=False)]
    return items, rows, searches
