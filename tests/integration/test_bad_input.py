"""Bad input on the real stack: hostile queries, bad scorer params, unknown users and items,
malformed JSON (API and files), a mismatched model, absurd timestamps. Each gets a clear error
(never a 500) and the valid rest of its batch goes through."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import BadRequestError
from fastapi.testclient import TestClient

from plugin.encoder import KNOWN_MODELS
from plugin.errors import InputError, MappingError
from plugin.settings import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
PREFIX = f"bad-{RUN}"
ADMIN = "bad-input-admin-token"
SPECIALS = '+-=&&||><!(){}[]^"~*?:\\/'
# Old items: they share the session's items index and must not crowd other tests' fresh
# cold-start rankings.
OLD = "2021-03-01T00:00:00Z"
ITEMS = [
    {"id": f"{PREFIX}-run", "title": "Trail running in the mountains: a:b AND (c OR d)",
     "body": "Hill repeats and long runs for marathon runners.", "category": f"cat-{RUN}",
     "created_at": OLD},
    {"id": f"{PREFIX}-bake", "title": "Sourdough bread baking at home",
     "body": "Flour, water, salt and a lively starter.", "category": f"cat-{RUN}",
     "created_at": OLD},
]  # fmt: skip


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def indexed(tasks, service) -> list[dict[str, Any]]:
    result = tasks.index_items(ITEMS, batch_size=8, progress=False)
    assert result["indexed"] == len(ITEMS), result
    return ITEMS


@pytest.fixture(scope="module")
def api(settings: Settings, service, tasks, indexed) -> Iterator[TestClient]:
    from plugin.app.api import create_app

    app = create_app(settings.with_overrides(admin_token=ADMIN), service=service, tasks=tasks)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# --- queries: Lucene syntax is text, never a parse error ---------------------------------------
HOSTILE_QUERIES = [
    '"a:b AND (c OR',
    "\\",
    "*?",
    "((((",
    '"unbalanced quote',
    "OR AND NOT",
    "title:running~2^3",
    "/regex[/",
    "🔥🔥🔥",
    SPECIALS,
    (SPECIALS * 50)[:1000],
    ("marathon " * 200)[:1000],
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=range(len(HOSTILE_QUERIES)))
def test_hostile_query_is_searched_as_text_never_an_error(query, service, api, indexed):
    result = service.search(query, size=5)
    assert isinstance(result.hits, tuple)
    response = api.get("/api/search", params={"q": query, "size": 5})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["hits"], list)


def test_a_query_in_lucene_syntax_still_finds_the_words(service, indexed):
    hits = service.search('"a:b AND (c OR', size=5).hits
    assert ITEMS[0]["id"] in [hit.id for hit in hits]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query is empty"),
        ("   \u3000\t", "query is empty"),
        ("x" * 1001, "query is longer than 1000 characters"),
    ],
    ids=["empty", "whitespace", "1001-chars"],
)
def test_empty_or_huge_query_gets_a_clear_error(query, message, service, api):
    with pytest.raises(InputError, match=message):
        service.search(query)
    response = api.get("/api/search", params={"q": query})
    assert response.status_code == 400
    assert response.json() == {"error": message}


DIMS = KNOWN_MODELS[DEFAULT_MODEL].dims


# --- the native scorer refuses bad params with a 400 that says why ----------------------------
SCORER_CASES = [
    ({"weights": {"query": 1.0}, "query_vector": [0.1, 0.2, 0.3]},
     f"query_vector has 3 values but field [embedding] has {DIMS} dims"),
    # orjson (the client's serializer) writes NaN as null: the scorer names the bad value.
    ({"weights": {"query": 1.0}, "query_vector": [float("nan")] * DIMS},
     "query_vector[0] must be a finite number but was [null]"),
    ({"weights": {"bm25": -1}}, "weights.bm25 must be >= 0"),
    ({"weights": {"relevance": 1}}, "unknown weight [relevance]"),
    ({"weights": {"query": 1.0}, "bm25k": 3}, "unknown param [bm25k]"),
]  # fmt: skip


@pytest.mark.parametrize(("params", "message"), SCORER_CASES)
def test_scorer_refuses_bad_params_with_a_400(params, message, es, settings, indexed):
    body = {"source": "blend", "lang": "interest", "params": params}
    with pytest.raises(BadRequestError) as info:
        es.search(
            index=settings.index_alias("items"),
            query={"script_score": {"query": {"match_all": {}}, "script": body}},
        )
    assert info.value.meta.status == 400
    assert message in str(info.value)


def test_interest_vectors_of_another_model_size_do_not_break_search(settings, es, encoder, tasks):
    """After a rebuild of the items into a 384-dim model, interests written by a 768-dim one
    are left out: the user is still searched, with the categories that fit."""
    from mappings import load
    from plugin.es import ensure_indices, resolve_alias
    from plugin.service import PersonalizedSearch

    prefix = f"itest-dims-{RUN}"
    local = settings.with_overrides(index_prefix=prefix)
    service = PersonalizedSearch(es, settings=local, encoder=encoder)
    try:
        ensure_indices(es, local, model=service.model_identity())
        interests = local.index_alias("user_interests")
        es.indices.delete(index=resolve_alias(es, interests))
        old = load("user_interests", dims=768)
        es.indices.create(
            index=f"{interests}-v1", settings=old["settings"], mappings=old["mappings"],
            aliases={interests: {"is_write_index": True}},
        )  # fmt: skip
        indexed = tasks.index_items(ITEMS, batch_size=8, progress=False, index=service.items_alias)
        assert indexed["indexed"] == len(ITEMS)
        user = f"{PREFIX}-old-model-user"
        es.index(
            index=interests,
            id=service.pseudonym(user),
            document={"user": service.pseudonym(user), "long_term": [0.1] * 768,
                      "short_term": [0.1] * 768, "categories": {ITEMS[0]["category"]: 0.9}},
            refresh=True,
        )  # fmt: skip
        result = service.search("sourdough", user=user, size=5)
        assert result.hits and result.cold_start is False
        assert ITEMS[1]["id"] in [hit.id for hit in result.hits]
        assert service.recommend(user, size=5).hits
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")


# --- unknown users and items ------------------------------------------------------------------
def test_unknown_user_gets_plain_ranking_and_clear_404s(service, api, indexed):
    user = f"{PREFIX}-nobody"
    assert service.search("sourdough", user=user).cold_start is True
    assert service.recommend(user).cold_start is True
    response = api.get(f"/api/users/{user}/interests")
    assert response.status_code == 404
    assert response.json() == {"error": f"no interests recorded for user {user!r}"}
    forgotten = api.delete(f"/api/admin/users/{user}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert forgotten.status_code == 200
    assert forgotten.json()["removed"] == {"interests": 0, "events": 0, "feedback": 0}


def test_events_with_unknown_items_or_absurd_times_fail_alone(tasks, service, indexed):
    user = f"{PREFIX}-events-user"
    hour_ago = iso(datetime.now(UTC) - timedelta(hours=1))
    batch = [
        {"user": user, "type": "click", "item": ITEMS[0]["id"], "time": hour_ago},
        {"user": user, "type": "click", "item": f"{PREFIX}-missing"},
        {"user": user, "type": "like", "item": ITEMS[1]["id"], "time": "2999-01-01T00:00:00Z"},
        {"user": user, "type": "post", "text": "old news", "time": "1970-01-01T00:00:01Z"},
        {"user": user, "type": "post", "text": "Baking bread tonight", "time": hour_ago},
    ]  # fmt: skip
    result = tasks.record_events(batch)
    assert result["applied"] == 2, result
    messages = sorted(error["error"] for error in result["errors"])
    assert len(messages) == 3
    assert any(f"unknown item id '{PREFIX}-missing'" in m for m in messages)
    assert any("more than a day in the future" in m for m in messages)
    assert any("is before 1990-01-01" in m for m in messages)
    assert service.interest_document(user)["events"] == 2


def test_items_with_huge_text_or_absurd_dates_fail_alone(tasks, es, settings):
    good = {"id": f"{PREFIX}-good", "title": "A fine item", "body": "Short.", "created_at": OLD}
    batch = [
        {"id": f"{PREFIX}-huge", "title": "Huge", "body": "x" * 1_000_000},
        {"id": f"{PREFIX}-future", "title": "Future", "created_at": "2999-01-01"},
        {"id": f"{PREFIX}-ancient", "title": "Ancient", "created_at": "1066-10-14"},
        good,
    ]
    result = tasks.index_items(batch, batch_size=8, progress=False)
    assert result["indexed"] == 1
    errors = {error["id"]: error["error"] for error in result["errors"]}
    assert "body has 1,000,000 characters" in errors[f"{PREFIX}-huge"]
    assert "more than a day in the future" in errors[f"{PREFIX}-future"]
    assert "before 1990-01-01" in errors[f"{PREFIX}-ancient"]
    assert es.exists(index=settings.index_alias("items"), id=good["id"])


# --- malformed JSON: the API and files ---------------------------------------------------------
MALFORMED_BODIES = [
    (b'{"user": "a", "type":', "invalid request: malformed JSON at character 21: Expecting value"),
    (b"\xff\xfe not utf-8 at all", "invalid request: the body is not UTF-8 JSON"),
    (b'[{"user": "a", "type": "post", "text": "x"}, 42]', "invalid request"),
    (b'{"user": "a", "type": "post", "text": "x", "extra": 1}', "extra"),
]


@pytest.mark.parametrize(("raw", "message"), MALFORMED_BODIES)
def test_malformed_json_to_the_api_is_refused_saying_so(raw, message, api):
    response = api.post("/api/events", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)  # 400: not even text; 422: not the right JSON
    assert message in response.json()["error"]


def test_invalid_weights_through_the_api_change_nothing(api, service):
    before = service.weights()
    for weights in ({"bm25": "NaN"}, {"bm25": -1}, {"typo": 1}):
        response = api.put(
            "/api/admin/weights",
            json={"weights": weights},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert response.status_code == 400, response.text
        assert "bm25" in response.json()["error"] or "unknown weight" in response.json()["error"]
    assert service.weights() == before


def test_jsonl_file_with_bad_lines_indexes_the_good_ones(tmp_path: Path, es, settings, capsys):
    from plugin.app.cli import main

    path = tmp_path / "items.jsonl"
    good = [
        {"id": f"{PREFIX}-file-{i}", "title": f"File item {i}", "body": "ok", "created_at": OLD}
        for i in range(3)
    ]
    path.write_bytes(
        (json.dumps(good[0]) + "\n").encode()
        + b'{"id": "broken", \n'
        + (json.dumps(good[1]) + "\n").encode()
        + b'{"id": "'
        + PREFIX.encode()
        + b'-bytes", "title": "caf\xc3 \xff", "created_at": "'
        + OLD.encode()
        + b'"}\n'
        + b'"a string"\n'
        + (json.dumps(good[2]) + "\n").encode()
    )
    code = main(["index", str(path), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 1  # some rows were bad
    assert payload["indexed"] == 4
    quotes = "malformed JSON: Expecting property name enclosed in double quotes"
    assert payload["errors"] == [
        {"id": "line 2", "error": quotes},
        {"id": "line 5", "error": "expected a JSON object"},
    ]
    for row in good:
        assert es.exists(index=settings.index_alias("items"), id=row["id"])


# --- a model whose dimension differs from the index -------------------------------------------
def test_another_model_is_refused_naming_both(es, settings, service):
    from plugin.es import ensure_indices
    from plugin.service import PersonalizedSearch

    with pytest.raises(MappingError) as info:
        ensure_indices(es, settings, model={"name": "bge-base-en", "dims": 768})
    assert "'bge-base-en' (768 dims)" in str(info.value)
    other = PersonalizedSearch(es, settings=settings.with_overrides(model="all-MiniLM-L6-v2"))
    with pytest.raises(MappingError, match="'all-MiniLM-L6-v2' \\(384 dims\\)"):
        other.search("bread")
