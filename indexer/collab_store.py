"""Collaborative factors in Elasticsearch: read interactions, write factors, rebuild users.

The adapter around ``indexer.collab`` (pure). A refit is: read every item event from
``user_events``, fit, write ``collab`` + ``collab_version`` on the items (and clear factors of
an older version from items that have none now), record the version in the items ``_meta``
(``collab``), then recompute each user's collaborative sum from their stored events, under
optimistic concurrency so a concurrent event is never overwritten.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError
from elasticsearch.helpers import scan

from indexer.collab import (
    COLLAB_DIMS,
    IMPLICIT_WEIGHTS,
    Interaction,
    ItemFactors,
    fit_item_factors,
)
from indexer.events import MAX_OCC_ATTEMPTS, item_collab
from indexer.interests import (
    ITEM_EVENT_KINDS,
    InterestEvent,
    InterestParams,
    from_document,
    to_document,
    with_collab,
)
from indexer.timeparse import parse_time, to_millis
from indexer.writer import bulk_write
from plugin.errors import InputError

logger = logging.getLogger(__name__)

SCAN_SIZE = 2000
WRITE_CHUNK = 500


def _item_events(
    es: Elasticsearch, events_index: str, fields: Sequence[str], *filters: Mapping[str, Any]
) -> Iterator[Mapping[str, Any]]:
    """The ``_source`` (only ``fields``) of every stored event that names an item."""
    query = {"bool": {"filter": [{"exists": {"field": "item_id"}}, *filters]}}
    for hit in scan(
        es, index=events_index, query={"query": query, "_source": list(fields)}, size=SCAN_SIZE
    ):
        yield hit["_source"]


def read_interactions(es: Elasticsearch, events_index: str) -> Iterator[Interaction]:
    """Every stored event that names an item, as (user, item, kind)."""
    for source in _item_events(es, events_index, ("user", "item_id", "type")):
        yield Interaction(user=source["user"], item=source["item_id"], kind=source["type"])


def new_version() -> int:
    """Versions order by time (milliseconds), so a newer fit always has a larger number."""
    return int(time.time() * 1000)


def write_item_factors(
    es: Elasticsearch, items_index: str, factors: ItemFactors, *, version: int
) -> dict[str, int]:
    """Write the factors onto the items; clear factors of older versions elsewhere.

    Items that are no longer in the index (deleted since their events) are skipped.

    Returns:
        ``{"written", "cleared", "missing"}`` counts.
    """
    vectors = factors.as_mapping()
    existing = set(_existing_ids(es, items_index, list(vectors)))
    actions = [
        {
            "_op_type": "update",
            "_index": items_index,
            "_id": item,
            "doc": {"collab": vector, "collab_version": str(version)},
        }
        for item, vector in vectors.items()
        if item in existing
    ]
    stale = [
        hit["_id"]
        for hit in scan(
            es,
            index=items_index,
            query={
                "query": {
                    "bool": {
                        "filter": [{"exists": {"field": "collab_version"}}],
                        "must_not": [{"term": {"collab_version": str(version)}}],
                    }
                },
                "_source": False,
            },
            size=SCAN_SIZE,
        )
        if hit["_id"] not in vectors
    ]
    actions += [
        {
            "_op_type": "update",
            "_index": items_index,
            "_id": item,
            "doc": {"collab": None, "collab_version": None},
        }
        for item in stale
    ]
    for start in range(0, len(actions), WRITE_CHUNK):
        report = bulk_write(es, actions[start : start + WRITE_CHUNK])
        if report.errors:
            raise InputError(
                f"could not write factors for {len(report.errors)} items: "
                f"{report.errors[0]['error']}"
            )
    es.indices.refresh(index=items_index)
    return {
        "written": len(actions) - len(stale),
        "cleared": len(stale),
        "missing": len(vectors) - len(existing),
    }


def _existing_ids(es: Elasticsearch, index: str, ids: Sequence[str]) -> Iterator[str]:
    for start in range(0, len(ids), WRITE_CHUNK):
        response = es.mget(index=index, ids=list(ids[start : start + WRITE_CHUNK]), source=False)
        yield from (doc["_id"] for doc in response["docs"] if doc.get("found"))


def refit(
    es: Elasticsearch,
    *,
    items_index: str,
    events_index: str,
    write_meta_fn: Any,
    weights: Mapping[str, float] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Fit and write new factors.

    ``write_meta_fn(summary)`` records the version (the caller owns the ``_meta`` write);
    ``weights``: how much each kind of event counts in the fit (the interest model's votes;
    default ``collab.IMPLICIT_WEIGHTS``).

    Returns:
        The summary also stored in ``_meta.collab``, and the (pseudonymous) users whose
        events went into the fit, the ones to rebuild.
    """
    started = time.perf_counter()
    # Events stored in the last refresh interval are acknowledged but not yet searchable.
    es.indices.refresh(index=events_index)
    interactions = list(read_interactions(es, events_index))
    read_s = time.perf_counter() - started
    mark = time.perf_counter()
    factors = fit_item_factors(
        interactions, weights=IMPLICIT_WEIGHTS if weights is None else weights
    )
    fit_s = time.perf_counter() - mark
    version = new_version()
    mark = time.perf_counter()
    counts = write_item_factors(es, items_index, factors, version=version)
    write_s = time.perf_counter() - mark
    summary = {
        "version": version,
        "dims": COLLAB_DIMS,
        "components": factors.components,
        "users": factors.users,
        "items": len(factors.items),
        "interactions": factors.interactions,
        "method": factors.method,
        "fitted_at": datetime.now(UTC).isoformat(),
        "seconds": {"read": round(read_s, 2), "fit": round(fit_s, 2), "write": round(write_s, 2)},
        **counts,
    }
    write_meta_fn(summary)
    logger.info(
        "collab factors v%d: %d items from %d users (%.1f s fit, %.1f s write)",
        version,
        summary["written"],
        factors.users,
        fit_s,
        write_s,
    )
    return summary, sorted({interaction.user for interaction in interactions})


def recompute_user(
    es: Elasticsearch,
    user: str,
    *,
    version: int,
    items_index: str,
    events_index: str,
    interests_index: str,
    params: InterestParams,
) -> bool:
    """Rebuild ``user``'s collaborative sum from their stored item events with the factors of
    ``version``; False when the user has no interest document (nothing to attach it to)."""
    events = _user_item_events(es, events_index, user)
    factors = _factors_of(es, items_index, {item for item, _, _ in events}, version)
    rebuilt = [
        InterestEvent(kind=kind, time_ms=moment, item_id=item, **factors[item])
        for item, kind, moment in events
        if item in factors
    ]
    for attempt in range(MAX_OCC_ATTEMPTS):
        try:
            current = es.get(index=interests_index, id=user)
        except NotFoundError:
            return False
        state = from_document(current["_source"])
        if state.collab_version is not None and state.collab_version > version:
            return True  # a newer refit already rebuilt this user
        updated = with_collab(state, rebuilt, version=version, params=params)
        document = to_document(updated, user=user, now_ms=to_millis(datetime.now(UTC)))
        for carried in ("applied_events", "popularity_outbox"):  # to_document has neither
            if carried in current["_source"]:
                document[carried] = current["_source"][carried]
        try:
            es.index(
                index=interests_index,
                id=user,
                document=document,
                if_seq_no=current["_seq_no"],
                if_primary_term=current["_primary_term"],
            )
            return True
        except ConflictError:
            time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
    raise InputError(f"gave up rebuilding collab of user {user} after {MAX_OCC_ATTEMPTS} conflicts")


def _user_item_events(
    es: Elasticsearch, events_index: str, user: str
) -> list[tuple[str, str, int]]:
    return [
        (source["item_id"], source["type"], to_millis(parse_time(source["time"])))
        for source in _item_events(
            es,
            events_index,
            ("item_id", "type", "time"),
            {"term": {"user": user}},
            {"terms": {"type": sorted(ITEM_EVENT_KINDS)}},
        )
    ]


def _factors_of(
    es: Elasticsearch, items_index: str, items: set[str], version: int
) -> dict[str, Mapping[str, Any]]:
    result: dict[str, Mapping[str, Any]] = {}
    wanted = sorted(items)
    for start in range(0, len(wanted), WRITE_CHUNK):
        response = es.mget(
            index=items_index,
            ids=wanted[start : start + WRITE_CHUNK],
            source_includes=["collab", "collab_version"],
        )
        for doc in response["docs"]:
            if not doc.get("found"):
                continue
            factors = item_collab(doc["_source"])
            if factors.get("collab_version") == version:
                result[doc["_id"]] = factors
    return result
