"""Item neighbours on the real stack: a worker fits them from the stored events into a new
index behind the alias, each user's item votes lift the voted items' neighbours through the
native scorer's ``neighbours`` component (and the portable mode's), the reason names the
liked item, and newer votes outweigh older ones.

Three groups of users with disjoint tastes act on items whose texts do not tell the groups
apart (every title draws from the same words), so only behaviour can find an item's group.
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

from plugin.es import read_meta, resolve_alias
from plugin.types import SearchFilters
from tests.integration.behaviour import group_likes, iso, title, while_answering

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
CATEGORY = f"nb-{RUN}"
GROUPS = {name: [f"nb-{RUN}-{name}{i}" for i in range(6)] for name in ("x", "y", "z")}
# Neighbours weighted to matter; collaborative off so only this signal tells groups apart.
WITH_NEIGHBOURS = {"neighbours": 0.6, "collaborative": 0.0}
TASK_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def fitted(service: Any, tasks: Any) -> dict[str, Any]:
    created = iso(datetime.now(UTC) - timedelta(days=1))
    rows = [
        {"id": item, "title": title(i), "category": CATEGORY, "created_at": created}
        for items in GROUPS.values()
        for i, item in enumerate(items)
    ]
    indexed = tasks.index_items(rows, batch_size=18, progress=False)
    assert indexed["errors"] == [] and indexed["indexed"] == len(rows)
    events = group_likes(
        CATEGORY, GROUPS, users=8, skip_every=3, start=datetime.now(UTC) - timedelta(days=2)
    )
    outcome = tasks.record_events(events, batch_size=64, wait=True)
    assert outcome["errors"] == [] and outcome["applied"] == len(events)
    summary = tasks.refit_neighbours(timeout=TASK_TIMEOUT_S)
    assert "skipped" not in summary, summary
    service.blend_config(fresh=True)
    return summary


def test_refit_writes_a_table_and_records_its_version(fitted, es, settings):
    meta = read_meta(es, settings.index_alias("items"))["neighbours"]
    assert meta["version"] == fitted["version"] and meta["kinds"] == ["like"]
    assert meta["items"] == 18 and meta["users"] == 24
    alias = settings.index_alias("item_neighbours")
    assert resolve_alias(es, alias) == f"{alias}-{fitted['version']}"
    rows = es.mget(index=alias, ids=GROUPS["x"])["docs"]
    for doc in rows:
        ids = doc["_source"]["neighbours"]["ids"]
        assert ids and set(ids) <= set(GROUPS["x"]) - {doc["_id"]}  # its own group only
    done = subprocess.run(
        [sys.executable, "-m", "plugin.app.cli", "neighbours", "status", "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["neighbours"]["version"] == fitted["version"]


def test_a_user_who_liked_two_items_gets_their_neighbours_first_and_then_the_newest(
    fitted, tasks, service
):
    newcomer = f"{CATEGORY}-newcomer"
    old = datetime.now(UTC) - timedelta(days=3 * 365)  # 1.5 vote half-lives ago
    liked = [GROUPS["x"][0], GROUPS["y"][0]]
    events = [
        {"user": newcomer, "type": "like", "item": item, "time": iso(old + timedelta(hours=i))}
        for i, item in enumerate(liked)
    ]
    assert tasks.record_events(events, wait=True)["errors"] == []
    filters = SearchFilters(categories=(CATEGORY,))
    for scorer in ("native", "portable"):
        result = service.recommend(
            newcomer, size=6, mode="exact", scorer=scorer, filters=filters, weights=WITH_NEIGHBOURS
        )
        top = [hit.id for hit in result.hits]
        assert set(top) <= set(GROUPS["x"][1:] + GROUPS["y"][1:]), (scorer, top)
        for hit in result.hits:
            assert hit.components["neighbours"] > hit.components["interest"], hit.components
            assert hit.reason in {f"because you liked {title(0)}"}, hit.reason
    # Without the neighbours, text alone cannot tell the groups apart.
    plain = service.recommend(
        newcomer, size=6, mode="exact", filters=filters, weights={"neighbours": 0.0}
    )
    assert {hit.id for hit in plain.hits} & set(GROUPS["z"]), [hit.id for hit in plain.hits]

    # A like of z0 now outweighs the old ones: z's items come first.
    now = {"user": newcomer, "type": "like", "item": GROUPS["z"][0], "time": iso(datetime.now(UTC))}
    assert tasks.record_events([now], wait=True)["errors"] == []
    result = service.recommend(newcomer, size=3, filters=filters, weights=WITH_NEIGHBOURS)
    assert {hit.id for hit in result.hits} <= set(GROUPS["z"][1:]), [h.id for h in result.hits]
    ranked = service.recommend(newcomer, size=15, filters=filters, weights=WITH_NEIGHBOURS)
    assert {hit.id for hit in ranked.hits} == set(
        GROUPS["x"][1:] + GROUPS["y"][1:] + GROUPS["z"][1:]
    )


def test_refit_swaps_tables_while_ranking_keeps_answering(fitted, tasks, service, es, settings):
    filters = SearchFilters(categories=(CATEGORY,))
    user = f"{CATEGORY}-x1"

    def ask() -> None:
        service.blend_config(fresh=True)  # each request sees the newest `_meta`
        service.recommend(user, size=5, filters=filters, weights=WITH_NEIGHBOURS)
        service.search("garden story", user=user, size=5)

    again, _ = while_answering(lambda: tasks.refit_neighbours(timeout=TASK_TIMEOUT_S), ask)
    assert again["version"] > fitted["version"]
    alias = settings.index_alias("item_neighbours")
    assert sorted(es.indices.get_alias(name=alias).body) == [f"{alias}-{again['version']}"]
    service.blend_config(fresh=True)
    # x1 liked x0, x1, x3 and x4 (not x2, x5): those two are what its votes find.
    result = service.recommend(user, size=2, mode="exact", filters=filters, weights=WITH_NEIGHBOURS)
    assert {hit.id for hit in result.hits} == {GROUPS["x"][2], GROUPS["x"][5]}
