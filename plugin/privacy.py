"""Erasing a user: the interest document, every stored event and every logged impression or
click (scan + bulk delete: no _delete_by_query needed)."""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk, scan

logger = logging.getLogger(__name__)

# Rounds of scan-and-delete: events or impressions may still be arriving while we delete.
FORGET_ROUNDS = 10


def forget_user(
    es: Elasticsearch,
    *,
    user: str,
    interests_index: str,
    events_index: str,
    feedback_index: str | None = None,
) -> dict[str, int]:
    """Delete ``user``'s (pseudonymised) documents; return how many of each were removed.

    Args:
        es: the client.
        user: the pseudonym (never the host's id: Elasticsearch only ever sees pseudonyms).
        interests_index, events_index: aliases of the user's interests and events.
        feedback_index: alias of the impression/click log, when it should be erased too.

    Returns:
        ``{"interests": 0|1, "events": n}``, plus ``"feedback": n`` with ``feedback_index``.
    """
    removed = {"interests": 0, "events": 0}
    try:
        es.delete(index=interests_index, id=user, refresh=True)
        removed["interests"] = 1
    except NotFoundError:
        pass
    removed["events"] = delete_user_documents(es, index=events_index, user=user)
    if feedback_index is not None:
        removed["feedback"] = delete_user_documents(es, index=feedback_index, user=user)
    logger.info("forgot user %s: %s", user, removed)
    return removed


def delete_user_documents(es: Elasticsearch, *, index: str, user: str) -> int:
    """Delete every document whose ``user`` field is ``user``; a missing index holds none."""
    query: dict[str, Any] = {"query": {"term": {"user": user}}, "_source": False}
    removed = 0
    for _ in range(FORGET_ROUNDS):
        try:
            es.indices.refresh(index=index)
            hits = list(scan(es, index=index, query=query, size=1000))
        except NotFoundError:
            return removed
        if not hits:
            break
        ok, _errors = bulk(
            es,
            ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits),
            raise_on_error=False,
            refresh=True,
        )
        removed += ok
    return removed
