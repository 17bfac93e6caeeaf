"""Items as the write path reads them, kept per process and checked against their version.

A click needs its item's vector, category, keywords and factors. Reading them costs
Elasticsearch far more than the click itself (a 384-float vector parsed out of ``_source`` per
item per batch), yet items change rarely. So a batch first asks only for each item's *stamp*
(a few short fields), and fetches the source of the items it has not seen with that stamp.

The stamp is not ``_seq_no``: the popularity flush updates clicked items every few seconds,
which would make the most clicked items the ones never cached. It is what changes when the
cached fields can change: the concrete index (a rebuild), ``indexed_at`` and ``content_hash``
(every upsert of the item, new text, category or vector), and ``collab_version`` (new
factors). A changed item is read again at once: nothing stale is used.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from plugin.errors import ServiceUnavailable

# Enough for the items one worker's users touch in a while; each entry is one item's fields
# (about 10 kB with a 384-float vector).
DEFAULT_CAPACITY = 20_000

# Written by every upsert of an item (indexer/documents.py) and every factor refit.
STAMP_FIELDS = ("indexed_at", "content_hash", "collab_version")

Version = tuple[str, tuple[Any, ...]]  # concrete index, the stamp fields' values


class ItemCache:
    """Version-checked item sources, least recently used evicted past ``capacity``."""

    def __init__(self, fields: Sequence[str], *, capacity: int = DEFAULT_CAPACITY):
        self.fields = list(dict.fromkeys([*fields, *STAMP_FIELDS]))
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[Version, dict[str, Any]]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def fetch(self, es: Elasticsearch, index: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The sources of the items of ``ids`` that exist (unknown ids are left out).

        Raises:
            ServiceUnavailable: a document could not be read now (its shard recovering).
        """
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        current: dict[str, Version] = {}
        for doc in _docs(es.mget(index=index, ids=wanted, source_includes=list(STAMP_FIELDS))):
            current[doc["_id"]] = _version(doc)
        found: dict[str, dict[str, Any]] = {}
        stale = []
        for item_id, version in current.items():
            entry = self._entries.get(item_id)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(item_id)
                found[item_id] = entry[1]
                self.hits += 1
            else:
                stale.append(item_id)
        if stale:
            self.misses += len(stale)
            docs = _docs(es.mget(index=index, ids=stale, source_includes=self.fields))
            for doc in docs:
                source = doc.get("_source") or {}
                found[doc["_id"]] = source
                self._remember(doc["_id"], _version(doc), source)
        return found

    def _remember(self, item_id: str, version: Version, source: dict[str, Any]) -> None:
        self._entries[item_id] = (version, source)
        self._entries.move_to_end(item_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _docs(response: Any) -> list[dict[str, Any]]:
    """The found documents of an ``mget`` answer; one that could not be read is not an
    unknown item: the batch is retried rather than its events refused."""
    docs = response["docs"]
    unreadable = [doc for doc in docs if doc.get("error")]
    if unreadable:
        error = unreadable[0]["error"]
        reason = error.get("type", error) if isinstance(error, dict) else error
        raise ServiceUnavailable(
            f"Elasticsearch could not read {len(unreadable)} items now ({reason}); will retry"
        )
    return [doc for doc in docs if doc.get("found")]


def _version(doc: dict[str, Any]) -> Version:
    source = doc.get("_source") or {}
    return (str(doc["_index"]), tuple(source.get(name) for name in STAMP_FIELDS))
