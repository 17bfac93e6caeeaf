"""Write-path orchestration: items in, vectors out, bulk into Elasticsearch."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from indexer.documents import PreparedItem, prepare_item
from indexer.writer import bulk_write, upsert_actions
from plugin.encoder import Encoder
from plugin.errors import InputError

logger = logging.getLogger(__name__)


def index_items(
    raw_items: Sequence[Mapping[str, Any]],
    *,
    es: Elasticsearch,
    encoder: Encoder,
    index: str,
    refresh: bool | str = False,
) -> dict[str, Any]:
    """Validate, encode (one batch) and upsert items; bad items are reported, the rest indexed."""
    started = time.perf_counter()
    prepared: list[PreparedItem] = []
    errors: list[dict[str, str]] = []
    for position, raw in enumerate(raw_items):
        try:
            prepared.append(prepare_item(raw))
        except InputError as exc:
            item_id = raw.get("id") if isinstance(raw, Mapping) else None
            errors.append(
                {"id": str(item_id) if item_id is not None else f"#{position}", "error": str(exc)}
            )
    vectors = encoder.encode([item.embed_text for item in prepared], kind="passage")
    docs = []
    for item, vector in zip(prepared, vectors, strict=True):
        docs.append((item.item_id, {**item.source, "embedding": vector.tolist()}))
    report = bulk_write(es, upsert_actions(index, docs), refresh=refresh)
    errors.extend(report.errors)
    elapsed = time.perf_counter() - started
    logger.info("indexed %d items (%d errors) in %.2fs", report.written, len(errors), elapsed)
    return {"indexed": report.written, "errors": errors, "seconds": round(elapsed, 4)}
