"""Rebuilding the items index with no downtime: every item re-encoded through the real
workers into `<alias>-v<N+1>`, `_meta` weights and history copied, one atomic alias swap,
while a thread queries the alias the whole time."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from indexer import calibration_store
from plugin.encoder import KNOWN_MODELS
from plugin.es import read_meta, resolve_alias
from plugin.rebuild import rebuild_items
from plugin.service import PersonalizedSearch
from plugin.settings import Settings

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
TOPICS = [
    ("marathon", "Marathon runners break the course record in the rain"),
    ("football", "Late football goal wins the cup final for the home side"),
    ("sourdough", "Sourdough bread: starter, flour, water, salt and patience"),
    ("gpu", "A new GPU doubles deep learning training speed"),
    ("tennis", "Five-set tennis thriller on the centre court"),
]
QUERIES = ["marathon runners", "football cup", "sourdough bread", "GPU training", "tennis"]


def make_items(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{i}",
            "title": f"{TOPICS[i % len(TOPICS)][1]} ({i})",
            "body": f"Story {i} about {TOPICS[i % len(TOPICS)][0]}.",
            "category": TOPICS[i % len(TOPICS)][0],
        }
        for i in range(count)
    ]


class QueryLoop:
    """Searches and cold-start recommendations against the alias until stopped; records
    every error and every empty answer."""

    def __init__(self, service: PersonalizedSearch):
        self.service = service
        self.done = threading.Event()
        self.queries = 0
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            query = QUERIES[self.queries % len(QUERIES)]
            try:
                if self.queries % 3 == 2:
                    result = self.service.recommend(f"nobody-{RUN}", size=5)
                else:
                    result = self.service.search(query, size=5)
                if not result.hits:
                    self.failures.append(f"empty result for {query!r}")
            except Exception as exc:  # the point of the test: there must be none
                self.failures.append(f"{type(exc).__name__}: {exc}")
            self.queries += 1

    def __enter__(self) -> QueryLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=30)


@pytest.fixture
def rebuild_settings(settings: Settings) -> Settings:
    return settings.with_overrides(index_prefix=f"itest-rebuild-{RUN}-{uuid.uuid4().hex[:4]}")


@pytest.fixture
def rebuild_service(rebuild_settings: Settings, es, encoder) -> Iterator[PersonalizedSearch]:
    service = PersonalizedSearch(es, settings=rebuild_settings, encoder=encoder)
    service.init_indices()
    yield service
    es.options(ignore_status=404).indices.delete(index=f"{rebuild_settings.index_prefix}-*")


def seed(service: PersonalizedSearch, tasks, count: int) -> list[dict[str, Any]]:
    alias = service.items_alias
    service.set_weights({"bm25": 0.5, "interest": 0.3}, note="first tuning")
    service.set_weights({"freshness": 0.2}, note="fresher")
    items = make_items(alias, count)
    result = tasks.index_items(items, batch_size=16, progress=False, index=alias)
    assert result["indexed"] == count and result["errors"] == [], result
    return items


def test_cli_rebuild_swaps_with_queries_running_and_keeps_weights(
    rebuild_service, rebuild_settings, tasks, es, monkeypatch, capsys
):
    from plugin.app.cli import main

    items = seed(rebuild_service, tasks, 40)
    alias = rebuild_service.items_alias
    meta_before = read_meta(es, alias)
    monkeypatch.setenv("INTEREST_INDEX_PREFIX", rebuild_settings.index_prefix)
    with QueryLoop(rebuild_service) as loop:
        time.sleep(0.5)
        code = main(["rebuild", "--json", "--batch-size", "8"])
        time.sleep(0.5)
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert loop.failures == [], loop.failures[:5]
    assert loop.queries >= 10, f"only {loop.queries} queries ran during the rebuild"
    assert (report["old"], report["new"]) == (f"{alias}-v1", f"{alias}-v2")
    assert report["swapped"] is True and report["dropped"] is False
    assert report["scanned"] == report["indexed"] == 40 and report["errors"] == []
    assert resolve_alias(es, alias) == f"{alias}-v2"
    assert es.indices.exists(index=f"{alias}-v1"), "the old index is kept by default"
    meta_after = read_meta(es, alias)
    assert meta_after["blend"] == meta_before["blend"]
    assert meta_after["blend_history"] == meta_before["blend_history"]
    assert meta_after["rebuilt_from"] == f"{alias}-v1"
    assert meta_after["model"]["name"] == rebuild_settings.model
    assert [v["note"] for v in rebuild_service.weights_history()][:2] == ["fresher", "first tuning"]
    es.indices.refresh(index=alias)
    dims = KNOWN_MODELS[rebuild_settings.model].dims
    ids = [item["id"] for item in items]
    new_docs = es.mget(index=f"{alias}-v2", ids=ids)["docs"]
    assert all(doc["found"] and len(doc["_source"]["embedding"]) == dims for doc in new_docs)
    assert es.count(index=alias)["count"] == 40


def test_rebuild_catches_up_with_writes_during_it_and_can_drop_the_old_index(
    rebuild_service, rebuild_settings, tasks, es
):
    items = seed(rebuild_service, tasks, 30)
    alias = rebuild_service.items_alias
    for item in items:
        es.update(index=alias, id=item["id"], doc={"popularity": 5})
    es.indices.refresh(index=alias)
    late = make_items(f"{alias}-late", 1)[0]
    calls: list[int] = []
    clicked: list[str] = []

    def index_batch(rows: list[dict[str, Any]], index: str) -> dict[str, Any]:
        if not calls:  # the rebuild is under way: a click and a new item reach the old index
            clicked.append(rows[0]["id"])  # an item already read
            current = es.get(index=alias, id=clicked[0])
            es.update(
                index=alias,
                id=clicked[0],
                doc={"popularity": current["_source"]["popularity"] + 2},
                if_seq_no=current["_seq_no"],
                if_primary_term=current["_primary_term"],
            )
            assert tasks.index_items([late], batch_size=1, progress=False, index=alias)["indexed"]
        calls.append(len(rows))
        result: dict[str, Any] = tasks.index_items(rows, batch_size=8, progress=False, index=index)
        return result

    with QueryLoop(rebuild_service) as loop:
        report = rebuild_items(
            es,
            alias=alias,
            model=rebuild_service.model_identity(),
            index_batch=index_batch,
            drop_old=True,
            page=10,
        )
    assert loop.failures == [], loop.failures[:5]
    assert report["swapped"] and report["dropped"] and report["scanned"] == 30
    assert report["caught_up"] >= 1 and report["popularity_synced"] == 1
    assert len(calls) >= 3, "the old index was read in several pages"
    assert not es.indices.exists(index=f"{alias}-v1")
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == 31
    assert es.get(index=alias, id=late["id"])["_source"]["title"] == late["title"]
    assert es.get(index=alias, id=clicked[0])["_source"]["popularity"] == 7
    others = es.mget(index=alias, ids=[i["id"] for i in items if i["id"] != clicked[0]])
    assert {doc["_source"]["popularity"] for doc in others["docs"]} == {5}


def test_rebuild_from_e5_into_the_default_model_swaps_while_queries_answer(
    rebuild_settings, tasks, es, encoder
):
    from plugin.encoder import E5_SMALL, load_encoder

    assert rebuild_settings.model != E5_SMALL, "the default model is the rebuild's target"
    old_settings = rebuild_settings.with_overrides(model=E5_SMALL)
    old = PersonalizedSearch(es, settings=old_settings, encoder=load_encoder(old_settings))
    old.init_indices()
    try:
        alias = old.items_alias
        items = make_items(alias, 30)
        indexed = tasks.index_items(
            items, batch_size=10, progress=False, index=alias, model=E5_SMALL
        )
        assert indexed["indexed"] == 30 and indexed["errors"] == [], indexed
        assert read_meta(es, alias)["model"]["name"] == E5_SMALL
        assert calibration_store.refit(es, items_index=alias).model == E5_SMALL
        target = KNOWN_MODELS[rebuild_settings.model]
        calibrated_before_swap: list[str] = []

        def calibrate(index: str) -> None:
            assert "calibration" not in read_meta(es, index)  # e5's centre was left behind
            calibrated_before_swap.append(calibration_store.refit(es, items_index=index).model)

        with QueryLoop(old) as loop:
            report = rebuild_items(
                es,
                alias=alias,
                model=target.identity(),
                index_batch=lambda rows, index: tasks.index_items(
                    rows, batch_size=10, progress=False, index=index, model=target.name
                ),
                before_swap=calibrate,
            )
        # After the swap the e5 service is refused, as designed: by the model's name once it
        # re-reads `_meta`, by the scorer (384 values for 512 dims) until then. Nothing else.
        refusals = ("holds vectors of model", "has 384 values but field [embedding] has 512")
        unexpected = [f for f in loop.failures if not any(r in f for r in refusals)]
        assert unexpected == [], unexpected[:5]
        assert loop.queries >= 5, f"only {loop.queries} queries ran during the rebuild"
        assert report["swapped"] is True and report["indexed"] == 30, report
        assert resolve_alias(es, alias) == f"{alias}-v2"
        assert read_meta(es, alias)["model"]["name"] == target.name
        assert calibrated_before_swap == [target.name]
        assert read_meta(es, alias)["calibration"]["model"] == target.name
        docs = es.mget(index=alias, ids=[item["id"] for item in items])["docs"]
        assert {len(doc["_source"]["embedding"]) for doc in docs} == {target.dims}
        new = PersonalizedSearch(es, settings=rebuild_settings, encoder=encoder)
        hits = new.search("marathon runners", size=5).hits
        assert hits and "Marathon" in hits[0].source["title"], [h.source for h in hits]
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{rebuild_settings.index_prefix}-*")
