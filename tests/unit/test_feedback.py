"""The impression/click log: documents that fit the strict mapping; failures never raise."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ConnectionError as EsConnectionError

import mappings
from plugin.feedback import FeedbackLog, build_click_doc, build_impression_docs, component_names
from plugin.types import WEIGHT_NAMES

NOW = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
PAYLOAD = {
    "hits": [
        {"id": "a", "score": 0.6, "components": {"bm25": 0.35, "interest": 0.25}},
        {"id": 7, "score": 0.2, "components": {"bm25": 0.2, "made_up": 1.0, "query": math.nan}},
    ],
    "cold_start": False,
    "mode": "exact",
    "scorer": "native",
}


def test_feedback_mapping_is_strict_and_knows_every_component():
    body = mappings.load_feedback()
    assert body["mappings"]["dynamic"] == "strict"
    components = body["mappings"]["properties"]["components"]
    assert components["dynamic"] == "strict"
    assert {spec["type"] for spec in components["properties"].values()} == {"float"}
    assert set(component_names()) == set(WEIGHT_NAMES)
    assert "feedback" not in mappings.INDEX_NAMES  # `interest init` does not create it


def test_build_impression_docs_ranks_hits_and_keeps_mapped_components_only():
    docs = build_impression_docs(
        PAYLOAD,
        request_id="r1",
        endpoint="search",
        user="u_abc",
        query="guide",
        weights_version=3,
        now=NOW,
    )
    assert [(d["item"], d["rank"]) for d in docs] == [("a", 1), ("7", 2)]
    assert docs[0] == {
        "kind": "impression",
        "request_id": "r1",
        "endpoint": "search",
        "user": "u_abc",
        "query": "guide",
        "mode": "exact",
        "scorer": "native",
        "cold_start": False,
        "weights_version": 3,
        "timestamp": "2025-01-02T03:04:05.678Z",
        "item": "a",
        "rank": 1,
        "score": 0.6,
        "components": {"bm25": 0.35, "interest": 0.25},
    }
    assert docs[1]["components"] == {"bm25": 0.2}  # unknown and non-finite values dropped


def test_build_impression_docs_omits_missing_fields():
    docs = build_impression_docs(
        PAYLOAD, request_id="r2", endpoint="recommend", user=None, query=None, now=NOW
    )
    assert "user" not in docs[0] and "query" not in docs[0] and "weights_version" not in docs[0]


def test_build_click_doc():
    doc = build_click_doc(user="u_abc", item="a", request_id="r1", rank=2, now=NOW)
    assert doc == {
        "kind": "click",
        "request_id": "r1",
        "user": "u_abc",
        "item": "a",
        "rank": 2,
        "timestamp": "2025-01-02T03:04:05.678Z",
    }


class FakeIndices:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def get_alias(self, name: str) -> Any:
        from elasticsearch import NotFoundError

        if self.created:
            return type("R", (), {"body": {f"{name}-v1": {"aliases": {name: {}}}}})()
        raise NotFoundError("missing", meta=_meta(404), body={})

    def create(self, **kwargs: Any) -> None:
        self.created.append(kwargs)


def _meta(status: int) -> Any:
    from elastic_transport import ApiResponseMeta, HttpHeaders

    return ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=None
    )


class FakeEs:
    def __init__(self, *, down: bool = False) -> None:
        self.indices = FakeIndices()
        self.bulks: list[list[dict[str, Any]]] = []
        self.down = down

    def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        if self.down:
            raise EsConnectionError("connection refused")
        self.bulks.append(operations)
        return {"errors": False, "items": [{"index": {"status": 201}}] * (len(operations) // 2)}


def test_feedback_log_creates_its_index_once_and_writes_with_stable_ids():
    es = FakeEs()
    log = FeedbackLog(es, index="t-feedback")  # type: ignore[arg-type]
    assert log.log_impression(PAYLOAD, request_id="r1", endpoint="search", user="u", query="q") == 2
    assert log.log_click(user="u", item="a", request_id="r1") is True
    [created] = es.indices.created
    assert created["index"] == "t-feedback-v1"
    assert created["aliases"] == {"t-feedback": {"is_write_index": True}}
    assert created["mappings"]["dynamic"] == "strict"
    actions = es.bulks[0][0::2]
    assert [a["index"]["_id"] for a in actions] == ["r1-1", "r1-2"]
    assert es.bulks[1][1]["kind"] == "click"


def test_feedback_log_swallows_a_down_cluster():
    log = FeedbackLog(FakeEs(down=True), index="t-feedback")  # type: ignore[arg-type]
    assert log.log_impression(PAYLOAD, request_id="r", endpoint="search", user=None, query="q") == 0
    assert log.log_click(user="u", item="a") is False
