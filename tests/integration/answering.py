"""Run a refit while another thread keeps searching and recommending: nothing may fail."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


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
