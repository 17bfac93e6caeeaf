"""The write path's item cache: sources reused only at the version Elasticsearch reports."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.item_cache import ItemCache
from plugin.errors import ServiceUnavailable


class RecordingItems:
    """Answers ``mget`` like Elasticsearch for a dict of items, and records what was asked."""

    def __init__(self, items: dict[str, dict[str, Any]], index: str = "items-v1"):
        self.items = items
        self.index = index
        self.seq_no = dict.fromkeys(items, 0)
        self.source_reads: list[list[str]] = []
        self.unreadable: set[str] = set()

    def update(self, item_id: str, **fields: Any) -> None:
        self.items[item_id] = {**self.items.get(item_id, {}), **fields}
        self.seq_no[item_id] = max(self.seq_no.values(), default=0) + 1

    def mget(self, *, index: str, ids: list[str], source: bool = True, **kwargs: Any) -> Any:
        if source is not False:
            self.source_reads.append(list(ids))
        docs = []
        for item_id in ids:
            if item_id in self.unreadable:
                docs.append({"_id": item_id, "error": {"type": "no_shard_available"}})
            elif item_id not in self.items:
                docs.append({"_index": self.index, "_id": item_id, "found": False})
            else:
                doc = {
                    "_index": self.index,
                    "_id": item_id,
                    "_seq_no": self.seq_no[item_id],
                    "_primary_term": 1,
                    "found": True,
                }
                if source is not False:
                    fields = kwargs["source_includes"]
                    doc["_source"] = {k: v for k, v in self.items[item_id].items() if k in fields}
                docs.append(doc)
        return {"docs": docs}


def test_sources_are_read_once_and_reused_while_the_version_stands() -> None:
    es = RecordingItems({"a": {"title": "A", "secret": 1}, "b": {"title": "B"}})
    cache = ItemCache(["title"])
    assert cache.fetch(es, "items", ["a", "b", "missing"]) == {
        "a": {"title": "A"},
        "b": {"title": "B"},
    }
    assert cache.fetch(es, "items", ["b", "a"]) == {"a": {"title": "A"}, "b": {"title": "B"}}
    assert es.source_reads == [["a", "b"]]
    assert (cache.hits, cache.misses) == (2, 2)


def test_an_updated_item_is_read_again() -> None:
    es = RecordingItems({"a": {"title": "A"}, "b": {"title": "B"}})
    cache = ItemCache(["title"])
    cache.fetch(es, "items", ["a", "b"])
    es.update("a", title="A2")
    assert cache.fetch(es, "items", ["a", "b"])["a"] == {"title": "A2"}
    assert es.source_reads[-1] == ["a"]


def test_a_rebuilt_index_is_read_again_even_at_the_same_seq_no() -> None:
    es = RecordingItems({"a": {"title": "A"}})
    cache = ItemCache(["title"])
    cache.fetch(es, "items", ["a"])
    es.index = "items-v2"
    es.items["a"] = {"title": "A re-encoded"}
    assert cache.fetch(es, "items", ["a"]) == {"a": {"title": "A re-encoded"}}


def test_least_recently_used_items_leave_past_the_capacity() -> None:
    es = RecordingItems({k: {"title": k} for k in "abc"})
    cache = ItemCache(["title"], capacity=2)
    cache.fetch(es, "items", ["a"])
    cache.fetch(es, "items", ["b"])
    cache.fetch(es, "items", ["a"])  # a is now the most recent
    cache.fetch(es, "items", ["c"])  # evicts b
    assert len(cache) == 2
    cache.fetch(es, "items", ["a", "b"])
    assert es.source_reads[-1] == ["b"]


def test_an_unreadable_item_is_unavailable_not_unknown() -> None:
    es = RecordingItems({"a": {"title": "A"}})
    es.unreadable.add("a")
    with pytest.raises(ServiceUnavailable, match="could not read 1 items"):
        ItemCache(["title"]).fetch(es, "items", ["a"])
