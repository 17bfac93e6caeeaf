"""Erasing a user: the interest document and every stored event (no _delete_by_query needed)."""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk, scan

logger = logging.getLogger(__name__)


def forget_user(
    es: Elasticsearch, *, user: str, interests_index: str, events_index: str
) -> dict[str, int]:
    """Delete ``user``'s (pseudonymised) interest document and events; return what was removed."""
    removed = {"interests": 0, "events": 0}
    try:
        es.delete(index=interests_index, id=user, refresh=True)
        removed["interests"] = 1
    except NotFoundError:
        pass
    query: dict[str, Any] = {"query": {"term": {"user": user}}, "_source": False}
    # Scan and delete in rounds until nothing is left: events may still be arriving.
    for _ in range(10):
        es.indices.refresh(index=events_index)
        ids = [hit["_id"] for hit in scan(es, index=events_index, query=query, size=1000)]
        if not ids:
            break
        ok, _errors = bulk(
            es,
            ({"_op_type": "delete", "_index": events_index, "_id": i} for i in ids),
            raise_on_error=False,
            refresh=True,
        )
        removed["events"] += ok
    logger.info("forgot user %s: %s", user, removed)
    return removed
