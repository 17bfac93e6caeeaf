"""Privacy on the real stack: user ids reach Elasticsearch only as keyed pseudonyms, and
`interest forget` (and the admin route) leaves nothing of a user in any index."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plugin.settings import Settings

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
ADMIN = "privacy-admin-token"
ITEM = {
    "id": f"priv-{RUN}-item",
    "title": "Privacy: a guide to mountain hiking",
    "body": "Boots, maps and water for a day in the hills.",
    "category": "outdoors",
    "created_at": "2021-03-01T00:00:00Z",  # old: it must not crowd other tests' fresh rankings
}


INDEX_NAMES = ("items", "user_interests", "user_events", "feedback")


def every_index(settings: Settings) -> list[str]:
    return [settings.index_alias(name) for name in INDEX_NAMES]


def hits_for(es, settings: Settings, text: str) -> list[dict[str, Any]]:
    """Documents of any index where ``text`` appears, as a term or inside any field."""
    indices = every_index(settings)
    es.indices.refresh(index=indices, ignore_unavailable=True)
    query = {
        "bool": {
            "should": [
                {"multi_match": {"query": text, "fields": ["*"], "lenient": True}},
                {"query_string": {"query": f'"{text}"', "default_field": "*", "lenient": True}},
                {"term": {"user": text}},
            ]
        }
    }
    response = es.search(index=indices, query=query, size=100, ignore_unavailable=True)
    return list(response["hits"]["hits"])


def documents_of(es, settings: Settings, pseudonym: str) -> dict[str, int]:
    """How many documents of each index belong to ``pseudonym`` (by field or by id)."""
    query = {"bool": {"should": [{"term": {"user": pseudonym}}, {"ids": {"values": [pseudonym]}}]}}
    counts = {}
    for index in every_index(settings):
        es.indices.refresh(index=index, ignore_unavailable=True)
        counts[index] = int(es.count(index=index, query=query)["count"])
    return counts


def wait_for_events(es, settings: Settings, pseudonym: str, count: int) -> None:
    """The click route queues its event without waiting: wait until it is stored."""
    index = settings.index_alias("user_events")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        es.indices.refresh(index=index)
        if es.count(index=index, query={"term": {"user": pseudonym}})["count"] >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{count} events of {pseudonym} were not stored in time")


@pytest.fixture(scope="module")
def api(settings: Settings, service, tasks) -> Iterator[TestClient]:
    from plugin.app.api import create_app

    app = create_app(settings.with_overrides(admin_token=ADMIN), service=service, tasks=tasks)
    with TestClient(app) as client:
        yield client


def leave_traces(api: TestClient, tasks, es, settings: Settings, service, user: str) -> None:
    """Events, an interest document, impressions and a click, as a real user would: three
    events in all (a post, a click event, and the click on a result)."""
    assert tasks.index_items([ITEM], batch_size=1, progress=False)["indexed"] == 1
    now = datetime.now(UTC)
    events = [
        {"user": user, "type": "post", "text": f"Planning a hike with {user} tomorrow",
         "time": (now - timedelta(hours=2)).isoformat()},
        {"user": user, "type": "click", "item": ITEM["id"],
         "time": (now - timedelta(hours=1)).isoformat()},
    ]  # fmt: skip
    assert api.post("/api/events", json=events).json()["applied"] == 2
    searched = api.get("/api/search", params={"q": "mountain hiking", "user": user})
    assert searched.status_code == 200 and searched.json()["hits"]
    clicked = api.post(
        "/api/click",
        json={"user": user, "item": ITEM["id"], "request_id": searched.json()["request_id"]},
    )
    assert clicked.status_code == 200 and clicked.json()["logged"] is True
    wait_for_events(es, settings, service.pseudonym(user), 3)


def test_raw_user_ids_never_reach_elasticsearch(api, tasks, service, es, settings):
    user = f"alice.privacy.{RUN}@example.com"
    leave_traces(api, tasks, es, settings, service, user)
    pseudonym = service.pseudonym(user)
    assert pseudonym.startswith("u_") and user not in pseudonym
    counts = documents_of(es, settings, pseudonym)
    assert counts[settings.index_alias("user_interests")] == 1
    assert counts[settings.index_alias("user_events")] == 3
    assert counts[settings.index_alias("feedback")] >= 2  # impressions and the click
    assert hits_for(es, settings, user) == [], "the raw user id was found in an index"
    for index in every_index(settings)[1:]:
        es.indices.refresh(index=index)
        docs = es.search(index=index, query={"term": {"user": pseudonym}}, size=100)
        assert user not in json.dumps(docs.body, ensure_ascii=False)


def test_forget_through_the_cli_leaves_nothing(api, tasks, service, es, settings, capsys):
    from plugin.app.cli import main

    user = f"bob-forget-cli-{RUN}"
    leave_traces(api, tasks, es, settings, service, user)
    pseudonym = service.pseudonym(user)
    before = documents_of(es, settings, pseudonym)
    assert all(count > 0 for name, count in before.items() if not name.endswith("-items"))
    assert main(["forget", "--user", user, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["user"] == user
    assert report["removed"]["interests"] == 1 and report["removed"]["events"] == 3
    assert report["removed"]["feedback"] == before[settings.index_alias("feedback")]
    assert set(documents_of(es, settings, pseudonym).values()) == {0}
    assert service.interest_document(user) is None
    # The items themselves are not personal data: they stay.
    assert es.exists(index=settings.index_alias("items"), id=ITEM["id"])


def test_forget_through_the_admin_route_leaves_nothing(api, tasks, service, es, settings):
    user = f"carol-forget-api-{RUN}"
    leave_traces(api, tasks, es, settings, service, user)
    pseudonym = service.pseudonym(user)
    assert api.delete(f"/api/admin/users/{user}").status_code == 401  # the token is needed
    response = api.delete(f"/api/admin/users/{user}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200
    removed = response.json()["removed"]
    assert removed["interests"] == 1 and removed["events"] == 3 and removed["feedback"] >= 2
    assert set(documents_of(es, settings, pseudonym).values()) == {0}
    again = api.delete(f"/api/admin/users/{user}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert again.json()["removed"] == {"interests": 0, "events": 0, "feedback": 0}


def test_forget_many_erases_each_user_and_no_one_else(api, tasks, service, es, settings):
    gone = [f"dave-forget-many-{RUN}-{n}" for n in range(3)]
    kept = f"erin-kept-{RUN}"
    for user in [*gone, kept]:
        leave_traces(api, tasks, es, settings, service, user)
    kept_before = documents_of(es, settings, service.pseudonym(kept))
    never_seen = f"frank-never-seen-{RUN}"
    removed = service.forget_many([*gone, never_seen])
    assert set(removed) == {*gone, never_seen}
    for user in gone:
        assert removed[user]["interests"] == 1 and removed[user]["events"] == 3
        assert removed[user]["feedback"] >= 2
        assert set(documents_of(es, settings, service.pseudonym(user)).values()) == {0}
    assert removed[never_seen] == {"interests": 0, "events": 0, "feedback": 0}
    assert documents_of(es, settings, service.pseudonym(kept)) == kept_before
    service.forget(kept)
