"""The HTTP API on the real stack: items and events through the worker, personalised search,
impressions and clicks in the feedback index, admin weights, forgetting a user."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plugin.app.api import create_app
from tests.integration.sample_data import BAKER_EVENTS, QUERY, RUNNER_EVENTS, make_items

pytestmark = pytest.mark.integration

TOKEN = "itest-admin-token"
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def api(settings, service, tasks) -> Iterator[TestClient]:
    app = create_app(settings.with_overrides(admin_token=TOKEN), service=service, tasks=tasks)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def items(api) -> dict[str, dict[str, Any]]:
    items = make_items(f"api-{RUN}")
    response = api.post("/api/items", json=list(items.values()))
    assert response.status_code == 200, response.text
    assert response.json()["indexed"] == 3 and response.json()["errors"] == []
    return items


def post_events(api: TestClient, user: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/api/events", json=[{"user": user, **e} for e in events])
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["applied"] == len(events) and result["errors"] == []
    return result


@pytest.fixture(scope="module")
def runner(api, items) -> str:
    user = f"api-runner-{RUN}"
    post_events(api, user, RUNNER_EVENTS)
    return user


def assert_components_add_up(hits: list[dict[str, Any]]) -> None:
    for hit in hits:
        total = math.fsum(hit["components"].values())
        assert math.isclose(total, hit["score"], rel_tol=1e-6, abs_tol=1e-12), hit


def feedback_docs(es, settings, **terms: str) -> list[dict[str, Any]]:
    index = settings.index_alias("feedback")
    es.indices.refresh(index=index)
    filters = [{"term": {field: value}} for field, value in terms.items()]
    found = es.search(index=index, query={"bool": {"filter": filters}}, size=100)
    return [hit["_source"] for hit in found["hits"]["hits"]]


def test_health_reports_elasticsearch_and_redis(api):
    response = api.get("/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["elasticsearch"]["status"] in ("green", "yellow")
    assert body["elasticsearch"]["version"].startswith("8.")
    assert body["redis"] == {"ok": True}


def test_search_is_personalised_with_reasons_and_components(api, items, runner):
    response = api.get("/api/search", params={"q": QUERY, "user": runner, "size": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cold_start"] is False
    hits = [hit for hit in body["hits"] if hit["id"].startswith(f"api-{RUN}-")]
    assert len(hits) == 3
    assert hits[0]["id"] == items["run"]["id"]
    for hit in body["hits"]:
        assert hit["reason"].strip()
        assert hit["title"]
    assert hits[0]["components"].get("interest", 0) > hits[-1]["components"].get("interest", 0)
    assert_components_add_up(body["hits"])


def test_another_user_gets_another_order(api, items):
    baker = f"api-baker-{RUN}"
    post_events(api, baker, BAKER_EVENTS)
    body = api.get("/api/search", params={"q": QUERY, "user": baker}).json()
    ours = [hit["id"] for hit in body["hits"] if hit["id"].startswith(f"api-{RUN}-")]
    assert ours[0] == items["bake"]["id"]
    assert_components_add_up(body["hits"])


def test_anonymous_search_is_plain_and_still_explained(api, items):
    body = api.get("/api/search", params={"q": QUERY, "scorer": "portable"}).json()
    assert body["cold_start"] is True and body["scorer"] == "portable"
    assert body["hits"] and all(hit["reason"] for hit in body["hits"])
    assert_components_add_up(body["hits"])


def test_recommend_for_a_user_with_interests(api, items, runner):
    response = api.get("/api/recommend", params={"user": runner, "size": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cold_start"] is False and body["hits"]
    assert_components_add_up(body["hits"])


def test_interests_route_shows_the_users_state(api, runner):
    response = api.get(f"/api/users/{runner}/interests")
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["user"] == runner
    assert state["events"] == len(RUNNER_EVENTS)
    assert state["clusters"] and state["updated_at"]
    assert api.get(f"/api/users/nobody-{RUN}/interests").status_code == 404


def test_search_logs_impressions_to_the_feedback_index(api, es, settings, service, runner):
    body = api.get("/api/search", params={"q": QUERY, "user": runner, "size": 3}).json()
    docs = feedback_docs(es, settings, request_id=body["request_id"])
    docs.sort(key=lambda doc: doc["rank"])
    assert [doc["item"] for doc in docs] == [hit["id"] for hit in body["hits"]]
    assert [doc["rank"] for doc in docs] == list(range(1, len(body["hits"]) + 1))
    for doc, hit in zip(docs, body["hits"], strict=True):
        assert doc["kind"] == "impression" and doc["endpoint"] == "search"
        assert doc["user"] == service.pseudonym(runner) and doc["user"] != runner
        assert doc["query"] == QUERY
        for name, value in hit["components"].items():
            assert math.isclose(doc["components"][name], value, rel_tol=1e-6, abs_tol=1e-7)
    mapping = es.indices.get_mapping(index=settings.index_alias("feedback"))
    assert next(iter(mapping.body.values()))["mappings"]["dynamic"] == "strict"


def test_bad_events_are_listed_and_the_rest_applied(api, items):
    user = f"api-mixed-{RUN}"
    events = [
        {"user": user, "type": "tweet", "text": "not a known type"},
        {"user": user, "type": "like", "item": items["money"]["id"]},
    ]
    response = api.post("/api/events", json=events)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["applied"] == 1
    assert len(result["errors"]) == 1 and "tweet" in result["errors"][0]["error"]
    single = api.post("/api/events", json=events[0])
    assert single.status_code == 400 and "tweet" in single.json()["error"]


def test_bad_query_parameters_are_clear_errors(api):
    assert api.get("/api/search", params={"q": "   "}).json() == {"error": "query is empty"}
    response = api.get("/api/search", params={"q": "x", "size": 0})
    assert response.status_code == 422 and "size" in response.json()["error"]


def test_admin_weights_need_the_token_and_change_the_version(api, settings, service):
    assert api.get("/api/admin/weights").status_code == 401
    wrong = api.get("/api/admin/weights", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    disabled = create_app(settings.with_overrides(admin_token=None), service=service)
    with TestClient(disabled) as client:
        response = client.get("/api/admin/weights", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403

    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = api.get("/api/admin/weights", headers=auth).json()
    bad = api.put("/api/admin/weights", json={"weights": {"bm25": -1}}, headers=auth)
    assert bad.status_code == 400 and "error" in bad.json()
    assert api.get("/api/admin/weights", headers=auth).json()["version"] == before["version"]

    changed = api.put(
        "/api/admin/weights",
        json={"weights": {"bm25": before["weights"]["bm25"] + 0.1}, "note": f"api test {RUN}"},
        headers=auth,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] > before["version"]
    assert changed.json()["note"] == f"api test {RUN}"
    history = api.get("/api/admin/weights/history", headers=auth).json()
    assert before["version"] in [entry.get("version") for entry in history]

    restored = api.post(
        "/api/admin/weights/rollback", json={"version": before["version"]}, headers=auth
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["weights"] == pytest.approx(before["weights"])
    assert restored.json()["version"] > changed.json()["version"]


def test_click_is_logged_and_reaches_the_interests(api, es, settings, service, items):
    user = f"api-clicker-{RUN}"
    post_events(api, user, RUNNER_EVENTS[:1])
    search = api.get("/api/search", params={"q": QUERY, "user": user}).json()
    response = api.post(
        "/api/click",
        json={
            "user": user,
            "item": items["money"]["id"],
            "query": QUERY,
            "request_id": search["request_id"],
            "rank": 3,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["logged"] is True
    [click] = feedback_docs(es, settings, kind="click", request_id=search["request_id"])
    assert click["item"] == items["money"]["id"] and click["rank"] == 3
    assert click["user"] == service.pseudonym(user)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the click event goes through the worker
        state = api.get(f"/api/users/{user}/interests").json()
        if state["events"] == 2:
            break
        time.sleep(0.5)
    assert state["events"] == 2


def test_forget_removes_interests_events_and_feedback(api, es, settings, service, items):
    user = f"api-forget-{RUN}"
    post_events(api, user, RUNNER_EVENTS)
    assert api.get("/api/search", params={"q": QUERY, "user": user}).json()["cold_start"] is False
    pseudonym = service.pseudonym(user)
    assert feedback_docs(es, settings, user=pseudonym)

    response = api.delete(f"/api/admin/users/{user}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == user
    assert body["removed"]["interests"] == 1
    assert body["removed"]["events"] == len(RUNNER_EVENTS)
    assert body["removed"]["feedback"] >= 1

    assert api.get(f"/api/users/{user}/interests").status_code == 404
    assert feedback_docs(es, settings, user=pseudonym) == []
    events_index = settings.index_alias("user_events")
    es.indices.refresh(index=events_index)
    assert es.count(index=events_index, query={"term": {"user": pseudonym}})["count"] == 0
    after = api.get("/api/search", params={"q": QUERY, "user": user}).json()
    assert after["cold_start"] is True
