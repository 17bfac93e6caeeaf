"""What the evaluations read from and write to the running stack, besides the service.

Indexing and events go through the workers (``tasks.client.TaskClient``); this module only
reads the items index (vectors, ids) and sets counters the harness owns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, scan

from indexer.documents import prepare_item
from plugin.errors import InputError

logger = logging.getLogger(__name__)


def stored_hashes(es: Elasticsearch, index: str, prefix: str) -> dict[str, str]:
    """``id -> content_hash`` of the stored items whose id starts with ``prefix``."""
    query = {"query": {"prefix": {"id": prefix}}, "_source": ["content_hash"]}
    return {
        hit["_id"]: str(hit["_source"].get("content_hash"))
        for hit in scan(es, index=index, query=query, size=2000)
    }


def rows_to_index(
    rows: Sequence[Mapping[str, Any]], stored: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    """Rows that are not stored yet or whose text changed (a re-run skips the rest)."""
    return [
        row
        for row in rows
        if stored.get(str(row["id"])) != prepare_item(row).source["content_hash"]
    ]


def foreign_ids(
    es: Elasticsearch, index: str, prefix: str, categories: Sequence[str] = ()
) -> list[str]:
    """Ids of stored items that are not this dataset's (another run's, the demo's).

    With ``categories``, only those in one of them (the rest a category filter removes).
    """
    where: dict[str, Any] = {"must_not": {"prefix": {"id": prefix}}}
    if categories:
        where["filter"] = {"terms": {"category": list(categories)}}
    query = {"query": {"bool": where}, "_source": False}
    return sorted(hit["_id"] for hit in scan(es, index=index, query=query, size=2000))


def fetch_vectors(es: Elasticsearch, index: str, ids: Sequence[str]) -> np.ndarray:
    """The stored ``embedding`` of each id, as unit rows in the order of ``ids``.

    Raises:
        InputError: an item is missing or has no vector (indexing failed for it).
    """
    position = {item: i for i, item in enumerate(ids)}
    rows: list[np.ndarray | None] = [None] * len(ids)
    prefix = _common_prefix(ids)
    query = {"query": {"prefix": {"id": prefix}}, "_source": ["embedding"]}
    for hit in scan(es, index=index, query=query, size=1000):
        at = position.get(hit["_id"])
        vector = hit["_source"].get("embedding")
        if at is not None and vector:
            rows[at] = np.asarray(vector, dtype=np.float32)
    missing = [ids[i] for i, row in enumerate(rows) if row is None]
    if missing:
        raise InputError(f"{len(missing)} items have no stored vector, e.g. {missing[:3]}")
    matrix = np.vstack(rows)  # type: ignore[arg-type]
    unit: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit


def set_popularity(es: Elasticsearch, index: str, counts: Mapping[str, int]) -> None:
    """Overwrite the ``popularity`` counter of each listed item (the harness's starting point)."""
    actions = (
        {"_op_type": "update", "_index": index, "_id": item, "doc": {"popularity": int(count)}}
        for item, count in counts.items()
    )
    ok, errors = bulk(es, actions, raise_on_error=False, refresh=True, chunk_size=1000)
    if errors:
        count = errors if isinstance(errors, int) else len(errors)
        raise InputError(f"could not set popularity of {count} items")
    logger.info("set the popularity of %d items", ok)


def replace_history(
    es: Elasticsearch, index: str, user_prefix: str, events: Sequence[Mapping[str, Any]]
) -> int:
    """Store ``events`` (user, type, item_id, time) as already-applied events of users whose
    ids start with ``user_prefix``, after deleting that prefix's earlier ones: the history of
    users nobody ranks for, which the refits learn from as they would from a full replay."""
    # Scan and delete (the embedded node has no _delete_by_query): another sample's history
    # would otherwise hold some of this run's evaluated users twice.
    earlier = scan(
        es, index=index, query={"query": {"prefix": {"user": user_prefix}}, "_source": False}
    )
    deletions = ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in earlier)
    bulk(es, list(deletions), raise_on_error=False, refresh=True, chunk_size=2000)
    actions = (
        {
            "_op_type": "index",
            "_index": index,
            "_id": f"{event['user']}:{event['type']}:{event['item_id']}:{event['time']}",
            "_source": {**event, "event_id": f"{event['user']}:{n}", "applied": True},
        }
        for n, event in enumerate(events)
    )
    ok, errors = bulk(es, actions, raise_on_error=False, refresh=True, chunk_size=2000)
    if errors:
        count = errors if isinstance(errors, int) else len(errors)
        raise InputError(f"could not store {count} history events")
    return int(ok)


def _common_prefix(ids: Sequence[str]) -> str:
    if not ids:
        return ""
    first, last = min(ids), max(ids)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]
