"""`interest eval --dataset thucnews|toutiao`: does a user's feed follow a known topic switch?

A seeded sample of headlines (the same share of every category) is indexed through the
workers; the other headlines are what simulated users write. Each simulated user has a
known schedule: ``PHASE_A`` events in category A, then ``PHASE_B`` in category B, then
``PHASE_RETURN`` in A again (the user returns to the old interest), alternating a post (the
text of an unindexed headline of the category) and a click (an indexed headline of the
category), one hour apart, ending now. After every event each method lists 10 items (never
one the user clicked) and the shares of categories A and B in them are recorded. Methods:

* ``dynamic-interest``: ``PersonalizedSearch.recommend`` after the event is applied;
* ``static-profile``: cosine to the mean of all the user's past event vectors (posts
  encoded as the worker does, clicks by the item's stored vector), no decay;
* ``popularity``: most clicked items so far over all simulated users (ties: a seeded
  order), the classic non-personal feed;
* ``short-term-vector`` (a diagnostic, not a recommender of its own): the items nearest to
  the short-term vector stored in the user's interest document, to tell whether the write
  path (interest maths) or the read path (retrieval and blending) holds a switch back.

Reported per method: after how many B events at least ``SWITCH_PRECISION`` of the top 10
are category B (null when it never happens within ``PHASE_B``), after how many return events
at least that share is category A again (null when not within ``PHASE_RETURN``), and the
mean precision curves. ``methods`` holds ``coverage`` and ``diversity`` of all lists shown
(the accuracy metrics of ``metrics.json`` need held-out items and do not apply here).
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from plugin.app.evaluation import report, stackio
from plugin.app.evaluation.ranking import catalogue_coverage, intra_list_diversity, mean
from plugin.errors import InputError
from plugin.settings import Settings

logger = logging.getLogger(__name__)

METHODS = ("dynamic-interest", "static-profile", "popularity", "short-term-vector")
DEFAULT_ITEMS = 1500
DEFAULT_PAIRS = 6
DEFAULT_SEED = 7
PHASE_A = 20
PHASE_B = 15
PHASE_RETURN = 10
TOP = 10
SWITCH_PRECISION = 0.6
STEP = timedelta(hours=1)
FOLDERS = {"thucnews": "thucnews-titles-subset", "toutiao": "toutiao-news-cat-subset"}


@dataclass(frozen=True)
class Corpus:
    """Indexed headlines (id -> category, text) and unindexed ones to post, by category."""

    categories: dict[str, str]
    titles: dict[str, str]
    posts: dict[str, list[str]]
    prefix: str


def headlines_parent(dataset: str, data_dir: str | Path) -> Path:
    """The folder that holds the dataset's folder: ``data_dir`` or, if it is that folder, its
    parent."""
    base = Path(data_dir).expanduser()
    return base.parent if base.name == FOLDERS[dataset] else base


def build_corpus(rows: Sequence[tuple[str, str]], *, dataset: str, items: int, seed: int) -> Corpus:
    """Split headlines into an indexed sample (``items`` in all, even per category) and the
    rest (post texts); ids are ``<dataset>-<row number>``."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, (_, label) in enumerate(rows):
        by_class[label].append(index)
    if len(by_class) < 2:
        raise InputError(f"{dataset}: need at least two categories, found {len(by_class)}")
    per_class = max(1, items // len(by_class))
    rng = random.Random(seed)
    categories, titles, posts = {}, {}, {}
    for label in sorted(by_class):
        members = list(by_class[label])
        rng.shuffle(members)
        for index in members[:per_class]:
            item = f"{dataset}-{index}"
            categories[item], titles[item] = label, rows[index][0]
        posts[label] = [rows[i][0] for i in members[per_class:]]
    return Corpus(categories=categories, titles=titles, posts=posts, prefix=f"{dataset}-")


def schedule_pairs(labels: Sequence[str], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (A, B) pairs of distinct categories, no category used twice while possible."""
    order = sorted(labels)
    random.Random(seed).shuffle(order)
    pairs = [(order[i], order[i + 1]) for i in range(0, len(order) - 1, 2)]
    while len(pairs) < count:
        a, b = random.Random(seed + len(pairs)).sample(order, 2)
        pairs.append((a, b))
    return pairs[:count]


def user_events(
    corpus: Corpus, pair: tuple[str, str], user: str, *, end: datetime, seed: int
) -> list[dict[str, Any]]:
    """The schedule of one user: PHASE_A events in A, PHASE_B in B, then PHASE_RETURN in A,
    post/click alternating."""
    rng = random.Random(f"{seed}-{user}")
    total = PHASE_A + PHASE_B + PHASE_RETURN
    clicks = {
        label: rng.sample(
            [i for i, c in sorted(corpus.categories.items()) if c == label], (total + 1) // 2
        )
        for label in pair
    }
    posts = {label: rng.sample(corpus.posts[label], total // 2 + 1) for label in pair}
    events = []
    for step in range(total):
        label = pair[1] if PHASE_A <= step < PHASE_A + PHASE_B else pair[0]
        moment = end - STEP * (total - 1 - step)
        event: dict[str, Any] = {"user": user, "time": moment.isoformat()}
        if step % 2 == 0:
            event.update(type="post", text=posts[label].pop())
        else:
            event.update(type="click", item=clicks[label].pop())
        events.append(event)
    return events


@dataclass
class Trace:
    """Per method: the top-10 lists after each event and the category-B precision."""

    lists: dict[str, list[list[str]]] = field(default_factory=lambda: defaultdict(list))
    precision_b: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    precision_a: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def precision(ranked: Sequence[str], categories: Mapping[str, str], label: str) -> float:
    """Share of the top 10 in category ``label`` (missing slots count as misses)."""
    return sum(1 for item in ranked[:TOP] if categories.get(item) == label) / TOP


def events_to_switch(curve_b: Sequence[float]) -> int | None:
    """How many B events until precision@10 for B ≥ SWITCH_PRECISION (None: never)."""
    return _first_reaching(curve_b[PHASE_A : PHASE_A + PHASE_B])


def events_to_return(curve_a: Sequence[float]) -> int | None:
    """How many events back in A until precision@10 for A ≥ SWITCH_PRECISION again (None:
    not within PHASE_RETURN)."""
    return _first_reaching(curve_a[PHASE_A + PHASE_B :])


def _first_reaching(curve: Sequence[float]) -> int | None:
    for count, value in enumerate(curve, start=1):
        if value >= SWITCH_PRECISION:
            return count
    return None


def run(
    settings: Settings,
    *,
    dataset: str,
    data_dir: Path,
    out_dir: Path,
    items: int = DEFAULT_ITEMS,
    pairs: int = DEFAULT_PAIRS,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the drift simulation on the running stack; write and return ``metrics.json``."""
    import time

    from plugin.app.evaluation.datasets import load_headlines
    from plugin.encoder import load_encoder
    from plugin.service import open_service
    from tasks.client import TaskClient

    started = time.perf_counter()
    rows = load_headlines(dataset, headlines_parent(dataset, data_dir))
    corpus = build_corpus(rows, dataset=dataset, items=items, seed=seed)
    schedule = schedule_pairs(sorted(corpus.posts), pairs, seed)
    encoder = load_encoder(settings)
    with open_service(settings, need_encoder=False) as service, TaskClient(settings) as tasks:
        service.init_indices()
        es, alias = service.es, service.items_alias
        item_rows = [
            {"id": i, "title": corpus.titles[i], "category": c, "lang": "zh"}
            for i, c in corpus.categories.items()
        ]
        todo = stackio.rows_to_index(item_rows, stackio.stored_hashes(es, alias, corpus.prefix))
        if todo:
            tasks.index_items(todo, batch_size=settings.encode_batch, progress=progress)
        # As the daily beat task would: a category model from the labelled items, so the
        # simulated users' posts get a category like their clicks.
        trained = tasks.wait(tasks.send("tasks.training.retrain_categories"))
        logger.info("category model v%s (%s categories)", trained.get("version"),
                    trained.get("categories"))  # fmt: skip
        logger.info("similarity calibration: %s", tasks.calibrate())
        ids = sorted(corpus.categories)
        vectors = stackio.fetch_vectors(es, alias, ids)
        filters = _filters(es, alias, corpus)
        index_s = time.perf_counter() - started
        traces = []
        popularity: Counter[str] = Counter()
        tie_order = {item: r for r, item in enumerate(random.Random(seed).sample(ids, len(ids)))}
        for number, pair in enumerate(schedule):
            user = f"drift-{dataset}-{number}"
            if service.interest_document(user) is not None:
                service.forget(user)
            events = user_events(corpus, pair, user, end=datetime.now(UTC), seed=seed)
            traces.append(
                _simulate(
                    service, tasks, encoder, events, pair, corpus, ids, vectors, filters,
                    popularity, tie_order, progress=progress,
                )
            )  # fmt: skip
    payload = _payload(dataset, corpus, schedule, traces, ids, vectors, seed)
    payload["seconds"] = {
        "index_items": round(index_s, 1),
        "total": round(time.perf_counter() - started, 1),
    }
    _write(out_dir, payload)
    return payload


def _filters(es: Any, alias: str, corpus: Corpus) -> Any:
    """Only this corpus's items: its categories, minus other items that share one."""
    from plugin.types import SearchFilters

    labels = tuple(sorted(corpus.posts))
    return SearchFilters(
        categories=labels,
        exclude_ids=tuple(stackio.foreign_ids(es, alias, corpus.prefix, labels)),
    )


def _simulate(
    service: Any,
    tasks: Any,
    encoder: Any,
    events: Sequence[dict[str, Any]],
    pair: tuple[str, str],
    corpus: Corpus,
    ids: Sequence[str],
    vectors: np.ndarray,
    filters: Any,
    popularity: Counter[str],
    tie_order: Mapping[str, int],
    *,
    progress: bool,
) -> Trace:
    from tqdm import tqdm

    position = {item: i for i, item in enumerate(ids)}
    trace = Trace()
    history: list[np.ndarray] = []
    clicked: set[str] = set()
    label = f"{pair[0]} -> {pair[1]}"
    for event in tqdm(events, desc=label, unit="event", disable=not progress, leave=False):
        result = tasks.record_events([event], batch_size=1, wait=True)
        if result["errors"]:
            raise InputError(f"event refused: {result['errors'][0]['error']}")
        if event["type"] == "post":
            history.append(encoder.encode([event["text"]], kind="query")[0])
        else:
            clicked.add(event["item"])
            popularity[event["item"]] += 1
            history.append(vectors[position[event["item"]]])
        recs = service.recommend(event["user"], size=TOP, filters=filters)
        centre = np.mean(history, axis=0)
        scores = vectors @ (centre / np.linalg.norm(centre))
        short = (service.interest_document(event["user"]) or {}).get("short_term")
        lists = {
            "dynamic-interest": [hit.id for hit in recs.hits],
            "static-profile": _best(scores, ids, clicked),
            "popularity": sorted(
                (i for i in ids if i not in clicked), key=lambda i: (-popularity[i], tie_order[i])
            )[:TOP],
            "short-term-vector": _best(vectors @ np.asarray(short), ids, clicked) if short else [],
        }
        for method, ranked in lists.items():
            trace.lists[method].append(ranked)
            trace.precision_b[method].append(precision(ranked, corpus.categories, pair[1]))
            trace.precision_a[method].append(precision(ranked, corpus.categories, pair[0]))
    return trace


def _best(scores: np.ndarray, ids: Sequence[str], exclude: set[str]) -> list[str]:
    ranked = []
    for index in np.argsort(-scores, kind="stable"):
        if ids[index] not in exclude:
            ranked.append(ids[index])
            if len(ranked) == TOP:
                break
    return ranked


def _payload(
    dataset: str,
    corpus: Corpus,
    schedule: Sequence[tuple[str, str]],
    traces: Sequence[Trace],
    ids: Sequence[str],
    vectors: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    position = {item: i for i, item in enumerate(ids)}
    methods: dict[str, dict[str, float]] = {}
    drift: dict[str, Any] = {}
    for method in METHODS:
        shown = [ranked for t in traces for ranked in t.lists[method]]
        methods[method] = {
            "coverage": round(catalogue_coverage(shown, len(ids), TOP), 4),
            "diversity": round(
                mean(
                    intra_list_diversity(vectors[[position[i] for i in r]]) if len(r) > 1 else None
                    for r in shown
                ),
                4,
            ),
        }
        switches = [events_to_switch(t.precision_b[method]) for t in traces]
        reached = [s for s in switches if s is not None]
        returns = [events_to_return(t.precision_a[method]) for t in traces]
        back = [r for r in returns if r is not None]
        drift[method] = {
            "events_to_switch": {
                f"{a} -> {b}": s for (a, b), s in zip(schedule, switches, strict=True)
            },
            "switched_pairs": len(reached),
            "mean_events_to_switch": round(mean(float(s) for s in reached), 2) if reached else None,
            "events_to_return": {
                f"{a} -> {b}": r for (a, b), r in zip(schedule, returns, strict=True)
            },
            "returned_pairs": len(back),
            "mean_events_to_return": round(mean(float(r) for r in back), 2) if back else None,
            "precision_b": _mean_curve([t.precision_b[method] for t in traces]),
            "precision_a": _mean_curve([t.precision_a[method] for t in traces]),
        }
    return {
        "dataset": dataset,
        "split": f"drift simulation: {len(ids)} indexed headlines ({len(corpus.posts)} "
        f"categories, seed {seed}); {len(schedule)} users, each {PHASE_A} events in category "
        f"A, then {PHASE_B} in B, then {PHASE_RETURN} in A again (post/click alternating); "
        f"precision@{TOP} for A and B after each event; no held-out items, so only coverage "
        "and diversity are in methods",
        "methods": methods,
        "drift": {
            "pairs": [list(p) for p in schedule],
            "phase_a": PHASE_A,
            "phase_b": PHASE_B,
            "phase_return": PHASE_RETURN,
            "switch_precision": SWITCH_PRECISION,
            "methods": drift,
        },
    }


def _count(value: float | None, limit: int | None) -> str:
    """A count for the report: '>limit' (or '–' without a limit) when it never happened."""
    if value is None:
        return f">{limit}" if limit is not None else "–"
    return f"{value:g}"


def _mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    return [round(float(np.mean(values)), 4) for values in zip(*curves, strict=True)]


def _write(out_dir: Path, payload: dict[str, Any]) -> None:
    report.write_metrics(out_dir, payload)
    drift = payload["drift"]["methods"]
    for side, label in (("b", "B (the new interest)"), ("a", "A (the old interest)")):
        report.line_chart(
            {m: drift[m][f"precision_{side}"] for m in METHODS},
            out_dir / f"drift_precision_{side}.png",
            title=f"{payload['dataset']}: share of category {label} in the top 10",
            xlabel=f"events (A for 1-{PHASE_A}, B to {PHASE_A + PHASE_B}, then A)",
            ylabel=f"precision@10 for {side.upper()}",
            marker_x=(PHASE_A + 0.5, PHASE_A + PHASE_B + 0.5),
        )
    checkpoints = (3, 5, 10, PHASE_B)
    rows = [
        "| method | pairs switched | mean events to switch | "
        + " | ".join(f"B share after {n} B events" for n in checkpoints)
        + " | pairs returned | mean events to return | per pair (switch, return) |",
        "|---|---:|---:|" + "---:|" * len(checkpoints) + "---:|---:|---|",
    ]
    for method in METHODS:
        d = drift[method]
        per_pair = ", ".join(
            f"{pair}: {_count(n, PHASE_B)}, {_count(d['events_to_return'][pair], PHASE_RETURN)}"
            for pair, n in d["events_to_switch"].items()
        )
        shares = " | ".join(f"{d['precision_b'][PHASE_A + n - 1]:.2f}" for n in checkpoints)
        rows.append(
            f"| {method} | {d['switched_pairs']}/{len(d['events_to_switch'])} | "
            f"{_count(d['mean_events_to_switch'], None)} | {shares} | "
            f"{d['returned_pairs']}/{len(d['events_to_return'])} | "
            f"{_count(d['mean_events_to_return'], None)} | {per_pair} |"
        )
    lines = [
        f"# Interest drift on {payload['dataset']}",
        "",
        payload["split"] + ".",
        "",
        f"Events after the switch until at least {int(SWITCH_PRECISION * TOP)} of the top "
        f"{TOP} are category B, and after the return until as many are category A again:",
        "",
        *rows,
        "",
        *report.metrics_table(payload["methods"], ("coverage", "diversity")),
        "",
        f"Seconds: {payload['seconds']}.",
        "",
        "![precision for B](drift_precision_b.png)",
        "",
        "![precision for A](drift_precision_a.png)",
    ]
    report.write_markdown(out_dir, lines)
