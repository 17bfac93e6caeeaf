"""Item neighbours in Elasticsearch: fit from ``user_events``, write a new index, swap the alias.

The adapter around ``indexer.neighbours`` (pure). A refit reads every stored item event, fits
the sparse EASE neighbours on the kinds that vote, writes one document per item (its
out-neighbours) into a fresh index ``<alias>-<version>``, then moves the alias to it in one
atomic ``_aliases`` call and deletes the older indices. Readers (``plugin.neighbours``) see
either the old table or the new one, never a mix, and keep answering during the refit. The
summary goes to the items ``_meta.neighbours``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from indexer.collab_store import new_version, read_interactions
from indexer.neighbours import (
    DEFAULT_CANDIDATES,
    DEFAULT_KEEP,
    DEFAULT_KEEP_OUT,
    DEFAULT_LAMBDA,
    NeighbourTable,
    fit_neighbour_table,
)
from indexer.writer import bulk_write
from mappings import load_neighbours
from plugin.errors import InputError
from plugin.neighbours import neighbour_document

logger = logging.getLogger(__name__)

WRITE_CHUNK = 1000


def _actions(index: str, table: NeighbourTable, version: int) -> Iterator[dict[str, Any]]:
    for item, row in table.out.items():
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": item,
            "_source": neighbour_document(item, row, version=version),
        }


def _chunks(actions: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for action in actions:
        chunk.append(action)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _indices_behind(es: Elasticsearch, alias: str) -> list[str]:
    try:
        return sorted(es.indices.get_alias(name=alias).body)
    except NotFoundError:
        return []


def write_table(
    es: Elasticsearch, alias: str, table: NeighbourTable, *, version: int, replicas: int = 0
) -> dict[str, Any]:
    """Write ``table`` into ``<alias>-<version>``, point ``alias`` at it, drop older indices."""
    concrete = f"{alias}-{version}"
    body = load_neighbours()
    # Written once, read after the swap: no refreshes while loading, replicas added after.
    body["settings"]["refresh_interval"] = "-1"
    es.indices.create(index=concrete, settings=body["settings"], mappings=body["mappings"])
    try:
        written = 0
        for chunk in _chunks(_actions(concrete, table, version), WRITE_CHUNK):
            report = bulk_write(es, chunk)
            if report.errors:
                raise InputError(
                    f"could not write neighbours of {len(report.errors)} items: "
                    f"{report.errors[0]['error']}"
                )
            written += report.written
        es.indices.put_settings(
            index=concrete,
            settings={"index": {"refresh_interval": "1s", "number_of_replicas": replicas}},
        )
        es.indices.refresh(index=concrete)
    except BaseException:
        es.indices.delete(index=concrete, ignore_unavailable=True)
        raise
    older = [index for index in _indices_behind(es, alias) if index != concrete]
    actions: list[dict[str, Any]] = [
        {"remove": {"index": index, "alias": alias}} for index in older
    ]
    actions.append({"add": {"index": concrete, "alias": alias, "is_write_index": True}})
    es.indices.update_aliases(actions=actions)
    for index in older:
        es.indices.delete(index=index, ignore_unavailable=True)
    return {"index": concrete, "written": written, "replaced": older}


def refit(
    es: Elasticsearch,
    *,
    events_index: str,
    neighbours_alias: str,
    vote_weights: Mapping[str, float],
    write_meta_fn: Callable[[dict[str, Any]], None],
    replicas: int = 0,
    lam: float = DEFAULT_LAMBDA,
    candidates: int = DEFAULT_CANDIDATES,
    keep: int = DEFAULT_KEEP,
    keep_out: int = DEFAULT_KEEP_OUT,
) -> dict[str, Any]:
    """Fit and write a new version of the neighbours; ``write_meta_fn(summary)`` records it.

    Raises:
        InputError: too few interactions of the voting kinds (nothing is changed).
    """
    kinds = sorted(kind for kind, weight in vote_weights.items() if weight > 0)
    started = time.perf_counter()
    es.indices.refresh(index=events_index)  # events of the last second are not yet searchable
    interactions = list(read_interactions(es, events_index))
    read_s = time.perf_counter() - started
    mark = time.perf_counter()
    table = fit_neighbour_table(
        interactions, kinds=kinds, lam=lam, candidates=candidates, keep=keep, keep_out=keep_out
    )
    fit_s = time.perf_counter() - mark
    version = new_version()
    mark = time.perf_counter()
    written = write_table(es, neighbours_alias, table, version=version, replicas=replicas)
    write_s = time.perf_counter() - mark
    summary = {
        "version": version,
        "method": "sparse-ease",
        "params": {"lambda": lam, "candidates": candidates, "keep": keep, "keep_out": keep_out},
        "kinds": kinds,
        "users": table.users,
        "interactions": table.interactions,
        "items": len(table.out),
        "pairs": table.pairs,
        "index": written["index"],
        "fitted_at": datetime.now(UTC).isoformat(),
        "seconds": {"read": round(read_s, 2), "fit": round(fit_s, 2), "write": round(write_s, 2)},
    }
    write_meta_fn(summary)
    logger.info(
        "neighbours v%d: %d items, %d pairs from %d users (%.1f s fit, %.1f s write)",
        version,
        summary["items"],
        summary["pairs"],
        table.users,
        fit_s,
        write_s,
    )
    return summary
