"""The read path on the real stack: personalised search, recommendation, weights, modes.

A bilingual catalogue (film, sports, tech, food; English and Chinese) goes through the
worker, users' histories go through the worker, and every ranking below comes from the
real Elasticsearch node with the native scorer, or from its portable stand-in.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from indexer.segment import segmented
from plugin.app.demo import load_sample
from plugin.errors import InputError, WeightsError
from plugin.es import read_meta
from plugin.queries import build_candidates
from plugin.service import CONFIG_TTL_S, PersonalizedSearch
from plugin.types import SearchHit, SearchResult

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
PREFIX = f"rp-{RUN}-"
CATALOGUE = f"{PREFIX}c-"
SEED = f"{PREFIX}seed-"
NOW = datetime.now(UTC)

# key: (category, lang, title, body, tags, days_ago, popularity)
ITEMS: dict[str, tuple[str, str, str, str, list[str], float, int]] = {
    # film
    "f1": ("film", "en", "The best new thriller films of the season",
           "Critics pick tense thrillers and dramas worth a cinema ticket this autumn.",
           ["thriller"], 3, 40),
    "f2": ("film", "en", "New science fiction movies worth watching",
           "Space epics, time travel and stunning visual effects on the big screen.",
           ["sci-fi"], 6, 25),
    "f3": ("film", "en", "Best animated movies for a family movie night",
           "Anime classics and new cartoons the whole family will enjoy.",
           ["animation"], 12, 15),
    "f4": ("film", "en", "Oscar race: the best actor performances in new dramas",
           "Directors and actors talk about the year's most moving film roles.",
           ["awards"], 9, 10),
    "f5": ("film", "en", "A new documentary film about jazz musicians",
           "Archive footage and interviews with the legends of jazz.",
           ["documentary"], 20, 5),
    "f6": ("film", "zh", "本周最佳新电影推荐",
           "悬疑电影和科幻电影齐上映，导演和演员阵容强大，值得去电影院观看。",
           ["电影"], 2, 30),
    "f7": ("film", "zh", "十部值得反复观看的经典老电影",
           "从黑白默片到彩色电影，这些影片的剧情经得起一看再看。",
           ["片单"], 15, 12),
    "f8": ("film", "zh", "动画电影票房创下新纪录",
           "暑期档动画电影预售火爆，首日票房破纪录。",
           ["动画"], 4, 20),
    # sports
    "s1": ("sports", "en", "Best marathon training plans for new runners",
           "Long runs, tempo workouts and rest days for your first race.",
           ["running", "marathon"], 5, 35),
    "s2": ("sports", "en", "New football season: the best transfers so far",
           "Clubs spent big on strikers and goalkeepers before the deadline.",
           ["football"], 2, 30),
    "s3": ("sports", "en", "Tennis: the best new rackets tested on court",
           "We played fifty sets to compare power, spin and control.",
           ["tennis"], 10, 8),
    "s4": ("sports", "en", "Cycling: new mountain stage records in the tour",
           "Riders climbed faster than ever on the final alpine stage.",
           ["cycling"], 7, 12),
    "s5": ("sports", "en", "Basketball playoffs: the best defensive teams",
           "Blocks, steals and rebounds decided the conference finals.",
           ["basketball"], 8, 18),
    "s6": ("sports", "zh", "足球联赛新赛季最佳球员出炉",
           "前锋和门将表现出色，球迷投票选出本赛季最佳球员。",
           ["足球"], 3, 22),
    "s7": ("sports", "zh", "马拉松跑步训练计划",
           "长距离慢跑、间歇跑和休息日，帮助跑者完成第一场马拉松比赛。",
           ["马拉松"], 11, 9),
    "s8": ("sports", "zh", "篮球总决赛精彩回顾",
           "最后一节主队连得十分，完成惊天逆转夺得总冠军。",
           ["篮球"], 6, 16),
    # tech
    "t1": ("tech", "en", "Best new laptops for programmers",
           "Fast processors, long battery life and great keyboards for coding.",
           ["laptop"], 4, 28),
    "t2": ("tech", "en", "New smartphone cameras compared",
           "Night mode, zoom lenses and video stabilisation side by side.",
           ["mobile"], 8, 20),
    "t3": ("tech", "en", "The best open source databases for new projects",
           "Postgres, SQLite and search engines compared for speed and reliability.",
           ["databases"], 14, 14),
    "t4": ("tech", "en", "Vintage computing: restoring old home computers",
           "Soldering irons, floppy disks and the joy of eight-bit machines.",
           ["retro"], 30, 3),
    "t5": ("tech", "en", "Keyboard shortcuts every developer should know",
           "Editors, terminals and window managers: save minutes every day.",
           ["productivity"], 30, 0),
    "t6": ("tech", "zh", "最新智能手机评测",
           "新款手机的相机、电池和处理器全面对比。",
           ["手机"], 5, 18),
    "t7": ("tech", "zh", "人工智能芯片取得新进展",
           "新一代处理器大幅提升机器学习计算能力。",
           ["芯片"], 9, 11),
    "t8": ("tech", "zh", "程序员最佳笔记本电脑推荐",
           "轻薄、续航长、键盘舒适，适合写代码的笔记本电脑。",
           ["笔记本"], 13, 7),
    # food
    "o1": ("food", "en", "Best sourdough bread recipes for new bakers",
           "Flour, water, salt and a lively starter for a crusty loaf.",
           ["baking"], 6, 26),
    "o2": ("food", "en", "New ramen restaurants worth the queue",
           "Rich broth, springy noodles and soft eggs in the city's newest noodle bars.",
           ["restaurants"], 3, 19),
    "o3": ("food", "en", "The best vegetarian curry recipes",
           "Chickpeas, spinach and coconut milk simmered with warm spices.",
           ["recipes"], 10, 13),
    "o4": ("food", "en", "Chocolate cake for a birthday party",
           "A rich sponge, dark ganache and fresh berries on top.",
           ["baking"], 16, 6),
    "o5": ("food", "en", "Street food: new taco trucks in town",
           "Grilled corn tortillas, slow-cooked pork and fresh salsa from the trucks.",
           ["street food"], 0, 800),
    "o6": ("food", "zh", "家常菜谱：红烧肉的做法",
           "五花肉、冰糖和酱油，小火慢炖出软糯入味的红烧肉。",
           ["菜谱"], 5, 17),
    "o7": ("food", "zh", "新开的火锅店探店",
           "牛油锅底、毛肚和鸭肠，麻辣鲜香，排队也值得。",
           ["火锅"], 2, 21),
    "o8": ("food", "zh", "面包烘焙入门教程",
           "酵母、面粉和烤箱，新手也能做出松软的面包。",
           ["烘焙"], 12, 8),
}  # fmt: skip
# Nobody in the histories touches these three: the cold-start test owns them.
FRESH_POPULAR, CLICKED_LATER, BASELINE = "o5", "t5", "t4"
ZH_FILMS = ("f6", "f7", "f8")


def item_id(key: str) -> str:
    return f"{CATALOGUE}{key}"


def category_of(hit: SearchHit) -> str:
    return str(hit.source.get("category"))


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def catalogue_rows() -> list[dict[str, Any]]:
    rows = []
    for key, (category, lang, title, body, tags, days, popularity) in ITEMS.items():
        rows.append(
            {
                "id": item_id(key),
                "title": title,
                "body": body,
                "category": category,
                "lang": lang,
                "tags": tags,
                "created_at": ago(days),
                "popularity": popularity,
            }
        )
    return rows


def user_id(name: str) -> str:
    return f"{PREFIX}{name}"


def events_for(name: str, steps: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """(type, text-or-item-key) steps, one hour apart, oldest first, ending an hour ago."""
    events = []
    for position, (kind, value) in enumerate(steps):
        event: dict[str, Any] = {
            "user": user_id(name),
            "type": kind,
            "time": ago((len(steps) - position) / 24),
        }
        if value in ITEMS:
            event["item"] = item_id(value)
        else:
            event["text"] = value
        events.append(event)
    return events


HISTORIES: dict[str, list[tuple[str, str]]] = {
    "sports": [
        ("post", "I love marathon running and I never miss a football match"),
        ("like", "s7"),
        ("search", "best running shoes for a marathon"),
        ("click", "s8"),
        ("post", "Basketball playoffs tonight, what a game, the defence was incredible"),
        ("like", "s6"),
    ],
    "film": [
        ("post", "I watch new thriller and science fiction films at the cinema every week"),
        ("like", "f7"),
        ("search", "best movies of the year"),
        ("click", "f5"),
        ("post", "That documentary about jazz musicians was a beautiful film"),
        ("like", "f8"),
    ],
    "multi": [
        ("like", "f2"),
        ("post", "Movie night with friends: we watched a science fiction film in the cinema"),
        ("like", "o1"),
        ("post", "Baked sourdough bread and cooked a spicy vegetarian curry this weekend"),
        ("like", "f8"),
        ("like", "o6"),
        ("click", "f4"),
        ("click", "o3"),
    ],
}
SEEN_KINDS = ("click", "like")


def seen_by(name: str) -> set[str]:
    return {item_id(value) for kind, value in HISTORIES[name] if kind in SEEN_KINDS}


def seed_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The built-in bilingual sample (the issue's seed example), under this file's prefix."""
    items, events = load_sample()
    rows = [{**item, "id": f"{SEED}{item['id']}"} for item in items]
    timed = []
    for event in events:
        copy = {k: v for k, v in event.items() if k != "days_ago"}
        copy["user"] = f"{SEED}{event['user']}"
        copy["time"] = ago(float(event.get("days_ago", 0)))
        if "item" in copy:
            copy["item"] = f"{SEED}{copy['item']}"
        timed.append(copy)
    return rows, sorted(timed, key=lambda e: e["time"])


SEED_SEARCHES = (("电影", "xiaoming"), ("电影", "alice"), ("new", "alice"), ("new", "bob"))
SAMPLE_SEARCHES = (
    ("best", "sports"),
    ("best", "film"),
    ("new", "multi"),
    ("new", "sports"),
    ("电影", "film"),
    ("recipes", "multi"),
)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zh(es, settings, encoder, service) -> PersonalizedSearch:
    """A service with jieba segmentation of Chinese queries (what the CLI and API build)."""
    return PersonalizedSearch(es, settings=settings, encoder=encoder, segmenter=segmented)


@pytest.fixture(scope="module")
def catalogue(service, tasks, es, settings) -> Iterator[dict[str, str]]:
    seed_items, _ = seed_rows()
    rows = catalogue_rows() + seed_items
    result = tasks.index_items(rows, batch_size=16, progress=False)
    assert result["errors"] == [] and result["indexed"] == len(rows)
    yield {key: item_id(key) for key in ITEMS}
    # The index is shared by the session: later files rank the whole catalogue.
    alias = settings.index_alias("items")
    deletes = [{"delete": {"_index": alias, "_id": row["id"]}} for row in rows]
    es.bulk(operations=deletes, refresh=True)


@pytest.fixture(scope="module")
def users(catalogue, tasks) -> dict[str, str]:
    events = [e for name, steps in HISTORIES.items() for e in events_for(name, steps)]
    _, seed_events = seed_rows()
    events += seed_events
    result = tasks.record_events(events, wait=True)
    assert result["errors"] == [] and result["applied"] == len(events)
    return {name: user_id(name) for name in HISTORIES}


@pytest.fixture()
def restore_weights(service) -> Iterator[dict[str, Any]]:
    """Put the blend back as it was (as a new version) whatever the test did."""
    before = service.weights()
    yield before
    if service.weights()["weights"] != before["weights"]:
        service.set_weights({**before["weights"], **before["params"]}, note=f"restore {RUN}")


# --- helpers ----------------------------------------------------------------------------


def ours(result: SearchResult, prefix: str = CATALOGUE) -> list[SearchHit]:
    return [hit for hit in result.hits if hit.id.startswith(prefix)]


def ids(hits: Sequence[SearchHit]) -> list[str]:
    return [hit.id for hit in hits]


def assert_components_add_up(result: SearchResult) -> None:
    assert result.hits
    for hit in result.hits:
        total = math.fsum(hit.components.values())
        assert math.isclose(total, hit.score, rel_tol=1e-5, abs_tol=1e-9), hit
        assert all(value >= 0 for value in hit.components.values()), hit


def overlap(a: Sequence[SearchHit], b: Sequence[SearchHit], k: int = 10) -> float:
    """Share of the shorter top-k list that the other top-k list also holds."""
    left, right = set(ids(a[:k])), set(ids(b[:k]))
    return len(left & right) / max(1, min(k, len(left), len(right)))


def scores_by_id(result: SearchResult) -> dict[str, float]:
    return {hit.id: hit.score for hit in result.hits}


def assert_non_increasing(values: Sequence[float]) -> None:
    for earlier, later in itertools.pairwise(values):
        assert later <= earlier * (1 + 1e-6) + 1e-9, values


def seed_user(name: str) -> str:
    return f"{SEED}{name}"


def seed_seen() -> dict[str, set[str]]:
    """Items each seed user clicked, liked or disliked."""
    _, events = seed_rows()
    seen: dict[str, set[str]] = {}
    for event in events:
        if event["type"] in (*SEEN_KINDS, "dislike") and event.get("item"):
            seen.setdefault(event["user"], set()).add(event["item"])
    return seen


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Measured numbers go to the terminal even under -q (they are printed, not asserted)."""
    with capsys.disabled():
        print(f"\n[read-path] {line}")


# --- 1. personalisation ------------------------------------------------------------------


@pytest.mark.parametrize("scorer", ["native", "portable"])
def test_search_same_query_ranks_each_users_interest_first(zh, users, scorer):
    plain = ours(zh.search("best", size=20, scorer=scorer))
    assert len({category_of(hit) for hit in plain[:10]}) >= 3  # the query spans categories

    sports = zh.search("best", user=users["sports"], size=50, scorer=scorer)
    film = zh.search("best", user=users["film"], size=50, scorer=scorer)
    assert sports.cold_start is False and film.cold_start is False
    assert [category_of(hit) for hit in ours(sports)[:3]] == ["sports"] * 3
    assert [category_of(hit) for hit in ours(film)[:3]] == ["film"] * 3
    assert ours(sports)[0].id != ours(film)[0].id
    # The same item means more to the user who likes its topic.
    top = ours(sports)[0]
    as_seen_by_film = next(hit for hit in film.hits if hit.id == top.id)
    assert top.components["interest"] > as_seen_by_film.components["interest"]


# --- 2. cold users: plain BM25 --------------------------------------------------------------


@pytest.mark.parametrize("scorer", ["native", "portable"])
def test_search_without_history_is_plain_bm25_order(zh, es, settings, users, scorer):
    query = "best new"
    # Earlier popularity updates leave deleted versions that count in BM25 statistics until a
    # merge drops them: settle the index now, not between the two rankings compared.
    es.indices.forcemerge(index=settings.index_alias("items"), max_num_segments=1)
    es.indices.refresh(index=settings.index_alias("items"))
    plain = es.search(index=settings.index_alias("items"), query=build_candidates(query), size=100)[
        "hits"
    ]["hits"]
    bm25 = {hit["_id"]: hit["_score"] for hit in plain}
    assert 10 <= len(plain) < 100
    weights = zh.weights()
    for user in (None, user_id("nobody")):
        result = zh.search(query, user=user, size=100, scorer=scorer)
        assert result.cold_start is True
        assert set(ids(result.hits)) == set(bm25)
        # Same order as Elasticsearch's own BM25 (ties may come in either order) ...
        assert_non_increasing([bm25[hit.id] for hit in result.hits])
        # ... because the score is only the saturated BM25 score.
        k, weight = weights["params"]["bm25_k"], weights["weights"]["bm25"]
        for hit in result.hits:
            s = bm25[hit.id]
            assert math.isclose(hit.score, weight * s / (s + k), rel_tol=1e-5)
            assert hit.components["bm25"] == pytest.approx(hit.score, rel=1e-5)


# --- 3. blend weights in _meta ----------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when told (the service's cache TTLs)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_set_weights_reaches_the_next_query_and_can_be_rolled_back(
    service, es, settings, encoder, users, restore_weights
):
    before = restore_weights
    clock = FakeClock()
    reader = PersonalizedSearch(es, settings=settings, encoder=encoder, clock=clock)
    personal = ids(reader.search("best", user=users["sports"], size=15).hits)
    plain = ids(reader.search("best", size=15).hits)
    assert personal != plain  # personalisation matters for this query

    only_bm25 = dict.fromkeys(before["weights"], 0.0) | {"bm25": 1.0}
    changed = service.set_weights(only_bm25, note=f"bm25 only {RUN}")
    assert changed["version"] > before["version"]
    assert changed["weights"] == only_bm25 and changed["note"] == f"bm25 only {RUN}"
    clock.advance(CONFIG_TTL_S - 0.1)  # the reader still uses the blend it cached
    assert ids(reader.search("best", user=users["sports"], size=15).hits) == personal
    clock.advance(0.2)  # now it has expired: the next query reads the new one; no restart
    after = reader.search("best", user=users["sports"], size=15)
    assert ids(after.hits) == plain
    assert all(hit.components["bm25"] == pytest.approx(hit.score) for hit in after.hits)

    versions = [entry["version"] for entry in service.weights_history()]
    assert versions == sorted(set(versions), reverse=True)  # newest first, each once
    assert versions[0] == changed["version"]
    assert service.weights_history()[1]["weights"] == pytest.approx(before["weights"])

    rolled = service.rollback_weights()
    assert rolled["version"] == changed["version"] + 1
    assert rolled["weights"] == pytest.approx(before["weights"])
    assert rolled["note"] == f"rollback to v{before['version']}"
    assert service.weights_history()[0]["version"] == rolled["version"]
    clock.advance(CONFIG_TTL_S + 0.1)
    assert ids(reader.search("best", user=users["sports"], size=15).hits) == personal


def test_invalid_weights_raise_and_change_nothing(service, es, settings, restore_weights):
    alias = settings.index_alias("items")
    meta = read_meta(es, alias)
    version = service.weights()["version"]
    zeros = dict.fromkeys(restore_weights["weights"], 0)
    cases = [
        ({"bm25": -0.5}, "weight 'bm25' must be >= 0, got -0.5"),
        ({"interest": float("nan")}, "weight 'interest' must be finite"),
        ({"query": "NaN"}, "weight 'query' must be finite"),
        ({"freshness": "lots"}, "weight 'freshness' must be a number, got 'lots'"),
        ({"speed": 1}, "unknown weight or parameter 'speed'"),
        (zeros, "at least one weight must be positive; all are 0"),
        ({"cluster_mix": 2}, "parameter 'cluster_mix' must be in [0, 1]"),
        ({}, "nothing to set"),
    ]
    for updates, message in cases:
        with pytest.raises(WeightsError, match=re.escape(message)):
            service.set_weights(updates)
        assert read_meta(es, alias) == meta, updates
    with pytest.raises(InputError, match=r"no blend version v9999 in the history"):
        service.rollback_weights(9999)
    assert read_meta(es, alias) == meta
    assert service.weights()["version"] == version


# --- 4. explanations ----------------------------------------------------------------------


@pytest.mark.parametrize("scorer", ["native", "portable"])
@pytest.mark.parametrize("mode", ["exact", "approx"])
def test_components_add_up_to_each_score(zh, users, scorer, mode):
    for name in ("sports", "multi"):
        assert_components_add_up(zh.search("best", user=users[name], scorer=scorer, mode=mode))
        assert_components_add_up(zh.search("电影", user=users[name], scorer=scorer, mode=mode))
        recommended = zh.recommend(users[name], scorer=scorer, mode=mode)
        assert_components_add_up(recommended)
        assert any(hit.components["interest"] > 0 for hit in recommended.hits)
    assert_components_add_up(zh.search("best new", scorer=scorer, mode=mode))
    assert_components_add_up(zh.recommend(user_id("nobody"), scorer=scorer, mode=mode))


# --- 5. native vs portable ----------------------------------------------------------------

# Measured on this catalogue plus the seed sample (10 searches, 6 users): overlap@10 of
# native exact and portable mean 0.84, min 0.5; native approx and portable mean 1.0, min 1.0
# (both blend lexical and knn candidates with the same formulas, while native exact blends
# the lexical matches only, so items found only by meaning, e.g. Chinese items for an English
# query, are portable-only). Recommendations: mean 0.92, min 0.8 while this module shared its
# index with others; on its own index (issue 18) 0.78, min 0.6 (6 users: 0.8 0.6 0.9 0.8 0.7
# 0.9), old and new code alike: native recommends per interest cluster with quotas, portable
# scores the whole profile in one pass. Floors leave a margin.
NATIVE_EXACT_VS_PORTABLE = (0.75, 0.5)  # (mean, min)
NATIVE_APPROX_VS_PORTABLE = (0.9, 0.8)
RECOMMEND_NATIVE_VS_PORTABLE = (0.7, 0.5)


def search_pairs(users: dict[str, str]) -> list[tuple[str, str]]:
    seeds = [(query, seed_user(name)) for query, name in SEED_SEARCHES]
    return seeds + [(query, users[name]) for query, name in SAMPLE_SEARCHES]


def test_native_and_portable_agree_on_most_of_the_top_10(zh, users, capsys):
    exact, approx = [], []
    for query, user in search_pairs(users):
        portable = zh.search(query, user=user, scorer="portable").hits
        native_exact = zh.search(query, user=user, scorer="native", mode="exact").hits
        native_approx = zh.search(query, user=user, scorer="native", mode="approx").hits
        exact.append(overlap(native_exact, portable))
        approx.append(overlap(native_approx, portable))
        # Where both rank an item, they give it the same score: one formula.
        theirs = {hit.id: hit.score for hit in portable}
        for hit in native_approx:
            if hit.id in theirs:
                assert math.isclose(hit.score, theirs[hit.id], rel_tol=1e-5), (query, hit.id)
    recommend = []
    for user in [*users.values(), *(seed_user(n) for n in ("alice", "bob", "xiaoming"))]:
        recommend.append(
            overlap(
                zh.recommend(user, scorer="native").hits, zh.recommend(user, scorer="portable").hits
            )
        )
    report(
        capsys,
        f"overlap@10 native exact vs portable: mean {statistics.mean(exact):.3f} "
        f"min {min(exact):.2f}"
        f" | native approx vs portable: mean {statistics.mean(approx):.3f} min {min(approx):.2f}"
        f" | recommend: mean {statistics.mean(recommend):.3f} min {min(recommend):.2f}"
        f" (n={len(exact)} searches, {len(recommend)} users)",
    )
    for values, (mean_floor, min_floor) in (
        (exact, NATIVE_EXACT_VS_PORTABLE),
        (approx, NATIVE_APPROX_VS_PORTABLE),
        (recommend, RECOMMEND_NATIVE_VS_PORTABLE),
    ):
        assert statistics.mean(values) >= mean_floor and min(values) >= min_floor, values


# --- 6. recommendation: nothing seen, several interests -----------------------------------


@pytest.mark.parametrize("scorer", ["native", "portable"])
@pytest.mark.parametrize("mode", ["exact", "approx"])
def test_recommend_never_returns_seen_items(zh, users, scorer, mode):
    seen = {users[name]: seen_by(name) for name in HISTORIES} | seed_seen()
    for user, items in seen.items():
        assert items  # every one of these users clicked or liked something
        result = zh.recommend(user, size=20, scorer=scorer, mode=mode)
        assert result.cold_start is False and len(result.hits) == 20
        assert not items & set(ids(result.hits)), user


@pytest.mark.parametrize("scorer", ["native", "portable"])
def test_recommend_covers_each_interest_of_a_multi_interest_user(zh, users, scorer):
    clusters = zh.interest_document(users["multi"])["clusters"]
    assert len(clusters) >= 2, clusters  # film and food did not merge into one interest
    result = zh.recommend(users["multi"], size=10, scorer=scorer)
    categories = {category_of(hit) for hit in result.hits}
    assert {"film", "food"} <= categories
    labels = {hit.cluster_label for hit in result.hits if hit.cluster_label}
    assert len(labels) >= 2, labels
    assert labels <= {cluster["label"] for cluster in clusters}


# --- 7. exact vs approximate --------------------------------------------------------------


def test_exact_and_approx_recommend_agree_on_a_small_index(zh, users, capsys):
    agreement = []
    for user in [*users.values(), *(seed_user(n) for n in ("alice", "bob", "xiaoming"))]:
        exact = zh.recommend(user, mode="exact")
        approx = zh.recommend(user, mode="approx")
        agreement.append(overlap(exact.hits, approx.hits))
        # HNSW on a few dozen vectors finds them all: the same ten items.
        assert set(ids(exact.hits)) == set(ids(approx.hits)), user
    report(capsys, f"recommend exact vs approx: overlap@10 mean {statistics.mean(agreement):.3f}")


def test_exact_and_approx_search_agree_where_their_candidates_do(zh, users, capsys):
    # A cold search scores BM25 only, so knn candidates (score 0) cannot enter the top 10.
    exact = zh.search("best new", mode="exact")
    approx = zh.search("best new", mode="approx")
    assert ids(exact.hits) == ids(approx.hits)

    # With a user, approx blends the lexical matches *and* the query's HNSW neighbours: the
    # shared items score the same, the extra ones are knn-only (bm25 0), and an exact hit
    # drops out of the top 10 only for a better-scoring extra item.
    agreement = []
    for query, user in search_pairs(users):
        exact = zh.search(query, user=user, mode="exact")
        approx = zh.search(query, user=user, mode="approx")
        agreement.append(overlap(exact.hits, approx.hits))
        exact_scores = scores_by_id(exact)
        for hit in approx.hits:
            if hit.id in exact_scores:
                assert math.isclose(hit.score, exact_scores[hit.id], rel_tol=1e-5)
            else:
                assert hit.components["bm25"] == 0.0, (query, hit.id)
        tenth = approx.hits[9].score if len(approx.hits) >= 10 else -math.inf
        kept = set(ids(approx.hits))
        for hit in exact.hits:
            if hit.id not in kept:
                assert hit.score <= tenth * (1 + 1e-6), (query, hit.id)
    report(
        capsys,
        f"search exact vs approx: overlap@10 mean {statistics.mean(agreement):.3f} "
        f"min {min(agreement):.2f} over {len(agreement)} searches",
    )


# --- 8. cold-start recommendation ---------------------------------------------------------


def test_cold_start_is_fresh_and_popular_and_clicks_raise_popularity(
    zh, tasks, es, settings, users
):
    stranger = user_id("stranger")
    for scorer in ("native", "portable"):
        result = zh.recommend(stranger, size=100, scorer=scorer)
        assert result.cold_start is True
        assert result.hits[0].id == item_id(FRESH_POPULAR)  # newest and most popular
        assert_non_increasing([hit.score for hit in result.hits])
        for hit in result.hits:
            used = {name for name, value in hit.components.items() if value > 0}
            assert used <= {"freshness", "popularity"}, hit

    def rank(key: str) -> int:
        return ids(zh.recommend(stranger, size=100).hits).index(item_id(key))

    alias = settings.index_alias("items")
    assert rank(BASELINE) < rank(CLICKED_LATER)  # same age, 3 vs 0 interactions
    clicked_before = rank(CLICKED_LATER)
    clicks = [
        {
            "user": user_id("clicker"),
            "type": "click",
            "item": item_id(CLICKED_LATER),
            "time": ago(i / 1440),
        }
        for i in range(1, 21)
    ]
    outcome = tasks.record_events(clicks, wait=True)
    assert outcome["applied"] == 20 and outcome["errors"] == []
    es.indices.refresh(index=alias)
    stored = es.get(index=alias, id=item_id(CLICKED_LATER))["_source"]["popularity"]
    assert stored == ITEMS[CLICKED_LATER][6] + 20
    assert rank(CLICKED_LATER) < rank(BASELINE)
    assert rank(CLICKED_LATER) < clicked_before
    assert zh.recommend(stranger).cold_start is True


# --- 9. bad requests ------------------------------------------------------------------------

LONG_QUERY = ("best new films " * 150)[:2000]
BAD_REQUESTS = [
    ("search", {"query": ""}, "query is empty"),
    ("search", {"query": "   "}, "query is empty"),
    ("search", {"query": LONG_QUERY}, "query is longer than 1000 characters"),
    ("search", {"query": "best", "size": 0}, "size must be an integer in [1, 10000], got 0"),
    (
        "search",
        {"query": "best", "size": 20000},
        "size must be an integer in [1, 10000], got 20000",
    ),
    ("search", {"query": "best", "mode": "fast"}, "mode must be 'exact' or 'approx', got 'fast'"),
    ("search", {"query": "best", "scorer": "x"}, "scorer must be 'native' or 'portable', got 'x'"),
    ("recommend", {"size": 0}, "size must be an integer in [1, 10000], got 0"),
    ("recommend", {"size": 20000}, "size must be an integer in [1, 10000], got 20000"),
    ("recommend", {"mode": "fast"}, "mode must be 'exact' or 'approx', got 'fast'"),
    ("recommend", {"scorer": "x"}, "scorer must be 'native' or 'portable', got 'x'"),
]


@pytest.mark.parametrize("who", ["sports", "cold"])
@pytest.mark.parametrize("scorer", ["native", "portable"])
@pytest.mark.parametrize(("kind", "arguments", "message"), BAD_REQUESTS)
def test_bad_requests_raise_clear_input_errors(zh, users, who, scorer, kind, arguments, message):
    user = users["sports"] if who == "sports" else user_id("nobody")
    call = zh.search if kind == "search" else zh.recommend
    kwargs = {"user": user, "scorer": scorer, **arguments}
    with pytest.raises(InputError, match=re.escape(message)):
        call(**kwargs)


# --- 10. Chinese queries --------------------------------------------------------------------


def test_chinese_query_finds_chinese_films_through_text_zh(zh, es, settings, encoder, users):
    alias = settings.index_alias("items")
    query = "电影"
    assert segmented(query) == query
    by_text_zh = es.search(index=alias, query={"match": {"text_zh": segmented(query)}}, size=50)
    found = {hit["_id"] for hit in by_text_zh["hits"]["hits"]}
    assert item_id("f6") in found

    result = zh.search(query, size=20)
    mine = ours(result)
    films = [i for i, hit in enumerate(mine) if category_of(hit) == "film"]
    assert {item_id(key) for key in ZH_FILMS} <= set(ids(mine))
    assert films == list(range(len(films)))  # every Chinese film before anything else
    assert all(hit.source.get("lang") == "zh" for hit in mine)

    # The segmented text_zh clause adds to BM25: more than the raw query alone gives.
    unsegmented = PersonalizedSearch(es, settings=settings, encoder=encoder)
    raw = scores_by_id(unsegmented.search(query, size=20))
    with_zh = next(hit for hit in mine if hit.id == item_id("f6"))
    assert with_zh.score > raw[item_id("f6")] * (1 + 1e-6)

    film_fan = ours(zh.search(query, user=users["film"], size=10))
    assert film_fan[0].id in {item_id(key) for key in ZH_FILMS}
