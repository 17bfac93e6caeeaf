"""Impression and click log for learning blend weights; writing it never fails a request.

One document per shown hit (``kind: impression``: request id, rank, item, score, components)
and one per click (``kind: click``), in ``{prefix}-feedback`` behind an alias, created on first
use with the strict mapping in ``mappings/feedback.json``. Users appear only as pseudonyms.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk, scan

from mappings import load_feedback
from plugin.es import resolve_alias

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
FORGET_ROUNDS = 3


@cache
def component_names() -> tuple[str, ...]:
    """The component fields the strict mapping accepts (the mapping is the one source)."""
    properties = load_feedback()["mappings"]["properties"]["components"]["properties"]
    return tuple(properties)


def new_request_id() -> str:
    return uuid.uuid4().hex


def _iso(now: datetime | None) -> str:
    moment = now or datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _components(values: Mapping[str, Any] | None) -> dict[str, float]:
    known = component_names()
    out: dict[str, float] = {}
    for name, value in (values or {}).items():
        if name in known and isinstance(value, int | float) and math.isfinite(value):
            out[name] = float(value)
    return out


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if value is not None}


def build_impression_docs(
    payload: Mapping[str, Any],
    *,
    request_id: str,
    endpoint: str,
    user: str | None,
    query: str | None,
    weights_version: int | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One log document per hit of a ``result_to_json`` payload, ranks from 1 (pure).

    Args:
        payload: the JSON answered to the client (``hits``, ``cold_start``, ``mode``, ``scorer``).
        request_id: the id returned to the client, so its clicks can be joined to this.
        endpoint: ``search`` or ``recommend``.
        user: the user's pseudonym, or None for an anonymous search.
        query: the query text (None for recommendations).
        weights_version: the blend version that ranked these hits, when known.
        now: the time of the impression (default: now).

    Returns:
        Documents matching the feedback mapping.
    """
    timestamp = _iso(now)
    common = _without_none(
        {
            "kind": "impression",
            "request_id": request_id,
            "endpoint": endpoint,
            "user": user,
            "query": query[:MAX_QUERY_CHARS] if query else None,
            "mode": payload.get("mode"),
            "scorer": payload.get("scorer"),
            "cold_start": bool(payload.get("cold_start", False)),
            "weights_version": weights_version,
            "timestamp": timestamp,
        }
    )
    docs = []
    for rank, hit in enumerate(payload.get("hits", []), start=1):
        score = hit.get("score")
        docs.append(
            {
                **common,
                "item": str(hit["id"]),
                "rank": rank,
                "score": float(score) if isinstance(score, int | float) else None,
                "components": _components(hit.get("components")),
            }
        )
    return [_without_none(doc) for doc in docs]


def build_click_doc(
    *,
    user: str,
    item: str,
    request_id: str | None = None,
    query: str | None = None,
    rank: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The log document of one click (pure); ``user`` is the pseudonym."""
    return _without_none(
        {
            "kind": "click",
            "request_id": request_id,
            "user": user,
            "item": item,
            "query": query[:MAX_QUERY_CHARS] if query else None,
            "rank": rank,
            "timestamp": _iso(now),
        }
    )


class FeedbackLog:
    """Writes impression and click documents; every write failure is logged and swallowed."""

    def __init__(self, es: Elasticsearch, *, index: str):
        self.es = es
        self.index = index  # the alias; the concrete index is ``{index}-v1``
        self._ready = False
        self._lock = threading.Lock()

    def ensure_index(self) -> None:
        """Create the index behind its alias on first use (idempotent, race-safe)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            if resolve_alias(self.es, self.index) is None:
                body = load_feedback()
                try:
                    self.es.indices.create(
                        index=f"{self.index}-v1",
                        settings=body["settings"],
                        mappings=body["mappings"],
                        aliases={self.index: {"is_write_index": True}},
                    )
                    logger.info("created feedback index %s-v1", self.index)
                except BadRequestError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise
            self._ready = True

    def write(self, docs: list[dict[str, Any]], *, ids: list[str] | None = None) -> int:
        """Index ``docs``; return how many were stored (0 on any failure, never raises)."""
        if not docs:
            return 0
        try:
            self.ensure_index()
            operations: list[dict[str, Any]] = []
            for position, doc in enumerate(docs):
                action: dict[str, Any] = {"_index": self.index}
                if ids is not None:
                    action["_id"] = ids[position]
                operations += [{"index": action}, doc]
            response = self.es.bulk(operations=operations)
            failed = [item["index"] for item in response["items"] if item["index"].get("error")]
            if failed:
                reason = failed[0]["error"].get("reason", failed[0]["error"].get("type"))
                logger.warning(
                    "feedback: %d of %d documents refused: %s", len(failed), len(docs), reason
                )
            return len(docs) - len(failed)
        except Exception as exc:  # logging must never fail a search
            logger.warning(
                "feedback: could not write %d documents (%s)", len(docs), type(exc).__name__
            )
            logger.debug("feedback write failure", exc_info=True)
            return 0

    def log_impression(
        self,
        payload: Mapping[str, Any],
        *,
        request_id: str,
        endpoint: str,
        user: str | None,
        query: str | None,
        weights_version: int | None = None,
    ) -> int:
        """Log the hits of one answer; returns how many documents were stored."""
        try:
            docs = build_impression_docs(
                payload,
                request_id=request_id,
                endpoint=endpoint,
                user=user,
                query=query,
                weights_version=weights_version,
            )
        except Exception as exc:
            logger.warning("feedback: malformed answer not logged (%s)", type(exc).__name__)
            return 0
        ids = [f"{request_id}-{doc['rank']}" for doc in docs]  # a retried write stays one copy
        return self.write(docs, ids=ids)

    def log_click(
        self,
        *,
        user: str,
        item: str,
        request_id: str | None = None,
        query: str | None = None,
        rank: int | None = None,
    ) -> bool:
        doc = build_click_doc(user=user, item=item, request_id=request_id, query=query, rank=rank)
        return self.write([doc]) == 1

    def forget(self, user: str) -> int:
        """Delete every document of the pseudonym ``user``; errors propagate (privacy).

        Scan and bulk delete, as ``plugin.privacy`` does: a cluster without the reindex
        module has no ``_delete_by_query``.
        """
        query: dict[str, Any] = {"query": {"term": {"user": user}}, "_source": False}
        removed = 0
        for _ in range(FORGET_ROUNDS):  # a search answered just before may still be logging
            try:
                self.es.indices.refresh(index=self.index)
                hits = list(scan(self.es, index=self.index, query=query, size=1000))
            except NotFoundError:
                return removed
            if not hits:
                break
            ok, _ = bulk(
                self.es,
                ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits),
                raise_on_error=False,
                refresh=True,
            )
            removed += ok
        return removed
