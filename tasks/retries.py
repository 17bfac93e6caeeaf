"""What tasks retry on: Elasticsearch unreachable, timed out, busy or recovering."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from elasticsearch import ApiError, ConnectionTimeout
from elasticsearch import ConnectionError as EsConnectionError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from plugin.errors import ServiceUnavailable
from plugin.es import is_transient

P = ParamSpec("P")
R = TypeVar("R")

# Elasticsearch down or overloaded: wait and retry, never drop the batch. The client raises
# ConnectionError for a refused connection (node stopped) after its own quick retries.
RETRY_ON: tuple[type[BaseException], ...] = (
    EsConnectionError,
    ConnectionTimeout,
    ServiceUnavailable,
    # The popularity ledger lives in Redis: a restart there waits, like Elasticsearch down.
    RedisConnectionError,
    RedisTimeoutError,
)


def retry_transient(func: Callable[P, R]) -> Callable[P, R]:
    """Turn Elasticsearch's "busy or recovering" answers (429, 502, 503, 504: a shard not yet
    allocated after a restart, a node lost) into ServiceUnavailable, which tasks retry."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            if not is_transient(exc):
                raise
            raise ServiceUnavailable(
                f"Elasticsearch answered {exc.meta.status} ({exc.error}); will retry"
            ) from None

    return wrapper
