"""The write path on the real stack: events and items through real Celery workers into
Elasticsearch, with drift, races, re-indexing, bad input, duplicates and late events."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from indexer.interests import from_document, summary
from plugin.types import SearchFilters

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
HOUR = timedelta(hours=1)

SPORTS_ITEMS = [
    ("football", "Champions League final: late goal wins the cup", "The striker scored in "
     "stoppage time and the fans invaded the pitch after the football match."),
    ("tennis", "Wimbledon: five-set tennis thriller on Centre Court",
     "Serve and volley, a tie-break in the fifth set and a new champion."),
    ("marathon", "Marathon runners break the course record",
     "Elite athletes ran the 42 km race in under two hours and six minutes."),
    ("basketball", "NBA playoffs: buzzer-beater three-pointer",
     "The point guard hit the winning shot as the basketball game ended."),
]  # fmt: skip
TECH_ITEMS = [
    ("gpu", "New GPU doubles deep learning training speed",
     "The graphics card has more tensor cores and faster memory for neural networks."),
    ("python", "Python 3.13 release: faster interpreter and a JIT compiler",
     "Programmers get better error messages and a new garbage collector."),
    ("cloud", "Kubernetes and cloud computing for software engineers",
     "Containers, microservices and autoscaling clusters in the data centre."),
    ("phone", "Smartphone chip with an on-device AI model",
     "The processor runs large language models offline on the mobile phone."),
]  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def unit(vector: Any) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    return array / np.linalg.norm(array)


def cosine(a: Any, b: Any) -> float:
    return float(unit(a) @ unit(b))


def make_items(prefix: str, rows: list[tuple[str, str, str]], category: str) -> list[dict]:
    return [
        {"id": f"{prefix}-{key}", "title": title, "body": body, "category": category}
        for key, title, body in rows
    ]


def index(tasks, items: list[dict[str, Any]]) -> None:
    result = tasks.index_items(items, batch_size=16, progress=False)
    assert result["errors"] == [] and result["indexed"] == len(items), result


def record(tasks, events: list[dict[str, Any]], *, batch_size: int = 64) -> dict[str, Any]:
    result: dict[str, Any] = tasks.record_events(events, batch_size=batch_size, wait=True)
    return result


def mean_embedding(es, settings, ids: list[str]) -> np.ndarray:
    docs = es.mget(index=settings.index_alias("items"), ids=ids, source_includes=["embedding"])
    vectors = [doc["_source"]["embedding"] for doc in docs["docs"]]
    assert len(vectors) == len(ids)
    return unit(np.mean([unit(v) for v in vectors], axis=0))


def interests(service, user: str) -> dict[str, Any]:
    doc = service.interest_document(user)
    assert doc is not None, f"no interest document for {user}"
    return doc


def user_event_count(es, settings, service, user: str) -> int:
    index = settings.index_alias("user_events")
    es.indices.refresh(index=index)
    query = {"term": {"user": service.pseudonym(user)}}
    return int(es.count(index=index, query=query)["count"])


def popularity(es, settings, item_id: str) -> int:
    source = es.get(index=settings.index_alias("items"), id=item_id)["_source"]
    return int(source.get("popularity") or 0)


# --- 1. the client's example ------------------------------------------------------------------


def test_film_post_after_weather_post_makes_film_the_strongest_interest(tasks, service):
    prefix = f"wp-zh-{RUN}"
    film_category, life_category = f"电影-{RUN}", f"生活-{RUN}"
    film = {
        "id": f"{prefix}-film",
        "title": "动画电影《你的名字》观后感",
        "body": "新海诚导演的电影，讲述两个高中生交换身体的故事，画面唯美，值得去电影院看。",
        "category": film_category,
    }
    walk = {
        "id": f"{prefix}-walk",
        "title": "晴天适合出门散步",
        "body": "今天天气晴朗，阳光明媚，公园里散步的人很多，天气预报说周末也是好天气。",
        "category": life_category,
    }
    # Two of each, as in the client's example: both films must lead the feed.
    film2 = {
        "id": f"{prefix}-film2",
        "title": "本周新上映的电影推荐",
        "body": "几部口碑很好的新片本周上映，有动画也有剧情片，适合周末去电影院。",
        "category": film_category,
    }
    walk2 = {
        "id": f"{prefix}-walk2",
        "title": "城市公园步道散步指南",
        "body": "天气好的时候去公园走一走，沿湖步道风景好，适合饭后散步。",
        "category": life_category,
    }
    index(tasks, [film, walk, film2, walk2])
    user = f"wp-zh-user-{RUN}"
    now = datetime.now(UTC)
    first = record(
        tasks, [{"user": user, "type": "post", "text": "今天天气真好，出去散步了。",
                 "time": iso(now - 2 * HOUR)}]
    )  # fmt: skip
    second = record(
        tasks, [{"user": user, "type": "post", "text": "刚刚看了个电影，叫《你的名字》。太好看了！",
                 "time": iso(now - HOUR)}]
    )  # fmt: skip
    assert first["applied"] == 1 and second["applied"] == 1
    assert first["errors"] == [] and second["errors"] == []

    doc = interests(service, user)
    view = summary(from_document(doc), user=user, now_ms=int(time.time() * 1000))
    assert view["events"] == 2
    strongest, *rest = view["clusters"]
    assert "电影" in strongest["label"], view
    weather = [c for c in rest if "散步" in c["label"] or "天气" in c["label"]]
    assert weather, view
    assert strongest["weight"] > weather[0]["weight"]

    result = service.recommend(
        user, size=10, filters=SearchFilters(categories=(film_category, life_category))
    )
    assert result.cold_start is False
    order = [hit.id for hit in result.hits]
    assert set(order[:2]) == {film["id"], film2["id"]}, order
    assert set(order[2:4]) == {walk["id"], walk2["id"]}, order
    assert "电影" in (result.hits[0].cluster_label or "")


# --- 2. drift ---------------------------------------------------------------------------------


def test_short_term_follows_drift_while_long_term_keeps_the_old_interest(
    tasks, service, es, settings
):
    prefix = f"wp-drift-{RUN}"
    sports = make_items(prefix, SPORTS_ITEMS, "sports")
    tech = make_items(prefix, TECH_ITEMS, "technology")
    index(tasks, sports + tech)
    sports_mean = mean_embedding(es, settings, [item["id"] for item in sports])
    tech_mean = mean_embedding(es, settings, [item["id"] for item in tech])
    user = f"wp-drift-user-{RUN}"
    start = datetime.now(UTC) - 72 * HOUR

    def event(position: int, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "user": user,
            "type": "like" if position % 3 == 0 else "click",
            "item": items[position % len(items)]["id"],
            "time": iso(start + position * HOUR),
        }

    sports_events = [event(i, sports) for i in range(50)]
    tech_events = [event(50 + i, tech) for i in range(20)]
    assert record(tasks, sports_events, batch_size=10)["applied"] == 50

    def leaning() -> tuple[float, float]:
        short = interests(service, user)["short_term"]
        return cosine(short, sports_mean), cosine(short, tech_mean)

    before = leaning()
    assert before[0] > before[1], "after 50 sports events the short term must be sports"
    after_each = []
    for tech_event in tech_events[:5]:
        assert record(tasks, [tech_event])["applied"] == 1
        after_each.append(leaning())
    turned = [to_sports < to_tech for to_sports, to_tech in after_each]
    assert any(turned), f"short term still sports after 5 tech events: {after_each}"
    first_turn = turned.index(True)
    assert all(turned[first_turn:]), after_each

    assert record(tasks, tech_events[5:], batch_size=5)["applied"] == 15
    doc = interests(service, user)
    assert doc["events"] == 70
    assert cosine(doc["long_term"], sports_mean) > cosine(doc["long_term"], tech_mean)
    assert cosine(doc["short_term"], tech_mean) > cosine(doc["short_term"], sports_mean)


# --- 3. concurrent updates of one user --------------------------------------------------------


def test_fifty_concurrent_events_for_one_user_all_count(tasks, service, es, settings):
    from stack.control import ping_workers
    from stack.worker import start_worker, stop_worker

    prefix = f"wp-race-{RUN}"
    items = make_items(prefix, SPORTS_ITEMS + TECH_ITEMS, "race")
    index(tasks, items)
    user = f"wp-race-user-{RUN}"
    start = datetime.now(UTC) - 60 * HOUR
    events = [
        {
            "user": user,
            "type": "click",
            "item": items[i % len(items)]["id"],
            "time": iso(start + i * timedelta(minutes=1)),
        }
        for i in range(50)
    ]
    started = start_worker(
        settings, name="worker-2", concurrency=2, ping=lambda: ping_workers(settings)
    )
    assert started, "worker-2 was already running"
    try:
        pending = [tasks.send("tasks.events.record_events", [event]) for event in events]
        results = [result.get(timeout=300) for result in pending]
    finally:
        stop_worker(settings, "worker-2")
    assert sum(r["applied"] for r in results) == 50, [r for r in results if r["errors"]]
    assert all(r["errors"] == [] for r in results)
    log = (settings.state_dir / "workers" / "worker-2.log").read_text(errors="replace")
    assert "tasks.events.record_events" in log and "succeeded" in log, "worker-2 did no work"

    doc = interests(service, user)
    assert doc["events"] == 50
    assert user_event_count(es, settings, service, user) == 50
    # Popularity counts race too: every click counts once (after the flush they schedule).
    tasks.flush_popularity()
    clicks = sum(popularity(es, settings, item["id"]) for item in items)
    assert clicks == 50


# --- 4. re-indexing ---------------------------------------------------------------------------


def test_reindexing_a_batch_keeps_one_copy_and_the_popularity(tasks, service, es, settings):
    prefix = f"wp-reidx-{RUN}"
    category = f"reidx-{RUN}"
    batch = make_items(prefix, TECH_ITEMS, category)
    batch[1]["popularity"] = 0  # an explicit zero in the feed must not reset the counter
    index(tasks, batch)
    clicked, liked = batch[0]["id"], batch[1]["id"]
    user = f"wp-reidx-user-{RUN}"
    now = datetime.now(UTC)
    clicks = [
        {"user": user, "type": "click", "item": clicked, "time": iso(now - i * HOUR)}
        for i in range(1, 4)
    ]
    likes = [{"user": user, "type": "like", "item": liked, "time": iso(now - 5 * HOUR)}]
    assert record(tasks, clicks + likes)["applied"] == 4
    assert popularity(es, settings, clicked) == 3

    index(tasks, batch)
    index(tasks, batch)
    items_index = settings.index_alias("items")
    es.indices.refresh(index=items_index)
    ids = [item["id"] for item in batch]
    by_ids = es.count(index=items_index, query={"ids": {"values": ids}})["count"]
    by_category = es.count(index=items_index, query={"term": {"category": category}})["count"]
    assert by_ids == len(batch) and by_category == len(batch)
    assert popularity(es, settings, clicked) == 3
    assert popularity(es, settings, liked) == 1
    assert popularity(es, settings, batch[2]["id"]) == 0


# --- 5. bad input -----------------------------------------------------------------------------


def test_bad_events_get_clear_errors_and_the_valid_ones_are_applied(tasks, service, es, settings):
    prefix = f"wp-bad-{RUN}"
    [known] = make_items(prefix, SPORTS_ITEMS[:1], "sports")
    index(tasks, [known])
    user = f"wp-bad-user-{RUN}"
    now = datetime.now(UTC)
    stamp, next_month = iso(now - HOUR), iso(now + 30 * 24 * HOUR)
    garbled = "看了\x00一场\x1b[0m足球比赛\ud800，很精彩\udcff"
    batch = [
        {"user": user, "type": "post", "text": "周末和朋友去爬山，风景很美。", "time": stamp},
        {"user": user, "type": "post", "text": "", "time": stamp},
        {"user": user, "type": "post", "text": " \t\n\u3000 ", "time": stamp},
        {"user": user, "type": "post", "text": "长" * 1_000_000, "time": stamp},
        {"user": user, "type": "post", "text": "\x00\x1b\ud800\udcff", "time": stamp},
        {"user": user, "type": "post", "text": garbled, "time": stamp},
        {"user": user, "type": "click", "item": f"{prefix}-missing", "time": stamp},
        {"user": user, "type": "tweet", "text": "an unknown event type", "time": stamp},
        {"user": user, "type": "post", "text": "from the future", "time": next_month},
        {"user": user, "type": "click", "item": known["id"], "time": stamp},
    ]
    result = record(tasks, batch)
    assert result["applied"] == 3, result
    messages = [error["error"] for error in result["errors"]]
    assert len(messages) == 7, messages
    expected = [
        "text is empty",  # ""
        "text is empty after cleaning",  # whitespace only
        "1,000,000 characters",  # the 1 MB post
        "text is empty after cleaning",  # nothing but control characters and surrogates
        f"unknown item id '{prefix}-missing'",
        "event type 'tweet' is not one of",
        "in the future",
    ]
    unmatched = list(messages)
    for fragment in expected:
        match = next((m for m in unmatched if fragment in m), None)
        assert match is not None, f"no error mentions {fragment!r}: {messages}"
        unmatched.remove(match)
    # Errors found before the item look-up say which position in the batch was wrong.
    assert {e["id"] for e in result["errors"]} >= {"#1", "#2", "#3", "#4", "#7", "#8"}

    doc = interests(service, user)
    assert doc["events"] == 3
    assert doc["recent_items"] == [known["id"]]
    assert popularity(es, settings, known["id"]) == 1
    events_index = settings.index_alias("user_events")
    es.indices.refresh(index=events_index)
    stored = es.search(
        index=events_index, query={"term": {"user": service.pseudonym(user)}}, size=20
    )["hits"]["hits"]
    assert len(stored) == 3
    texts = [hit["_source"]["text"] for hit in stored if hit["_source"]["text"]]
    cleaned = next(text for text in texts if "足球" in text)
    assert not any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in cleaned), cleaned
    assert "足球比赛" in cleaned and "很精彩" in cleaned


def test_bad_items_get_clear_errors_and_the_valid_ones_are_indexed(tasks, es, settings):
    prefix = f"wp-baditem-{RUN}"
    good = make_items(prefix, SPORTS_ITEMS[:2], "sports")
    batch = [
        good[0],
        {"title": "An item without an id", "body": "It cannot be addressed."},
        {"id": f"{prefix}-empty", "title": "  ", "body": ""},
        {"id": f"{prefix}-when", "title": "Bad date", "body": "x", "created_at": "yesterday"},
        good[1],
    ]
    result = tasks.index_items(batch, batch_size=16, progress=False)
    assert result["indexed"] == 2, result
    errors = {error["id"]: error["error"] for error in result["errors"]}
    assert set(errors) == {"#1", f"{prefix}-empty", f"{prefix}-when"}, errors
    assert "no id" in errors["#1"]
    assert "title and body are both empty" in errors[f"{prefix}-empty"]
    assert "created_at" in errors[f"{prefix}-when"] and "yesterday" in errors[f"{prefix}-when"]
    items_index = settings.index_alias("items")
    for item in good:
        assert es.get(index=items_index, id=item["id"])["_source"]["title"] == item["title"]
    for bad_id in (f"{prefix}-empty", f"{prefix}-when"):
        assert not es.exists(index=items_index, id=bad_id)


# --- 6. duplicate delivery --------------------------------------------------------------------


def test_the_same_event_delivered_twice_is_applied_once(tasks, service, es, settings):
    prefix = f"wp-dup-{RUN}"
    items = make_items(prefix, TECH_ITEMS[:1], "technology")
    index(tasks, items)
    user = f"wp-dup-user-{RUN}"
    stamp = iso(datetime.now(UTC) - HOUR)
    post = {"user": user, "type": "post", "text": "Trying the new Python JIT today", "time": stamp}
    click = {"user": user, "type": "click", "item": items[0]["id"], "time": stamp}

    first = record(tasks, [post, click])
    assert first["applied"] == 2 and first["duplicates"] == 0
    again = record(tasks, [dict(post), dict(click)])
    assert again["applied"] == 0 and again["duplicates"] == 2
    in_one_batch = record(tasks, [dict(post), dict(post)])
    assert in_one_batch["applied"] == 0

    assert interests(service, user)["events"] == 2
    assert user_event_count(es, settings, service, user) == 2
    assert popularity(es, settings, items[0]["id"]) == 1


def test_a_redelivered_task_without_event_times_is_applied_once(tasks, service, es, settings):
    """A task re-run after a lost ack carries the same message: times are set when sent."""
    from tasks.client import stamp_times

    user = f"wp-redeliver-user-{RUN}"
    batch = stamp_times([{"user": user, "type": "post", "text": "Redelivered: count me once"}])
    assert batch[0]["time"]
    task_id = uuid.uuid4().hex
    results = []
    for _ in range(2):  # the same message twice, as the broker redelivers it
        pending = tasks.app.send_task(
            "tasks.events.record_events",
            args=(batch,),
            kwargs={"prefix": settings.index_prefix},
            task_id=task_id,
        )
        results.append(pending.get(timeout=120))
        pending.forget()  # else the second get() would read the first run's stored result
    assert [r["applied"] for r in results] == [1, 0]
    assert results[1]["duplicates"] == 1
    assert interests(service, user)["events"] == 1
    assert user_event_count(es, settings, service, user) == 1

    # record_events stamps before sending: the stored time precedes the worker's receipt.
    late = f"wp-stamped-user-{RUN}"
    assert record(tasks, [{"user": late, "type": "post", "text": "no time given"}])["applied"] == 1
    es.indices.refresh(index=settings.index_alias("user_events"))
    [hit] = es.search(
        index=settings.index_alias("user_events"),
        query={"term": {"user": service.pseudonym(late)}},
    )["hits"]["hits"]
    sent, received = hit["_source"]["time"], hit["_source"]["received_at"]
    assert datetime.fromisoformat(sent) < datetime.fromisoformat(received)


# --- 7. late and out-of-order events ----------------------------------------------------------


def test_events_in_reverse_time_order_give_the_same_long_term_vector(tasks, service):
    prefix = f"wp-order-{RUN}"
    items = make_items(prefix, SPORTS_ITEMS + TECH_ITEMS, "mixed")
    index(tasks, items)
    start = datetime.now(UTC) - 48 * HOUR
    texts = ["Watching the marathon on TV this morning", "My new laptop has a great GPU"]

    def events(user: str) -> list[dict[str, Any]]:
        rows = [
            {"user": user, "type": "click" if i % 2 else "like", "item": item["id"],
             "time": iso(start + i * 3 * HOUR)}
            for i, item in enumerate(items)
        ]  # fmt: skip
        rows += [
            {"user": user, "type": "post", "text": text, "time": iso(start + (5 + 10 * i) * HOUR)}
            for i, text in enumerate(texts)
        ]
        return sorted(rows, key=lambda row: row["time"])

    in_order, reversed_ = f"wp-order-a-{RUN}", f"wp-order-b-{RUN}"
    for event in events(in_order):
        assert record(tasks, [event])["applied"] == 1
    for event in reversed(events(reversed_)):
        assert record(tasks, [event])["applied"] == 1

    a, b = interests(service, in_order), interests(service, reversed_)
    assert a["events"] == b["events"] == len(items) + len(texts)
    # The 200-event half-life counts events as they arrive, so the order moves each weight
    # by up to a few percent: the direction must stay (an absolute tolerance per component
    # would depend on how spread a model's vectors are).
    long_a, long_b = np.asarray(a["long_term"]), np.asarray(b["long_term"])
    cosine = float(long_a @ long_b / (np.linalg.norm(long_a) * np.linalg.norm(long_b)))
    assert cosine >= 0.999, cosine
    assert a["last_event_at"] == b["last_event_at"]
    assert sorted(a["recent_items"]) == sorted(b["recent_items"])
