"""`interest eval --dataset movielens`: next-item prediction on a per-user time split.

On the running stack: movies are indexed through the workers, each evaluated user's
training events are replayed through the workers in time order (``plugin.app.evaluation.movielens``
explains the split and the clock shift), then every method lists 20 items per user,
leaving out the items the user rated or tagged in training:

* ``dynamic-interest``: ``PersonalizedSearch.recommend`` with the weights in ``_meta``
  (approximate retrieval, the service's default); ``-exact``: every item scored;
* ``popularity``: most positive ratings in all users' training events;
* ``recent-popularity``: most positives in the 90 days before the user's cutoff (filled
  up from ``popularity`` when that window has too few);
* ``static-profile``: cosine to the mean vector of the user's training likes (no decay);
* ``bm25-tags``: the user's training tags as one BM25 query over title and body
  (empty for users without tags, who are most users: see ``tag_users`` in the output);
* ``item-cooccurrence``: item kNN (cosine, 50 neighbours) on the training like matrix;
* ``ease``, ``ials``, ``rp3beta``, ``itemknn``, ``puresvd``: the strongest standard
  recommenders, each tuned on a validation split carved from the training events only
  (``plugin.app.evaluation.strong``; the chosen parameters are in ``metrics.json``).

Only the evaluated users' events are replayed; the items' ``popularity`` counter starts at
the other users' training clicks and likes, so after the replay it counts exactly the
training clicks and likes of all users, as a full replay would. The other users' training
events are also stored as history (``user_events``, users ``movielens-history-*``), so the
collaborative factors and the item neighbours are fitted on every user's training part, the
data the strong baselines are fitted on.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from plugin.app.evaluation import baselines, eval_search, report, stackio, strong
from plugin.app.evaluation.movielens import (
    ITEM_PREFIX,
    USER_PREFIX,
    Split,
    build_split,
    dataset_folder,
    item_rows,
    leaks,
    load_movielens,
    task_events,
)
from plugin.app.evaluation.ranking import genre_diversity, mean
from plugin.app.evaluation.scoring import LIST_SIZE, UserLists, all_metrics, list_sizes, subset
from plugin.app.evaluation.strong import STRONG_METHODS
from plugin.errors import InputError
from plugin.queries import CANDIDATE_SOURCES
from plugin.settings import Settings

logger = logging.getLogger(__name__)

METHODS = (
    "dynamic-interest",
    "dynamic-interest-exact",
    "dynamic-interest-no-collab",
    "popularity",
    "recent-popularity",
    "static-profile",
    "bm25-tags",
    "item-cooccurrence",
    *STRONG_METHODS,
)
# Measured on the 2-core machine while other jobs shared it (load ~5): 100 users (14,213
# training events) replay in 6.6 min and rank in 0.7 min; the first run also indexes the
# 9,742 movies (12 min there; later runs skip unchanged items). All 609 users replay 79k
# events, about 40 min: `--users 0`.
DEFAULT_USERS = 100
DEFAULT_SEED = 7
REPLAY_BATCH = 1000
# Hits logged per user as impressions for `interest weights fit` (more than the lists, so a
# learned blend can lift items the default one ranks below the cut).
# Users ranked at once (threads: the work is requests to Elasticsearch).
RANK_THREADS = 4
POPULARITY_KINDS = ("click", "like")
# Users of the other users' stored history (never ranked for, no interest documents).
HISTORY_PREFIX = "movielens-history-"
ACCURACY = ("ndcg@10", "recall@10", "recall@20", "mrr")
BEYOND = ("coverage", "diversity")


def sample_users(split: Split, count: int | None, seed: int) -> list[str]:
    """``count`` users drawn with ``random.Random(seed)`` (all when None or too many)."""
    everyone = sorted(split.users, key=_user_key)
    if count is None or count >= len(everyone):
        return everyone
    if count < 1:
        raise InputError(f"--users must be positive, got {count}")
    return sorted(random.Random(seed).sample(everyone, count), key=_user_key)


def _user_key(user: str) -> tuple[int, str]:
    return (int(user), user) if user.isdigit() else (sys.maxsize, user)


class Catalogue:
    """The dataset's items in one order, with their vectors and genres."""

    def __init__(self, ids: Sequence[str], vectors: np.ndarray, genres: Sequence[Sequence[str]]):
        self.ids = list(ids)
        self.vectors = vectors
        self.genres = genres
        self.position = {item: i for i, item in enumerate(self.ids)}
        # Training positives per item (set once the split is known): a popularity lens.
        self.positives = np.zeros(len(self.ids))

    def positions(self, items: Sequence[str]) -> np.ndarray:
        return np.asarray([self.position[i] for i in items if i in self.position], dtype=int)

    def vectors_of(self, items: Sequence[str]) -> np.ndarray:
        chosen: np.ndarray = self.vectors[self.positions(items)]
        return chosen


def run(
    settings: Settings,
    *,
    data_dir: Path,
    out_dir: Path,
    users: int | None = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    variants: Mapping[str, Mapping[str, float]] | None = None,
    retune: bool = False,
    validation: bool = False,
    ablate_sources: bool = False,
) -> dict[str, Any]:
    """Run the evaluation on the running stack; write and return ``metrics.json``'s content.

    ``variants``: extra methods, ``name -> weight overrides``, ranked like ``dynamic-interest``
    on the same replayed state (what-if weights; ``_meta`` is not touched). ``retune``: tune
    the strong baselines again even when this dataset's tuning is stored. ``validation``:
    the split is ``strong.validation_split`` of the time split (each user's last 20% of
    training positives are the held-out part), so choices made on it never see the test part.
    ``ablate_sources``: also rank without each approximate candidate source in turn
    (``dynamic-interest-without-<source>``), to measure what each adds.
    """
    from plugin.service import open_service
    from tasks.client import TaskClient

    started = time.perf_counter()
    seconds: dict[str, float] = {}
    data = load_movielens(data_dir)
    split = build_split(e for e in data.events if e.item in data.movies)
    tuning = split  # the strong baselines are tuned on its validation split either way
    if validation:
        split = strong.validation_split(split)
    chosen = sample_users(split, users, seed)
    replayed = split.training_events(chosen)
    bad = leaks(split, replayed)
    if bad:
        raise InputError(f"{len(bad)} replayed events are at/after a cutoff, e.g. {bad[0]}")
    rows = item_rows(data.movies)
    ids = [str(row["id"]) for row in rows]
    mark = time.perf_counter()
    strong_lists, tuned = _strong_lists(
        settings, data_dir, split, chosen, data, retune=retune, tuning=tuning
    )
    seconds["strong_baselines"] = round(time.perf_counter() - mark, 1)
    with open_service(settings, need_encoder=False) as service, TaskClient(settings) as tasks:
        service.init_indices()
        es, alias = service.es, service.items_alias
        mark = time.perf_counter()
        todo = stackio.rows_to_index(rows, stackio.stored_hashes(es, alias, ITEM_PREFIX))
        if todo:
            outcome = tasks.index_items(todo, batch_size=settings.encode_batch, progress=progress)
            if outcome["errors"]:
                raise InputError(f"{len(outcome['errors'])} movies failed to index")
        seconds["index_items"] = round(time.perf_counter() - mark, 1)
        logger.info("indexed %d of %d movies", len(todo), len(rows))
        # As the daily beat task would: the similarity calibration of this catalogue.
        logger.info("similarity calibration: %s", tasks.calibrate())
        foreign = tuple(stackio.foreign_ids(es, alias, ITEM_PREFIX))
        if foreign:
            logger.warning("%d items of other datasets are in the index; excluded", len(foreign))
        catalogue = Catalogue(
            ids, stackio.fetch_vectors(es, alias, ids), [m.genres for m in data.movies.values()]
        )
        mark = time.perf_counter()
        _reset_popularity(es, alias, split, chosen, ids)
        _replay(tasks, service, split, chosen, progress=progress)
        seconds["replay_events"] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()
        stored = stackio.replace_history(
            es,
            settings.index_alias("user_events"),
            HISTORY_PREFIX,
            _history(split, sorted(set(split.users) - set(chosen))),
        )
        seconds["store_history"] = round(time.perf_counter() - mark, 1)
        logger.info("stored %d history events of the other users", stored)
        # Factors from the replayed (training) events only, then every user rebuilt with them.
        mark = time.perf_counter()
        collab = tasks.refit_collab()
        seconds["collab_refit"] = round(time.perf_counter() - mark, 1)
        if "skipped" in collab:
            logger.warning("no collaborative factors: %s", collab["skipped"])
        mark = time.perf_counter()
        neighbours = tasks.refit_neighbours()
        seconds["neighbours_refit"] = round(time.perf_counter() - mark, 1)
        if "skipped" in neighbours:
            logger.warning("no item neighbours: %s", neighbours["skipped"])
        service.blend_config(fresh=True)  # the new factors' and neighbours' versions, now
        mark = time.perf_counter()
        feedback: list[dict[str, Any]] = []
        evaluated = _rank_all(
            service,
            split,
            chosen,
            catalogue,
            foreign,
            progress=progress,
            variants=variants or {},
            feedback=feedback,
            precomputed=strong_lists,
            ablations=CANDIDATE_SOURCES if ablate_sources else (),
        )
        seconds["rank"] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()
        genres = {movie: m.genres for movie, m in data.movies.items()}
        search = eval_search.run(service, split, chosen, genres, foreign, seed=seed)
        seconds["search"] = round(time.perf_counter() - mark, 1)
    seconds["total"] = round(time.perf_counter() - started, 1)
    ablated = tuple(f"dynamic-interest-without-{s}" for s in CANDIDATE_SOURCES)
    methods = (*METHODS, *(variants or {}), *(ablated if ablate_sources else ()))
    payload = _payload(
        split, chosen, evaluated, catalogue, replayed, seconds, users, seed, methods=methods
    )
    if variants:
        payload["variants"] = {name: dict(weights) for name, weights in variants.items()}
    payload["collab"] = collab  # factors: version, sizes, fit and write seconds
    payload["neighbours"] = neighbours
    payload["search"] = search  # personalised search vs BM25 on genre queries
    if validation:
        payload["validation"] = True
        payload["split"] = (
            "VALIDATION (training events only, test part unread): " + payload["split"]
        )
    payload["tuned"] = tuned  # the strong baselines' parameters, chosen on validation
    _write(out_dir, payload)
    _write_lists(out_dir, evaluated)
    # Impressions with components and the future likes as clicks: input for
    # `interest weights fit --from-log DIR/feedback.jsonl` (split by user, held-out NDCG).
    with (out_dir / "feedback.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(doc) + "\n" for doc in feedback)
    return payload


def _strong_lists(
    settings: Settings,
    data_dir: Path,
    split: Split,
    chosen: Sequence[str],
    data: Any,
    *,
    retune: bool,
    tuning: Split,
) -> tuple[dict[str, dict[str, list[str]]], dict[str, Any]]:
    """Each strong baseline's list per chosen user, fitted on every user's training part
    with the parameters tuned on validation (stored per dataset, reused by later runs)."""
    movie_ids = list(data.movies)  # the catalogue order of ``item_rows``
    position = {movie: i for i, movie in enumerate(movie_ids)}
    fingerprint = strong.dataset_fingerprint(
        path for path in dataset_folder(data_dir).iterdir() if path.suffix == ".csv"
    )
    store = strong.TunedStore(settings.prefix_state_dir / "eval")
    tuned = strong.tuned_for(store, fingerprint, tuning, position, len(movie_ids), retune=retune)
    interactions = strong.positives_matrix(split, position, len(movie_ids))
    lists: dict[str, dict[str, list[str]]] = {user: {} for user in chosen}
    for method in STRONG_METHODS:
        scorer = strong.fit(method, interactions.matrix, tuned[method]["params"])
        ranked = strong.rank_users(scorer, interactions, split, chosen, position, LIST_SIZE)
        for user, items in ranked.items():
            lists[user][method] = [ITEM_PREFIX + movie_ids[i] for i in items]
    return lists, {"fingerprint": fingerprint, "methods": tuned}


def _history(split: Split, users: Sequence[str]) -> list[dict[str, Any]]:
    """The training item events of ``users`` in the stored event shape (original times)."""
    return [
        {
            "user": HISTORY_PREFIX + event.user,
            "type": event.kind,
            "item_id": ITEM_PREFIX + event.item,
            "time": datetime.fromtimestamp(event.time, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        for event in split.training_events(users)
        if event.kind != "post"
    ]


def _reset_popularity(
    es: Any, alias: str, split: Split, chosen: Sequence[str], ids: Sequence[str]
) -> None:
    others = set(split.users) - set(chosen)
    counts = Counter(
        ITEM_PREFIX + e.item
        for e in split.training_events(sorted(others))
        if e.kind in POPULARITY_KINDS
    )
    stackio.set_popularity(es, alias, {item: counts.get(item, 0) for item in ids})


def _replay(
    tasks: Any, service: Any, split: Split, chosen: Sequence[str], *, progress: bool
) -> None:
    """Each user's training events through the workers, in time order, ≤ REPLAY_BATCH a task."""
    anchor = datetime.now(UTC)
    total = sum(len(split.users[u].train) for u in chosen)
    errors = 0
    # A previous run's state of these users, erased in a few requests for all of them.
    forgotten = service.forget_many([USER_PREFIX + user for user in chosen])
    logger.info(
        "erased a previous run's state of %d users",
        sum(1 for counts in forgotten.values() if any(counts.values())),
    )
    # Whole users per batch where they fit: a worker folds each user's events of a batch in
    # one read and one write. Batches go out together; one flush and refresh at the end.
    batch: list[dict[str, Any]] = []
    batches: list[list[dict[str, Any]]] = []
    for user in chosen:
        events = task_events(split.users[user], anchor=anchor)
        if batch and len(batch) + len(events) > REPLAY_BATCH:
            batches.append(batch)
            batch = []
        batch.extend(events)
    if batch:
        batches.append(batch)
    result = tasks.record_batches(batches, wait=True, progress=progress)
    logger.info("replayed %d events in %.1fs", total, result.get("seconds", 0.0))
    errors = len(result["errors"])
    if errors:
        logger.warning("%d replayed events were refused, e.g. %s", errors, result["errors"][0])
    tasks.refresh("items")


def _rank_all(
    service: Any,
    split: Split,
    chosen: Sequence[str],
    catalogue: Catalogue,
    foreign: tuple[str, ...],
    *,
    progress: bool,
    variants: Mapping[str, Mapping[str, float]],
    feedback: list[dict[str, Any]] | None = None,
    precomputed: Mapping[str, Mapping[str, list[str]]] | None = None,
    ablations: Sequence[str] = (),
) -> list[UserLists]:
    from tqdm import tqdm

    from plugin.types import SearchFilters

    ids = catalogue.ids
    likes = [e for e in split.training_events() if e.positive]
    like_items = catalogue.positions([ITEM_PREFIX + e.item for e in likes])
    popular_scores = baselines.positive_counts(like_items, len(ids))
    catalogue.positives = popular_scores
    recent = baselines.RecentPopularity(np.asarray([e.time for e in likes]), like_items, len(ids))
    user_index = {user: i for i, user in enumerate(sorted(split.users))}
    matrix = sp.csr_matrix(
        (np.ones(len(likes)), ([user_index[e.user] for e in likes], like_items)),
        shape=(len(user_index), len(ids)),
    )
    knn = baselines.ItemKnn(matrix)
    version = service.blend_config().version

    def rank(user: str) -> tuple[UserLists, list[dict[str, Any]]]:
        own = split.users[user]
        exclude = {ITEM_PREFIX + item for item in own.train_items}
        liked = catalogue.positions([ITEM_PREFIX + e.item for e in own.train if e.positive])
        filters = SearchFilters(exclude_ids=(*sorted(exclude), *foreign))
        result = service.recommend(USER_PREFIX + user, size=LIST_SIZE, filters=filters)
        exact = service.recommend(USER_PREFIX + user, size=LIST_SIZE, filters=filters, mode="exact")
        no_collab = service.recommend(
            USER_PREFIX + user, size=LIST_SIZE, filters=filters, weights={"collaborative": 0.0}
        )
        popular = baselines.top_ids(popular_scores, ids, exclude, LIST_SIZE)
        profile = baselines.profile_scores(liked, catalogue.vectors)
        lists = {
            "dynamic-interest": [hit.id for hit in result.hits],
            "dynamic-interest-exact": [hit.id for hit in exact.hits],
            "dynamic-interest-no-collab": [hit.id for hit in no_collab.hits],
            "popularity": popular,
            "recent-popularity": baselines.fill(
                baselines.top_ids(recent.counts(own.cutoff), ids, exclude, LIST_SIZE),
                popular,
                LIST_SIZE,
            ),
            "static-profile": []
            if profile is None
            else baselines.top_ids(profile, ids, exclude, LIST_SIZE),
            "bm25-tags": _bm25(service, own.train, exclude),
            "item-cooccurrence": baselines.top_ids(knn.scores(liked), ids, exclude, LIST_SIZE),
            **(precomputed or {}).get(user, {}),
        }
        for source in ablations:
            kept = [other for other in CANDIDATE_SOURCES if other != source]
            without = service.recommend(
                USER_PREFIX + user, size=LIST_SIZE, filters=filters, sources=kept
            )
            lists[f"dynamic-interest-without-{source}"] = [hit.id for hit in without.hits]
        for name, weights in variants.items():
            ranked = service.recommend(
                USER_PREFIX + user, size=LIST_SIZE, filters=filters, weights=weights
            )
            lists[name] = [hit.id for hit in ranked.hits]
        test = frozenset(ITEM_PREFIX + item for item in own.test)
        # The impressions logged are the list served, as the API logs what it serves (a
        # separate 50-hit request cost as much as the two 20-hit ones together).
        logged_docs = feedback_docs(user, result.hits, test, weights_version=version)
        lists_of_user = UserLists(user=user, test=test, lists=lists, cold_start=result.cold_start)
        return lists_of_user, logged_docs

    # Users ranked side by side: each waits on Elasticsearch for most of its time, so a few
    # in flight keep the node busy (the order of the results is the order of ``chosen``).
    evaluated = []
    with ThreadPoolExecutor(max_workers=RANK_THREADS) as pool:
        ranked_users = pool.map(rank, chosen)
        for lists_of_user, logged_docs in tqdm(
            ranked_users, total=len(chosen), desc="ranking", unit="user", disable=not progress
        ):
            evaluated.append(lists_of_user)
            if feedback is not None:
                feedback.extend(logged_docs)
    return evaluated


def _bm25(service: Any, train: Sequence[Any], exclude: set[str]) -> list[str]:
    tags = [e.text for e in train if e.kind == "post" and e.text]
    body = baselines.build_bm25_body(tags, exclude=exclude, id_prefix=ITEM_PREFIX, size=LIST_SIZE)
    if body is None:
        return []
    response = service.es.search(index=service.items_alias, body=body)
    return [hit["_id"] for hit in response["hits"]["hits"]]


def _payload(
    split: Split,
    chosen: Sequence[str],
    evaluated: Sequence[UserLists],
    catalogue: Catalogue,
    replayed: Sequence[Any],
    seconds: dict[str, float],
    users: int | None,
    seed: int,
    *,
    methods: Sequence[str] = METHODS,
) -> dict[str, Any]:
    def metrics(group: Sequence[UserLists]) -> dict[str, dict[str, float]]:
        return all_metrics(
            group, methods, catalogue_size=len(catalogue.ids), vectors_of=catalogue.vectors_of
        )

    tag_users = {u for u in chosen if any(e.kind == "post" for e in split.users[u].train)}
    sample = "all" if len(chosen) == len(split.users) else f"a random sample (seed {seed})"
    genres = {item: catalogue.genres[i] for item, i in catalogue.position.items()}
    return {
        "dataset": "movielens",
        "split": f"{split.describe()}; {len(chosen)} of {len(split.users)} users evaluated "
        f"({sample}); each method lists {LIST_SIZE} items, excluding the user's training items",
        "methods": metrics(evaluated),
        "users": len(chosen),
        "users_total": len(split.users),
        "seed": seed,
        "requested_users": users,
        "replayed_events": len(replayed),
        "test_items": sum(len(u.test) for u in evaluated),
        "cold_start_users": sum(1 for u in evaluated if u.cold_start),
        "mean_list_size": {m: round(list_sizes(evaluated, m), 2) for m in methods},
        "genre_diversity": {
            m: round(
                mean(genre_diversity([genres[i] for i in u.lists[m][:10]]) for u in evaluated), 4
            )
            for m in methods
        },
        # How mainstream each method is: training positives of its top-10 items, on average.
        "mean_item_positives": {
            m: round(
                mean(
                    float(np.mean(catalogue.positives[catalogue.positions(u.lists[m][:10])]))
                    for u in evaluated
                    if u.lists[m]
                ),
                2,
            )
            for m in methods
        },
        "tag_users": {"users": len(tag_users), "methods": metrics(subset(evaluated, tag_users))},
        "notes": {
            "metrics": "recall@k = hits in top k / test items; ndcg@10 binary gains; mrr = "
            "1/rank of the first hit within 20; coverage = share of the catalogue in any "
            "user's top 10; diversity = 1 - mean pairwise cosine of the top 10's item "
            "embeddings (genre_diversity: 1 - mean pairwise Jaccard of genre sets)",
            "item_text": "title + genres; user tags are events (posts), not item text, so no "
            "user's future tags leak into the shared catalogue",
            "clock": "each user's events are shifted by one constant so the cutoff falls at "
            "the replay's wall-clock time; the service ranks at wall-clock time",
        },
        "seconds": seconds,
    }


def feedback_docs(
    user: str, hits: Sequence[Any], future: frozenset[str], *, weights_version: int
) -> list[dict[str, Any]]:
    """One recommendation as the API would log it: an impression per hit (rank, components,
    blend version) and a click for each hit the user liked after the cutoff."""
    request_id = f"movielens-eval-{user}"
    docs: list[dict[str, Any]] = []
    for rank, hit in enumerate(hits, start=1):
        docs.append(
            {
                "kind": "impression",
                "request_id": request_id,
                "user": user,
                "item": hit.id,
                "rank": rank,
                "score": hit.score,
                "components": dict(hit.components),
                "weights_version": weights_version,
            }
        )
        if hit.id in future:
            docs.append({"kind": "click", "request_id": request_id, "user": user, "item": hit.id})
    return docs


def _write_lists(out_dir: Path, evaluated: Sequence[UserLists]) -> None:
    """Every user's test items and lists, one JSON line each, to audit the numbers."""
    with (out_dir / "lists.jsonl").open("w", encoding="utf-8") as handle:
        for u in evaluated:
            row = {"user": u.user, "test": sorted(u.test), "cold_start": u.cold_start}
            handle.write(json.dumps({**row, "lists": u.lists}) + "\n")


def _write(out_dir: Path, payload: dict[str, Any]) -> None:
    report.write_metrics(out_dir, payload)
    methods = payload["methods"]
    title = f"MovieLens, {payload['users']} users"
    report.bar_chart(methods, ACCURACY, out_dir / "accuracy.png", title=title)
    report.bar_chart(methods, BEYOND, out_dir / "beyond_accuracy.png", title=title)
    lines = [
        "# MovieLens evaluation",
        "",
        payload["split"] + ".",
        "",
        *report.metrics_table(payload["methods"]),
        "",
        f"Users with training tags ({payload['tag_users']['users']}), where bm25-tags has input:",
        "",
        *report.metrics_table(payload["tag_users"]["methods"]),
        "",
        f"Search ({payload['search']['queries']} queries: {payload['search']['query_kind']}):",
        "",
        *report.metrics_table(payload["search"]["methods"], ("ndcg@10", "recall@10")),
        "",
        f"Cold-start users (no usable interests): {payload['cold_start_users']}. "
        f"Replayed events: {payload['replayed_events']}. Seconds: {payload['seconds']}.",
        "",
        "![accuracy](accuracy.png)",
        "",
        "![coverage and diversity](beyond_accuracy.png)",
    ]
    report.write_markdown(out_dir, lines)
