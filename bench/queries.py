"""Query latency and recall at 10k-1M items: exact vs approximate, search and recommend.

Run ``interest up`` first with the same ``INTEREST_*`` environment, then::

    python -m bench.queries --items 10000 --items 100000

For each N it builds its own index ``bench-items-<N>`` (the app's items mapping, never the
app's alias) from real e5 embeddings of MovieLens titles and Chinese headlines, perturbed
into N vectors (``bench.corpus``), with BM25 text, categories, ``created_at`` spread over a
year and a popularity; bulk-indexes and force-merges it to one segment. Then, in one run:

* personalised search (a query + a user profile with long/short vectors and 3 clusters),
  exact (the native scorer over the lexical candidates) and approx (lexical + HNSW knn
  candidates, same scorer) at each ``--num-candidates``;
* recommendation (no query; one body per cluster through ``_msearch``, merged as the service
  merges them), exact (script_score over match_all: the ground truth) and approx.

It reports client-side and ES ``took`` p50/p95/p99 over ``--requests`` requests after a
warm-up, recall@10 of approx against exact (same params), index size and heap. A table goes
to stderr, one JSON object to stdout. ``--keep`` leaves the indices for later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from bench.corpus import (
    DEFAULT_NOISE_NORM,
    DEFAULT_PER_SOURCE,
    Corpus,
    load_corpus,
    normalise_rows,
    percentiles,
    perturb,
    recall_at,
)
from plugin.blend import FRESHNESS_FIELD, POPULARITY_FIELD
from plugin.encoder import load_encoder, profile_for
from plugin.es import index_body, make_es_client, model_identity
from plugin.queries import (
    build_recommend_bodies,
    build_search_body,
    build_top_items_body,
    cluster_quotas,
    merge_recommendations,
    recommend_clusters,
)
from plugin.settings import REPO_ROOT, Settings
from plugin.types import InterestCluster, Mode, UserProfile
from plugin.weights import parse_meta

DATA_DIRS = (REPO_ROOT / "shared" / "data", REPO_ROOT.parent / "shared" / "data")
DEFAULT_REQUESTS = 60
DEFAULT_WARMUP = 10
DEFAULT_USERS = 20
DEFAULT_NUM_CANDIDATES = (100, 200, 500, 1000)
SIZE = 10
BULK_CHUNK = 500
SEED = 7
YEAR_S = 365 * 24 * 3600
RECENT_ITEMS = 20


def data_dir(given: Path | None) -> Path:
    for folder in [given] if given else DATA_DIRS:
        if folder is not None and (folder / "movielens-ml-latest-small").is_dir():
            return folder
    raise SystemExit("no shared/data folder found; pass --data-dir")


def segment(text: str) -> str:
    import jieba

    return " ".join(w for w in jieba.lcut(text) if w.strip())


def item_docs(
    corpus: Corpus, count: int, *, noise_norm: float, now: datetime
) -> Iterator[dict[str, Any]]:
    """``count`` item documents: perturbed real vectors and the texts they came from."""
    rng = np.random.default_rng(SEED)
    vectors, sources = perturb(corpus.vectors, count, noise_norm=noise_norm, rng=rng)
    ages = rng.uniform(0, YEAR_S, size=count)
    popularity = np.floor(rng.lognormal(2.0, 1.5, size=count)).astype(int)
    zh = {i: segment(corpus.texts[i]) for i in set(sources.tolist()) if corpus.langs[i] == "zh"}
    for n in range(count):
        src = int(sources[n])
        text = corpus.texts[src]
        doc: dict[str, Any] = {
            "id": f"i{n}",
            "title": text[:200],
            "body": text,
            "lang": corpus.langs[src],
            "category": corpus.labels[src],
            "created_at": (now - timedelta(seconds=float(ages[n]))).isoformat(),
            "popularity": int(popularity[n]),
            "embedding": [round(float(v), 6) for v in vectors[n]],
        }
        if src in zh:
            doc["text_zh"] = zh[src]
        yield doc


def app_model_identity(model: str) -> dict[str, Any]:
    """What the app stores in the items `_meta` for ``model`` (with its similarity floor)."""
    identity = profile_for(model).identity()
    return identity if identity.get("dims") else model_identity(model, 384)


def build_index(
    es: Elasticsearch, corpus: Corpus, count: int, *, noise_norm: float, reuse: bool
) -> dict[str, Any]:
    """Create, fill and force-merge ``bench-items-<count>``; timings of each phase."""
    index = f"bench-items-{count}"
    if reuse and es.indices.exists(index=index):
        es.indices.refresh(index=index)
        if es.count(index=index)["count"] == count:
            return {"index": index, "reused": True}
    es.indices.delete(index=index, ignore_unavailable=True)
    body = index_body("items", model=app_model_identity(corpus.model))
    settings = {**body["settings"], "refresh_interval": "-1"}
    es.indices.create(index=index, settings=settings, mappings=body["mappings"])
    started = time.perf_counter()
    now = datetime.now(UTC)
    actions = (
        {"_index": index, "_id": d["id"], "_source": d}
        for d in item_docs(corpus, count, noise_norm=noise_norm, now=now)
    )
    failed = 0
    for ok, _ in streaming_bulk(
        es, actions, chunk_size=BULK_CHUNK, raise_on_error=False, request_timeout=300
    ):
        failed += not ok
    bulk_s = time.perf_counter() - started
    es.indices.put_settings(index=index, settings={"refresh_interval": "1s"})
    es.indices.refresh(index=index)
    mark = time.perf_counter()
    es.indices.forcemerge(index=index, max_num_segments=1, request_timeout=1800)
    merge_s = time.perf_counter() - mark
    es.indices.refresh(index=index)
    return {
        "index": index,
        "reused": False,
        "bulk_s": round(bulk_s, 1),
        "bulk_docs_per_s": round(count / bulk_s, 1),
        "forcemerge_s": round(merge_s, 1),
        "failed": failed,
    }


def index_stats(es: Elasticsearch, index: str) -> dict[str, Any]:
    stats = es.indices.stats(index=index, metric="store,segments,docs")["indices"][index]
    nodes = es.nodes.stats(metric="jvm")["nodes"]
    heap = [n["jvm"]["mem"] for n in nodes.values()]
    return {
        "docs": stats["primaries"]["docs"]["count"],
        "segments": stats["primaries"]["segments"]["count"],
        "store_mb": round(stats["primaries"]["store"]["size_in_bytes"] / 2**20, 1),
        "heap_used_mb": round(sum(h["heap_used_in_bytes"] for h in heap) / 2**20, 1),
        "heap_max_mb": round(sum(h["heap_max_in_bytes"] for h in heap) / 2**20, 1),
    }


def make_users(corpus: Corpus, count: int, items: int) -> list[UserProfile]:
    """Users with 3 interest clusters from 3 categories, long/short vectors and affinities."""
    rng = random.Random(SEED)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(corpus.labels):
        by_label.setdefault(label, []).append(i)
    labels = sorted(by_label)
    users = []
    for u in range(count):
        chosen = rng.sample(labels, 3)
        clusters = []
        for rank, label in enumerate(chosen):
            rows = rng.sample(by_label[label], min(8, len(by_label[label])))
            centre = normalise_rows(corpus.vectors[rows].mean(axis=0, keepdims=True))[0]
            clusters.append(
                InterestCluster(
                    vector=tuple(centre.tolist()), weight=[5.0, 3.0, 1.0][rank], label=label
                )
            )
        weights = np.array([c.weight for c in clusters])[:, None]
        matrix = np.array([c.vector for c in clusters])
        long_term = normalise_rows((weights * matrix).sum(axis=0, keepdims=True))[0]
        short_term = np.array(clusters[rng.randrange(3)].vector)
        users.append(
            UserProfile(
                user=f"bench-user-{u}",
                long_term=tuple(long_term.tolist()),
                short_term=tuple(short_term.tolist()),
                clusters=tuple(clusters),
                categories={chosen[0]: 0.6, chosen[1]: 0.3, chosen[2]: 0.1},
                recent_items=tuple(f"i{rng.randrange(items)}" for _ in range(RECENT_ITEMS)),
            )
        )
    return users


def make_queries(corpus: Corpus, count: int, settings: Settings) -> list[dict[str, Any]]:
    """Short queries cut from real titles (2 words / 2 Chinese words), encoded as queries."""
    rng = random.Random(SEED + 1)
    queries = []
    while len(queries) < count:
        i = rng.randrange(len(corpus.texts))
        text = corpus.texts[i]
        if corpus.langs[i] == "zh":
            words = [w for w in segment(text).split() if len(w) > 1]
            if len(words) < 2:
                continue
            start = rng.randrange(len(words) - 1)
            query = "".join(words[start : start + 2])
            queries.append({"text": query, "segmented": segment(query)})
        else:
            words = [w for w in text.split(".")[0].split() if w.isalpha() and len(w) > 3]
            if not words:
                continue
            queries.append(
                {"text": " ".join(rng.sample(words, min(2, len(words)))), "segmented": None}
            )
    encoder = load_encoder(settings)
    vectors = encoder.encode([q["text"] for q in queries], kind="query")
    for query, vector in zip(queries, vectors, strict=True):
        query["vector"] = [float(v) for v in vector]
    return queries


def timed_search(
    es: Elasticsearch, index: str, body: dict[str, Any]
) -> tuple[float, int, list[str]]:
    started = time.perf_counter()
    response = es.search(index=index, body=body)
    ms = (time.perf_counter() - started) * 1000
    return ms, int(response["took"]), [h["_id"] for h in response["hits"]["hits"]]


def timed_recommend(
    es: Elasticsearch, index: str, profile: UserProfile, bodies: list[dict[str, Any]]
) -> tuple[float, int, list[str]]:
    searches: list[dict[str, Any]] = []
    for body in bodies:
        searches += [{"index": index}, body]
    started = time.perf_counter()
    response = es.msearch(searches=searches)
    responses = response["responses"]
    merged = merge_recommendations(
        responses, cluster_quotas(profile, SIZE), SIZE, clusters=recommend_clusters(profile)
    )
    ms = (time.perf_counter() - started) * 1000
    took = int(response.get("took") or max(int(r.get("took", 0)) for r in responses))
    return ms, took, [str(m.hit["_id"]) for m in merged]


def run_case(
    label: str, calls: Sequence[Any], warmup: int
) -> tuple[dict[str, Any], list[list[str]]]:
    """Warm up, then time each call; the latency summary and each request's ids."""
    for call in calls[:warmup]:
        call()
    client, took, ids = [], [], []
    for call in calls:
        ms, es_ms, hit_ids = call()
        client.append(ms)
        took.append(float(es_ms))
        ids.append(hit_ids)
    summary = {"client_ms": percentiles(client), "took_ms": percentiles(took)}
    print(
        f"    {label:<28} p50 {summary['client_ms']['p50']:>7} p95 "
        f"{summary['client_ms']['p95']:>7} p99 {summary['client_ms']['p99']:>7} ms",
        file=sys.stderr,
    )
    return summary, ids


def mean_recall(approx: list[list[str]], exact: list[list[str]]) -> float:
    values = [recall_at(a, e, SIZE) for a, e in zip(approx, exact, strict=True)]
    return round(sum(values) / len(values), 4)


def bench_size(
    es: Elasticsearch,
    corpus: Corpus,
    settings: Settings,
    count: int,
    args: argparse.Namespace,
    queries: list[dict[str, Any]],
) -> dict[str, Any]:
    print(f"  {count} items: building bench-items-{count}", file=sys.stderr)
    build = build_index(es, corpus, count, noise_norm=args.noise, reuse=args.reuse)
    index = build["index"]
    meta = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta") or {}
    # As PersonalizedSearch.blend_config: the model's similarity floor rescales text cosines.
    app_floor = app_model_identity(corpus.model).get("similarity_floor", 0)
    floor = float((meta.get("model") or {}).get("similarity_floor", app_floor))
    config = replace(parse_meta(meta), similarity_floor=floor)
    users = make_users(corpus, DEFAULT_USERS, count)
    now_ms = int(time.time() * 1000)
    explain = not args.no_explain
    pairs = [(users[i % len(users)], queries[i % len(queries)]) for i in range(args.requests)]

    def search_call(user: UserProfile, query: dict[str, Any], mode: str, nc: int | None) -> Any:
        body = build_search_body(
            query["text"],
            profile=user,
            config=config,
            query_vector=query["vector"],
            now_ms=now_ms,
            segmented_query=query["segmented"],
            size=SIZE,
            mode=cast(Mode, mode),
            num_candidates=nc,
            explain=explain,
        )
        return lambda: timed_search(es, index, body)

    # As PersonalizedSearch.recommend: approx also scores the most popular and newest items.
    priors = tuple(
        dict.fromkeys(
            hit["_id"]
            for field in (POPULARITY_FIELD, FRESHNESS_FIELD)
            if settings.prior_candidates > 0
            for hit in es.search(
                index=index, body=build_top_items_body(field, settings.prior_candidates)
            )["hits"]["hits"]
        )
    )

    def recommend_call(
        user: UserProfile,
        mode: str,
        nc: int | None,
        fresh_days: int | None = None,
        with_priors: bool = True,
    ) -> Any:
        bodies = build_recommend_bodies(
            user,
            config,
            size=SIZE,
            now_ms=now_ms,
            mode=cast(Mode, mode),
            num_candidates=nc,
            explain=explain,
            extra_candidates=priors if with_priors and mode == "approx" else (),
        )
        if fresh_days:
            bodies = [with_fresh_clause(body, fresh_days) for body in bodies]
        return lambda: timed_recommend(es, index, user, bodies)

    result: dict[str, Any] = {"items": count, "build": build, "search": {}, "recommend": {}}
    result["search"]["exact"], exact_ids = run_case(
        "search exact", [search_call(u, q, "exact", None) for u, q in pairs], args.warmup
    )
    for nc in args.num_candidates:
        summary, ids = run_case(
            f"search approx nc={nc}",
            [search_call(u, q, "approx", nc) for u, q in pairs],
            args.warmup,
        )
        summary["recall_at_10"] = mean_recall(ids, exact_ids)
        result["search"][f"approx_nc{nc}"] = summary
    result["recommend"]["exact"], exact_ids = run_case(
        "recommend exact", [recommend_call(u, "exact", None) for u, _ in pairs], args.warmup
    )
    for nc in args.num_candidates:
        summary, ids = run_case(
            f"recommend approx nc={nc}",
            [recommend_call(u, "approx", nc) for u, _ in pairs],
            args.warmup,
        )
        summary["recall_at_10"] = mean_recall(ids, exact_ids)
        result["recommend"][f"approx_nc{nc}"] = summary
        # Before the popular/newest candidates were added (knn on interest vectors only).
        summary, ids = run_case(
            f"recommend approx nc={nc} knn only",
            [recommend_call(u, "approx", nc, with_priors=False) for u, _ in pairs],
            args.warmup,
        )
        summary["recall_at_10"] = mean_recall(ids, exact_ids)
        result["recommend"][f"approx_nc{nc}_knn_only"] = summary
    for nc in args.num_candidates if args.fresh_days else ():
        summary, ids = run_case(
            f"recommend approx nc={nc} +fresh{args.fresh_days}d",
            [recommend_call(u, "approx", nc, args.fresh_days) for u, _ in pairs],
            args.warmup,
        )
        summary["recall_at_10"] = mean_recall(ids, exact_ids)
        result["recommend"][f"approx_nc{nc}_fresh{args.fresh_days}d"] = summary
    result["knn_only"] = knn_recall(es, index, corpus, count, users, args)
    result["stats"] = index_stats(es, index)
    if not args.keep:
        es.indices.delete(index=index, ignore_unavailable=True)
    return result


def with_fresh_clause(body: dict[str, Any], days: int) -> dict[str, Any]:
    """An experiment the app's builders do not do: a recommend body whose candidates are the
    union of its knn clause and the same clause restricted to items newer than ``days``.

    The blend rewards freshness, so the exact top 10 holds fresh items that are not among
    the nearest neighbours of the cluster vector; the second clause brings them in.
    """
    out = json.loads(json.dumps(body))
    holder = out["query"]["script_score"]
    query = holder["query"]
    knn = query["bool"]["must"][0]["knn"] if "bool" in query else query["knn"]
    fresh_filter: dict[str, Any] = {"filter": [{"range": {"created_at": {"gte": f"now-{days}d"}}}]}
    if "filter" in knn:
        fresh_filter["must"] = [knn["filter"]]
    fresh = {**knn, "filter": {"bool": fresh_filter}}
    union = {"bool": {"should": [{"knn": knn}, {"knn": fresh}], "minimum_should_match": 1}}
    if "bool" in query:
        query["bool"]["must"][0] = union
    else:
        holder["query"] = union
    return out


def knn_recall(
    es: Elasticsearch,
    index: str,
    corpus: Corpus,
    count: int,
    users: Sequence[UserProfile],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """HNSW alone: ``knn`` top 10 on each cluster vector vs brute-force cosine in numpy.

    Separates the index's own recall (int8 HNSW) from the blend's: the recommend recall
    above compares knn candidates against the full blend over every item.
    """
    vectors, _ = perturb(
        corpus.vectors, count, noise_norm=args.noise, rng=np.random.default_rng(SEED)
    )
    targets = [np.array(c.vector, dtype=np.float32) for u in users for c in u.clusters]
    truth = [[f"i{j}" for j in np.argsort(-(vectors @ t))[:SIZE]] for t in targets]
    out: dict[str, Any] = {}
    times: dict[str, list[float]] = {}
    recalls: dict[str, list[float]] = {}
    for nc in args.num_candidates:
        for target, exact in zip(targets, truth, strict=True):
            for oversample in (None, args.oversample) if args.oversample else (None,):
                knn: dict[str, Any] = {
                    "field": "embedding",
                    "query_vector": target.tolist(),
                    "k": SIZE,
                    "num_candidates": nc,
                }
                if oversample:
                    knn["rescore_vector"] = {"oversample": oversample}
                key = f"nc{nc}" + (f"_os{oversample:g}" if oversample else "")
                body = {"knn": knn, "size": SIZE, "_source": False}
                ms, _, ids = timed_search(es, index, body)
                times.setdefault(key, []).append(ms)
                recalls.setdefault(key, []).append(recall_at(ids, exact, SIZE))
    for key, key_times in times.items():
        out[key] = {
            "client_ms": percentiles(key_times),
            "recall_at_10": round(sum(recalls[key]) / len(recalls[key]), 4),
        }
        print(f"    knn only {key}: {out[key]}", file=sys.stderr)
    return out


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\nqueries: {report['model']}, explain={report['explain']}, "
        f"load {report['load_average_1m']}",
        file=sys.stderr,
    )
    header = (
        f"  {'items':>8} {'kind':<10} {'mode':<16} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'took p99':>8} {'recall@10':>9}"
    )
    print(header, file=sys.stderr)
    for size in report["sizes"]:
        for kind in ("search", "recommend"):
            for mode, summary in size[kind].items():
                c = summary["client_ms"]
                print(
                    f"  {size['items']:>8} {kind:<10} {mode:<16} {c['p50']:>7} {c['p95']:>7} "
                    f"{c['p99']:>7} {summary['took_ms']['p99']:>8} "
                    f"{summary.get('recall_at_10', 1.0):>9}",
                    file=sys.stderr,
                )
        stats = size["stats"]
        print(
            f"  {size['items']:>8} index {stats['store_mb']} MB, {stats['segments']} segment(s), "
            f"heap {stats['heap_used_mb']}/{stats['heap_max_mb']} MB, build {size['build']}",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queries", description=__doc__)
    parser.add_argument("--items", type=int, action="append", help="repeatable; default 10000")
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    parser.add_argument(
        "--num-candidates", type=int, nargs="+", default=list(DEFAULT_NUM_CANDIDATES)
    )
    parser.add_argument(
        "--fresh-days",
        type=int,
        default=None,
        help="also run approx recommend with a second knn clause over items newer than this",
    )
    parser.add_argument(
        "--oversample",
        type=float,
        default=None,
        help="also run knn-only with rescore_vector.oversample (an experiment)",
    )
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE_NORM)
    parser.add_argument("--no-explain", action="store_true", help="the service asks for it")
    parser.add_argument("--reuse", action="store_true", help="reuse a full bench index")
    parser.add_argument("--keep", action="store_true", help="keep the bench indices")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = args.items or [10_000]
    settings = Settings.from_env()
    load_before = os.getloadavg()
    corpus = load_corpus(settings, data_dir(args.data_dir), DEFAULT_PER_SOURCE)
    queries = make_queries(corpus, args.requests, settings)
    es = make_es_client(settings.with_overrides(request_timeout_s=600.0))
    try:
        results = [bench_size(es, corpus, settings, n, args, queries) for n in sizes]
    finally:
        es.close()
    report = {
        "benchmark": "queries",
        "model": settings.model,
        "corpus_texts": len(corpus.texts),
        "noise_norm": args.noise,
        "oversample": args.oversample,
        "fresh_days": args.fresh_days,
        "requests": args.requests,
        "warmup": args.warmup,
        "explain": not args.no_explain,
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before[0], "after": round(os.getloadavg()[0], 2)},
        "sizes": results,
    }
    print_table(report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
