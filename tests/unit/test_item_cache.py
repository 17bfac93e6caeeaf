"""The write path's item cache: sources reused only while the item's stamp is unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.item_cache import STAMP_FIELDS, ItemCache
from plugin.errors import ServiceUnavailable


class RecordingItems:
    """Answers ``mget`` like Elasticsearch for a dict of items, and records what was asked."""

    def __init__(self, items: dict[str, dict[str, Any]], index: str = "items-v1"):
        self.items = {k: {"indexed_at": "t0", **v} for k, v in items.items()}
        self.index = index
        self.source_reads: list[list[str]] = []
        self.unreadable: set[str] = set()

    def reindex(self, item_id: str, **fields: Any) -> None:
        """An upsert: new content and a new ``indexed_at``."""
        self.items[item_id] = {**self.items[item_id], **fields, "indexed_at": f"t{fields}"}

    def bump_popularity(self, item_id: str) -> None:
        """The popularity flush: a partial update of the counter only."""
        item = self.items[item_id]
        item["popularity"] = item.get("popularity", 0) + 1

    def mget(self, *, index: str, ids: list[str], source_includes: list[str]) -> Any:
        if source_includes != list(STAMP_FIELDS):
            self.source_reads.append(list(ids))
        docs = []
        for item_id in ids:
            if item_id in self.unreadable:
                docs.append({"_id": item_id, "error": {"type": "no_shard_available"}})
            elif item_id not in self.items:
                docs.append({"_index": self.index, "_id": item_id, "found": False})
            else:
                source = self.items[item_id]
                docs.append(
                    {
                        "_index": self.index,
                        "_id": item_id,
                        "found": True,
                        "_source": {k: v for k, v in source.items() if k in source_includes},
                    }
                )
        return {"docs": docs}


def test_sources_are_read_once_and_reused_while_the_version_stands() -> None:
    es = RecordingItems({"a": {"title": "A", "secret": 1}, "b": {"title": "B"}})
    cache = ItemCache(["title"])
    first = cache.fetch(es, "items", ["a", "b", "missing"])
    assert set(first) == {"a", "b"} and first["a"]["title"] == "A" and "secret" not in first["a"]
    assert cache.fetch(es, "items", ["b", "a"]) == first
    assert es.source_reads == [["a", "b"]]
    assert (cache.hits, cache.misses) == (2, 2)


def test_an_updated_item_is_read_again() -> None:
    es = RecordingItems({"a": {"title": "A"}, "b": {"title": "B"}})
    cache = ItemCache(["title"])
    cache.fetch(es, "items", ["a", "b"])
    es.reindex("a", title="A2")
    assert cache.fetch(es, "items", ["a", "b"])["a"]["title"] == "A2"
    assert es.source_reads[-1] == ["a"]


def test_a_popularity_flush_does_not_evict_the_item() -> None:
    es = RecordingItems({"a": {"title": "A"}})
    cache = ItemCache(["title"])
    cache.fetch(es, "items", ["a"])
    es.bump_popularity("a")
    cache.fetch(es, "items", ["a"])
    assert es.source_reads == [["a"]]


def test_new_collaborative_factors_are_read_again() -> None:
    es = RecordingItems({"a": {"title": "A", "collab": [1.0], "collab_version": "1"}})
    cache = ItemCache(["title", "collab"])
    cache.fetch(es, "items", ["a"])
    es.items["a"] |= {"collab": [2.0], "collab_version": "2"}  # a refit's partial update
    assert cache.fetch(es, "items", ["a"])["a"]["collab"] == [2.0]


def test_a_rebuilt_index_is_read_again_even_at_the_same_seq_no() -> None:
    es = RecordingItems({"a": {"title": "A"}})
    cache = ItemCache(["title"])
    cache.fetch(es, "items", ["a"])
    es.index = "items-v2"
    es.items["a"]["title"] = "A re-encoded"  # same stamp fields, another index
    assert cache.fetch(es, "items", ["a"])["a"]["title"] == "A re-encoded"


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
