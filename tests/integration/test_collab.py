"""The collaborative signal on the real stack: factors fitted by a worker from stored events,
written on the items, each user's collaborative vector rebuilt, and the native scorer blending
it.

Two groups of users with disjoint tastes act on items whose texts do not tell the groups apart
(every title draws from the same words), so only "people who liked what you liked" can send a
new user who behaves like group A to group A's other items.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plugin.es import read_meta
from plugin.types import SearchFilters
from tests.integration.behaviour import group_likes, iso, title, while_answering

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
CATEGORY = f"collab-{RUN}"
GROUP_A = [f"collab-{RUN}-a{i}" for i in range(8)]
GROUP_B = [f"collab-{RUN}-b{i}" for i in range(8)]
# Collaborative weight high enough to matter, the others as stored.
WITH_COLLAB = {"collaborative": 0.5}
TASK_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def catalogue(service: Any, tasks: Any, es: Any, settings: Any) -> dict[str, list[str]]:
    created = iso(datetime.now(UTC) - timedelta(days=1))
    rows = [
        {"id": item, "title": title(i), "category": CATEGORY, "created_at": created}
        for group in (GROUP_A, GROUP_B)
        for i, item in enumerate(group)
    ]
    result = tasks.index_items(rows, batch_size=16, progress=False)
    assert result["errors"] == [] and result["indexed"] == len(rows)
    return {"a": GROUP_A, "b": GROUP_B}


@pytest.fixture(scope="module")
def fitted(catalogue: dict[str, list[str]], tasks: Any) -> dict[str, Any]:
    events = group_likes(
        CATEGORY,
        {"a": GROUP_A, "b": GROUP_B},
        users=10,
        skip_every=4,
        start=datetime.now(UTC) - timedelta(hours=12),
    )
    outcome = tasks.record_events(events, batch_size=64, wait=True)
    assert outcome["errors"] == [] and outcome["applied"] == len(events)
    summary = tasks.refit_collab(timeout=TASK_TIMEOUT_S)
    assert "skipped" not in summary, summary
    return summary


def test_refit_writes_factors_and_records_the_version(fitted, es, settings):
    alias = settings.index_alias("items")
    meta = read_meta(es, alias)["collab"]
    assert meta["version"] == fitted["version"] and meta["written"] >= 16
    assert fitted["rebuilt"] >= 20  # both groups' users at least
    docs = es.mget(index=alias, ids=GROUP_A + GROUP_B)["docs"]
    assert all(doc["_source"]["collab_version"] == str(fitted["version"]) for doc in docs)
    assert all(len(doc["_source"]["collab"]) == 32 for doc in docs)
    # What an admin sees: `interest collab status --json`.
    done = subprocess.run(
        [sys.executable, "-m", "plugin.app.cli", "collab", "status", "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["collab"]["version"] == fitted["version"]


def test_a_new_user_like_group_a_gets_group_a_first_through_collab(fitted, tasks, service):
    newcomer = f"{CATEGORY}-newcomer"
    moment = datetime.now(UTC) - timedelta(minutes=5)
    likes = [
        {"user": newcomer, "type": "like", "item": item, "time": iso(moment + timedelta(seconds=i))}
        for i, item in enumerate(GROUP_A[:3])
    ]
    assert tasks.record_events(likes, wait=True)["errors"] == []
    document = service.interest_document(newcomer)
    assert document["collab_version"] == fitted["version"] and document["collab_vector"]

    filters = SearchFilters(categories=(CATEGORY,))
    result = service.recommend(newcomer, size=5, mode="exact", filters=filters, weights=WITH_COLLAB)
    top = [hit.id for hit in result.hits]
    assert set(top) <= set(GROUP_A[3:]), top  # the rest of group A, nothing of group B
    for hit in result.hits:
        personal = {name: hit.components[name] for name in ("interest", "collaborative")}
        assert personal["collaborative"] > personal["interest"], hit.components
    assert result.hits[0].reason == "liked by people with similar tastes"
    # Without the collaborative component, text alone cannot tell the groups apart.
    plain = service.recommend(
        newcomer, size=5, mode="exact", filters=filters, weights={"collaborative": 0.0}
    )
    assert {hit.id for hit in plain.hits} & set(GROUP_B), [hit.id for hit in plain.hits]
    # Approximate mode retrieves by taste as well as by text.
    approx = service.recommend(newcomer, size=5, filters=filters, weights=WITH_COLLAB)
    assert set(hit.id for hit in approx.hits) <= set(GROUP_A[3:])


def test_an_item_without_factors_is_scored_not_dropped(fitted, tasks, service):
    fresh = {"id": f"collab-{RUN}-new", "title": title(0), "category": CATEGORY}
    assert tasks.index_items([fresh], batch_size=1, progress=False)["errors"] == []
    filters = SearchFilters(categories=(CATEGORY,))
    user = f"{CATEGORY}-a0"
    result = service.recommend(user, size=40, mode="exact", filters=filters, weights=WITH_COLLAB)
    hits = {hit.id: hit for hit in result.hits}
    assert fresh["id"] in hits
    assert hits[fresh["id"]].components["collaborative"] == 0.0
    assert hits[fresh["id"]].score > 0


def test_refit_changes_the_version_and_ranking_answers_throughout(fitted, tasks, service):
    filters = SearchFilters(categories=(CATEGORY,))
    user = f"{CATEGORY}-a1"

    def ask() -> None:
        service.recommend(user, size=5, filters=filters, weights=WITH_COLLAB)
        service.search("garden story", user=user, size=5)

    again, _ = while_answering(lambda: tasks.refit_collab(timeout=TASK_TIMEOUT_S), ask)
    assert again["version"] > fitted["version"]
    service.blend_config(fresh=True)  # what a TTL (CONFIG_TTL_S) later would read
    document = service.interest_document(user)
    assert document["collab_version"] == again["version"]
    # a1 liked all of group A but a3 and a7: those two come first, by taste.
    result = service.recommend(user, size=2, mode="exact", filters=filters, weights=WITH_COLLAB)
    assert {hit.id for hit in result.hits} == {GROUP_A[3], GROUP_A[7]}
    assert all(hit.components["collaborative"] > 0 for hit in result.hits)
