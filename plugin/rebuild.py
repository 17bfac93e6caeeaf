"""Rebuild the items index with no downtime: re-encode into ``<alias>-v<N+1>``, swap the alias.

1. create the next index with the current mapping, the (new) model's dims and identity, and
   the old `_meta` blend weights with their whole history;
2. read the old index under a point in time (``search_after``; no ``_reindex`` needed) and
   send every item's source fields, less its vector, to the workers to encode into the new
   index; fields no encoder makes (``CARRIED_FIELDS``) are copied as they are;
3. catch up with items written meanwhile, then swap the alias in one ``_aliases`` call
   (remove + add), so every query sees one whole index or the other, never a mix or nothing;
4. catch up once more and add the clicks counted on the old index during the rebuild, then
   keep the old index (default) or delete it.

Queries keep being served from the old index until the swap. The encoding is injected
(``IndexBatch``) so this module stays free of Celery: the CLI passes the task client.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk

from plugin.errors import MappingError
from plugin.es import index_body, resolve_alias
from plugin.pit import scan_pit

logger = logging.getLogger(__name__)

# (rows, target index) -> {"indexed": int, "errors": [{"id", "error"}]}; rows are item sources.
IndexBatch = Callable[[list[dict[str, Any]], str], Mapping[str, Any]]

VERSION_SUFFIX = re.compile(r"-v(\d+)$")
SKIPPED_FIELDS = ("embedding",)  # made again by the encoder
# Made by other jobs, or provenance the encoder would restate ("given" for a predicted
# category): copied as they are after the worker wrote the item.
CARRIED_FIELDS = ("collab", "collab_version", "category_source")
# Items written this long before the rebuild started are caught up too (clock skew).
CATCH_UP_MARGIN = timedelta(seconds=60)
PAGE = 500
MAX_OCC_ATTEMPTS = 30


def next_index_name(alias: str, current: str) -> str:
    """``<alias>-v<N+1>`` after ``current`` (``<alias>-v<N>``; anything else counts as v1)."""
    match = VERSION_SUFFIX.search(current)
    version = int(match.group(1)) if match and current.startswith(alias) else 1
    return f"{alias}-v{version + 1}"


def build_meta(
    old_meta: Mapping[str, Any], *, model: Mapping[str, Any], old_index: str
) -> dict[str, Any]:
    """The new index's `_meta`: everything of the old one (blend weights, their history),
    with the new model's identity and where it was rebuilt from (pure). A similarity
    calibration of another model is left out: its centre belongs to the other vector space."""
    meta = dict(old_meta)
    calibration = meta.get("calibration")
    if isinstance(calibration, Mapping) and calibration.get("model") != model.get("name"):
        del meta["calibration"]
    meta["model"] = dict(model)
    meta["rebuilt_from"] = old_index
    return meta


def swap_alias(es: Elasticsearch, *, alias: str, old: str, new: str) -> None:
    """Point ``alias`` from ``old`` to ``new`` in one atomic `_aliases` call."""
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": old, "alias": alias}},
            {"add": {"index": new, "alias": alias, "is_write_index": True}},
        ]
    )


def rebuild_items(
    es: Elasticsearch,
    *,
    alias: str,
    model: Mapping[str, Any],
    index_batch: IndexBatch,
    drop_old: bool = False,
    allow_errors: bool = False,
    replicas: int | None = None,
    page: int = PAGE,
    before_swap: Callable[[str], object] | None = None,
) -> dict[str, Any]:
    """Re-encode every item behind ``alias`` into a new index and swap the alias to it.

    Args:
        es: the client.
        alias: the items alias (``settings.index_alias("items")``).
        model: identity of the model the workers encode with (name, dims, ...).
        index_batch: encodes and writes rows into the named index (the workers).
        drop_old: delete the old index after the swap (default: keep it for a rollback).
        allow_errors: swap even if some items could not be indexed (default: keep serving
            the old index and report them).
        replicas: replica copies of the new index (default: as many as the old one has).
        page: items read and sent per round.
        before_swap: called with the new index's name once it holds every item, before the
            alias moves (the CLI fits the new index's similarity calibration there).

    Returns:
        ``{"alias", "old", "new", "model", "scanned", "indexed", "errors", "caught_up",
        "popularity_synced", "swapped", "dropped", "seconds"}``.

    Raises:
        MappingError: the alias does not exist, or the next index name is taken by a live
            index.
    """
    started = time.perf_counter()
    old = resolve_alias(es, alias)
    if old is None:
        raise MappingError(f"index {alias} does not exist; run `interest init`")
    new = _create_next(es, alias=alias, old=old, model=model, replicas=replicas)
    since = datetime.now(UTC) - CATCH_UP_MARGIN
    popularity: dict[str, int] = {}
    copied: dict[str, Any] = {}  # id -> indexed_at of the version copied
    report: dict[str, Any] = {"alias": alias, "old": old, "new": new, "model": model.get("name")}
    report.update(scanned=0, indexed=0, errors=[], caught_up=0, popularity_synced=0)
    for hits in scan_pit(es, old, exclude=SKIPPED_FIELDS, page=page):
        report["scanned"] += len(hits)
        for hit in hits:
            popularity[hit["_id"]] = int(hit["_source"].get("popularity") or 0)
            copied[hit["_id"]] = hit["_source"].get("indexed_at")
        _copy(es, hits, new=new, index_batch=index_batch, report=report)
        logger.info("rebuild %s -> %s: %d items so far", old, new, report["scanned"])
    catch_up = CatchUp(old=old, new=new, since=since, index_batch=index_batch, copied=copied)
    report["caught_up"] += catch_up.run(es)
    es.indices.refresh(index=new)
    if report["errors"] and not allow_errors:
        logger.error("rebuild: %d items failed; %s still serves", len(report["errors"]), old)
        report.update(swapped=False, dropped=False, seconds=_since(started))
        return report
    if before_swap is not None:
        before_swap(new)
    swap_alias(es, alias=alias, old=old, new=new)
    logger.info("rebuild: alias %s now points to %s", alias, new)
    # Writes that reached the old index between the last catch-up and the swap.
    report["caught_up"] += catch_up.run(es)
    report["popularity_synced"] = _sync_popularity(es, old=old, new=new, at_scan=popularity)
    if drop_old:
        es.indices.delete(index=old)
    report.update(swapped=True, dropped=drop_old, seconds=_since(started))
    return report


def _create_next(
    es: Elasticsearch,
    *,
    alias: str,
    old: str,
    model: Mapping[str, Any],
    replicas: int | None,
) -> str:
    new = next_index_name(alias, old)
    if es.indices.exists(index=new):
        if es.indices.exists_alias(name=alias, index=new):
            raise MappingError(f"{new} already serves {alias}; nothing to rebuild into")
        logger.warning("deleting %s, left over by an interrupted rebuild", new)
        es.indices.delete(index=new)
    old_meta = es.indices.get_mapping(index=old)[old]["mappings"].get("_meta", {})
    if replicas is None:
        found = es.indices.get_settings(index=old, name="index.number_of_replicas")
        replicas = int(found[old]["settings"]["index"]["number_of_replicas"])
    body = index_body("items", model=model, replicas=replicas)
    body["mappings"]["_meta"] = build_meta(old_meta, model=model, old_index=old)
    es.indices.create(index=new, settings=body["settings"], mappings=body["mappings"])
    logger.info("rebuild: created %s (model %s, %s dims)", new, model.get("name"), model["dims"])
    return new


def _copy(
    es: Elasticsearch,
    hits: Iterable[Mapping[str, Any]],
    *,
    new: str,
    index_batch: IndexBatch,
    report: dict[str, Any],
) -> int:
    """Encode ``hits`` into ``new`` through ``index_batch``; copy their carried fields."""
    rows, carried = [], []
    left_out = (*SKIPPED_FIELDS, *CARRIED_FIELDS)
    for hit in hits:
        source = hit["_source"]
        rows.append({k: v for k, v in source.items() if k not in left_out})
        extra = {k: source[k] for k in CARRIED_FIELDS if source.get(k) is not None}
        if extra:
            carried.append((hit["_id"], extra))
    if not rows:
        return 0
    result = index_batch(rows, new)
    report["indexed"] += int(result.get("indexed", 0))
    report["errors"].extend(result.get("errors", []))
    failed = {str(e.get("id")) for e in result.get("errors", [])}
    actions = [
        {"_op_type": "update", "_index": new, "_id": doc_id, "doc": extra}
        for doc_id, extra in carried
        if doc_id not in failed
    ]
    if actions:
        bulk(es, actions)
    return len(rows)


@dataclass
class CatchUp:
    """Items written to ``old`` during the rebuild: indexed at or after ``since`` and not the
    version already copied (``copied``: id -> indexed_at, kept up to date here)."""

    old: str
    new: str
    since: datetime
    index_batch: IndexBatch
    copied: dict[str, Any]

    def run(self, es: Elasticsearch) -> int:
        """Re-encode them into ``new``; return how many."""
        es.indices.refresh(index=self.old)
        query = {"range": {"indexed_at": {"gte": self.since.isoformat()}}}
        count = 0
        scratch: dict[str, Any] = {"indexed": 0, "errors": []}
        for hits in scan_pit(es, self.old, query=query, exclude=SKIPPED_FIELDS):
            fresh = [h for h in hits if self.copied.get(h["_id"], "") != _indexed_at(h)]
            count += _copy(es, fresh, new=self.new, index_batch=self.index_batch, report=scratch)
            self.copied.update((h["_id"], _indexed_at(h)) for h in fresh)
        if scratch["errors"]:
            logger.warning("rebuild catch-up: %d items failed", len(scratch["errors"]))
        return count


def _indexed_at(hit: Mapping[str, Any]) -> Any:
    return hit["_source"].get("indexed_at")


def _sync_popularity(es: Elasticsearch, *, old: str, new: str, at_scan: Mapping[str, int]) -> int:
    """Add to ``new`` the clicks and likes counted on ``old`` after it was read."""
    es.indices.refresh(index=old)
    synced = 0
    query = {"range": {"popularity": {"gt": 0}}}
    for hits in scan_pit(es, old, query=query, include=["popularity"]):
        for hit in hits:
            delta = int(hit["_source"].get("popularity") or 0) - at_scan.get(hit["_id"], 0)
            if hit["_id"] in at_scan and delta > 0:
                synced += _add_popularity(es, new, hit["_id"], delta)
    return synced


def _add_popularity(es: Elasticsearch, index: str, item_id: str, delta: int) -> int:
    """Add ``delta`` under optimistic concurrency (live clicks may update it too)."""
    for attempt in range(MAX_OCC_ATTEMPTS):
        try:
            current = es.get(index=index, id=item_id, source_includes=["popularity"])
            value = int(current["_source"].get("popularity") or 0) + delta
            es.update(
                index=index,
                id=item_id,
                doc={"popularity": value},
                if_seq_no=current["_seq_no"],
                if_primary_term=current["_primary_term"],
            )
            return 1
        except ConflictError:
            time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
        except NotFoundError:
            return 0
    logger.warning("rebuild: popularity of %s not synced after %d conflicts", item_id, attempt)
    return 0


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
