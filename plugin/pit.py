"""Read every document of an index as of one moment: a point in time plus ``search_after``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

DEFAULT_PAGE = 500
DEFAULT_KEEP_ALIVE = "5m"


def scan_pit(
    es: Elasticsearch,
    index: str,
    *,
    query: Mapping[str, Any] | None = None,
    exclude: Sequence[str] = (),
    include: Sequence[str] | None = None,
    page: int = DEFAULT_PAGE,
    keep_alive: str = DEFAULT_KEEP_ALIVE,
) -> Iterator[list[dict[str, Any]]]:
    """Yield pages of hits (``_id``, ``_source``) of ``index``, a consistent snapshot.

    Writes that land after the point in time was opened are not seen, and none is seen twice,
    however long the caller takes between pages (each page renews ``keep_alive``). Needs no
    scroll context and no reindex module.

    Args:
        es: the client.
        index: a concrete index or an alias.
        query: restricts the documents (default: all).
        exclude: ``_source`` fields to leave out (e.g. vectors).
        include: only these ``_source`` fields (default: all).
        page: hits per page.
        keep_alive: how long the point in time lives between two pages.
    """
    pit_id = es.open_point_in_time(index=index, keep_alive=keep_alive)["id"]
    source: dict[str, Any] = {"excludes": list(exclude)}
    if include is not None:
        source["includes"] = list(include)
    search_after: list[Any] | None = None
    try:
        while True:
            response = es.search(
                pit={"id": pit_id, "keep_alive": keep_alive},
                query=dict(query or {"match_all": {}}),
                sort=[{"_shard_doc": "asc"}],
                size=page,
                source=source,
                search_after=search_after,
                track_total_hits=False,
            )
            pit_id = response.get("pit_id", pit_id)
            hits: list[dict[str, Any]] = response["hits"]["hits"]
            if not hits:
                return
            yield hits
            search_after = hits[-1]["sort"]
    finally:
        with contextlib.suppress(NotFoundError):
            es.close_point_in_time(id=pit_id)
