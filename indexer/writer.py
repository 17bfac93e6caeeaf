"""Bulk writes with deterministic ids: re-sending a batch never creates duplicates."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from plugin.errors import InputError, ServiceUnavailable
from plugin.es import TRANSIENT_STATUSES

logger = logging.getLogger(__name__)

# Counters that events maintain; re-indexing an item must not reset them.
PRESERVED_ON_REINDEX = ("popularity", "popularity_flush")


@dataclass
class BulkReport:
    written: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


def upsert_actions(
    index: str, docs: Iterable[tuple[str, Mapping[str, Any]]]
) -> Iterable[dict[str, Any]]:
    """Update-or-insert actions: a re-sent item replaces its content but keeps its counters."""
    for doc_id, source in docs:
        doc = {k: v for k, v in source.items() if k not in PRESERVED_ON_REINDEX}
        yield {
            "_op_type": "update",
            "_index": index,
            "_id": doc_id,
            "doc": doc,
            "upsert": dict(source),
            "retry_on_conflict": 5,
        }


def bulk_write(
    es: Elasticsearch, actions: Iterable[dict[str, Any]], *, refresh: bool | str = False
) -> BulkReport:
    """Run bulk actions; per-document failures are reported, connection errors propagate.

    Raises:
        ServiceUnavailable: some documents were refused because Elasticsearch was busy or a
            shard was unavailable (429/503...): the caller retries the whole batch, which is
            idempotent, rather than report those documents as bad.
    """
    report = BulkReport()
    transient: list[str] = []
    for ok, result in streaming_bulk(
        es,
        actions,
        raise_on_error=False,
        raise_on_exception=True,
        refresh=refresh,
        chunk_size=500,
    ):
        if ok:
            report.written += 1
            continue
        op = next(iter(result.values()))
        if op.get("status") in TRANSIENT_STATUSES:
            transient.append(str(op.get("_id")))
            continue
        error = op.get("error", {})
        reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
        report.errors.append({"id": str(op.get("_id")), "error": reason[:300]})
    if transient:
        raise ServiceUnavailable(
            f"Elasticsearch could not take {len(transient)} documents now (busy or a shard "
            f"unavailable, e.g. {transient[0]}); will retry"
        )
    if report.errors:
        logger.warning("bulk write: %d written, %d failed", report.written, len(report.errors))
    return report


@dataclass
class OccOutcome:
    """What a bulk of versioned writes did, per document id."""

    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def bulk_with_occ(es: Elasticsearch, actions: Iterable[dict[str, Any]]) -> OccOutcome:
    """Run writes guarded by ``if_seq_no``/``if_primary_term`` (or ``create``) in bulk.

    A version conflict (another writer was first) is not an error: its id is returned for the
    caller to re-read and retry; so is an update of a document deleted meanwhile (``missing``).

    Raises:
        ServiceUnavailable: Elasticsearch refused some documents for now (429/503...).
        InputError: a document was refused for another reason (a bug, not the input's fault
            alone: the whole batch is retried or reported).
    """
    outcome = OccOutcome()
    transient: list[str] = []
    refused: list[str] = []
    for ok, result in streaming_bulk(
        es, actions, raise_on_error=False, raise_on_exception=True, chunk_size=500
    ):
        op = next(iter(result.values()))
        doc_id = str(op.get("_id"))
        status = op.get("status")
        if ok:
            outcome.written[doc_id] = op
        elif status == 409:
            outcome.conflicts.append(doc_id)
        elif status == 404:
            outcome.missing.append(doc_id)
        elif status in TRANSIENT_STATUSES:
            transient.append(doc_id)
        else:
            error = op.get("error", {})
            reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
            refused.append(f"{doc_id}: {reason[:300]}")
    if transient:
        raise ServiceUnavailable(
            f"Elasticsearch could not take {len(transient)} documents now (busy or a shard "
            f"unavailable, e.g. {transient[0]}); will retry"
        )
    if refused:
        raise InputError(f"{len(refused)} documents were refused, e.g. {refused[0]}")
    return outcome
