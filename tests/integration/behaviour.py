"""What the behaviour tests (collaborative factors, item neighbours) share: groups of users
with disjoint tastes over items whose texts cannot tell the groups apart, and a refit run
while another thread keeps searching and recommending."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

WORDS = ("evening", "story", "journey", "river", "garden", "letters", "winter", "harbour")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def title(position: int) -> str:
    """Every group's i-th item has the same words: text cannot separate the groups."""
    return f"The {WORDS[position % 8]} {WORDS[(position + 3) % 8]} of {WORDS[(position + 5) % 8]}"


def group_likes(
    user_prefix: str,
    groups: Mapping[str, Sequence[str]],
    *,
    users: int,
    skip_every: int,
    start: datetime,
) -> list[dict[str, Any]]:
    """Like events: user ``<prefix>-<group><n>`` likes the group's items, skipping item
    ``p`` when ``(n + p) % skip_every == 0`` (nobody likes everything), a minute apart."""
    return [
        {
            "user": f"{user_prefix}-{group}{user}",
            "type": "like",
            "item": item,
            "time": iso(start + timedelta(minutes=user * 10 + position)),
        }
        for group, items in groups.items()
        for user in range(users)
        for position, item in enumerate(items)
        if (user + position) % skip_every
    ]


def while_answering(work: Callable[[], Any], ask: Callable[[], None]) -> tuple[Any, int]:
    """``work()``'s result and how many rounds of ``ask()`` ran meanwhile; any exception an
    ask raised fails the caller's test through the assertion here."""
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def keep_asking() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                ask()
                answered += 1
            except Exception as exc:  # any failure is what this loop looks for
                failures.append(repr(exc))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        result = work()
    finally:
        stop.set()
        asker.join(timeout=60)
    assert failures == [], failures[:3]
    assert answered > 0
    return result, answered
