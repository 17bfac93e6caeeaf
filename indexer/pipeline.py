"""Write-path orchestration: items in, vectors out, bulk into Elasticsearch."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from indexer.categories import CategoryModel, label_items
from indexer.documents import PreparedItem, prepare_item
from indexer.writer import bulk_write, upsert_actions
from plugin.encoder import Encoder, warn_unreadable_languages
from plugin.errors import InputError

logger = logging.getLogger(__name__)


def index_items(
    raw_items: Sequence[Mapping[str, Any]],
    *,
    es: Elasticsearch,
    encoder: Encoder,
    index: str,
    refresh: bool | str = False,
    categories: CategoryModel | None = None,
) -> dict[str, Any]:
    """Validate, encode (one batch) and upsert items; bad items are reported, the rest indexed.

    Items without a category get the category model's prediction when ``categories`` is
    given and the prediction is confident enough (``category_source: "model"``).

    Returns:
        ``{"indexed", "errors", "seconds", "phases"}``; ``phases`` splits ``seconds`` into
        ``prepare_s`` (cleaning, segmentation, keywords), ``encode_s`` and ``write_s`` (bulk).
    """
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
    label_items(
        [item.source for item in prepared], [item.embed_text for item in prepared], categories
    )
    encoding = time.perf_counter()
    warn_unreadable_languages(encoder.profile, (item.source["lang"] for item in prepared))
    vectors = encoder.encode([item.embed_text for item in prepared], kind="passage")
    writing = time.perf_counter()
    docs = []
    for item, vector in zip(prepared, vectors, strict=True):
        docs.append((item.item_id, {**item.source, "embedding": vector.tolist()}))
    report = bulk_write(es, upsert_actions(index, docs), refresh=refresh)
    errors.extend(report.errors)
    finished = time.perf_counter()
    phases = {
        "prepare_s": round(encoding - started, 4),
        "encode_s": round(writing - encoding, 4),
        "write_s": round(finished - writing, 4),
    }
    logger.info(
        "indexed %d items (%d errors) in %.2fs: prepare %.2fs, encode %.2fs, write %.2fs",
        report.written,
        len(errors),
        finished - started,
        *phases.values(),
    )
    return {
        "indexed": report.written,
        "errors": errors,
        "seconds": round(finished - started, 4),
        "phases": phases,
    }
