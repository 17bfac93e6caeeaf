"""Where a query's time goes: Elasticsearch ``profile: true`` on the bench index's requests.

After ``python -m bench.queries --items N --keep`` (the index ``bench-items-N`` stays)::

    python -m bench.query_profile --items 100000

For one user/query of ``bench.queries`` it profiles each body (search exact/approx, each
recommend body exact/approx) ``--repeat`` times and prints, per body, the client time, the
``took``, the query phase (rewrite + the top query's time, with its children: the knn
clause, the script_score), the collector time and the fetch phase (where ``explain`` runs).
One JSON object goes to stdout.

``--took N`` measures instead of profiling: each body runs N times without ``profile`` (after
one warm-up) and the report gives the median and the quartiles of Elasticsearch's ``took``,
the number to compare scorer builds by (profiling adds a timer per document).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.corpus import DEFAULT_PER_SOURCE, load_corpus
from bench.queries import (
    SIZE,
    app_model_identity,
    data_dir,
    make_queries,
    make_users,
)
from plugin.es import make_es_client
from plugin.queries import build_recommend_bodies, build_search_body
from plugin.settings import Settings
from plugin.weights import parse_meta

MS = 1e-6


def summarise(profile: dict[str, Any]) -> dict[str, Any]:
    """Milliseconds per phase of a one-shard profile."""
    shard = profile["shards"][0]
    search = shard["searches"][0]
    tops = search["query"]  # a knn clause adds its rewritten DocAndScoreQuery here
    fetch = shard.get("fetch", {})
    return {
        "rewrite_ms": round(search["rewrite_time"] * MS, 2),
        "query_types": "+".join(top["type"] for top in tops),
        "query_ms": round(sum(top["time_in_nanos"] for top in tops) * MS, 2),
        "children_ms": {
            f"{c['type']}:{c['description'][:40]}": round(c["time_in_nanos"] * MS, 2)
            for top in tops
            for c in top.get("children", [])
        },
        "collector_ms": round(sum(c["time_in_nanos"] for c in search["collector"]) * MS, 2),
        "fetch_ms": round(fetch.get("time_in_nanos", 0) * MS, 2),
        "dfs_knn_ms": round(
            sum(k.get("rewrite_time", 0) for k in shard.get("dfs", {}).get("knn", [])) * MS, 2
        ),
    }


def profiled(es: Any, index: str, body: dict[str, Any], repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = es.search(index=index, body={**body, "profile": True})
        client = (time.perf_counter() - started) * 1000
        runs.append(
            {"client_ms": round(client, 1), "took_ms": response["took"]}
            | summarise(response["profile"])
        )
    return min(runs, key=lambda r: r["took_ms"])  # the least disturbed run


def java_runtime(es: Any) -> str:
    """The JVM the node runs on: the scorer's SIMD depends on it (see engine/README.md)."""
    nodes = es.nodes.info(metric="jvm")["nodes"]
    return ",".join(sorted({node["jvm"]["version"] for node in nodes.values()}))


def timed(es: Any, index: str, body: dict[str, Any], runs: int) -> dict[str, Any]:
    es.search(index=index, body=body)  # warm-up: segment-level caches, JIT
    took = [es.search(index=index, body=body)["took"] for _ in range(runs)]
    quartiles = statistics.quantiles(took, n=4) if runs > 1 else [took[0]] * 3
    return {
        "runs": runs,
        "took_p50_ms": quartiles[1],
        "took_p25_ms": quartiles[0],
        "took_p75_ms": quartiles[2],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.query_profile", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--num-candidates", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--took", type=int, default=0, metavar="N", help="time N unprofiled runs per body instead"
    )
    args = parser.parse_args(argv)
    if args.took < 0:
        parser.error("--took must be 0 (profile) or a number of runs")

    def measure(body: dict[str, Any]) -> dict[str, Any]:
        if args.took:
            return timed(es, index, body, args.took)
        return profiled(es, index, body, args.repeat)

    settings = Settings.from_env()
    corpus = load_corpus(settings, data_dir(args.data_dir), DEFAULT_PER_SOURCE)
    index = f"bench-items-{args.items}"
    query = make_queries(corpus, 1, settings)[0]
    user = make_users(corpus, 1, args.items)[0]
    es = make_es_client(settings.with_overrides(request_timeout_s=300.0))
    meta = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta") or {}
    floor = app_model_identity(corpus.model).get("similarity_floor", 0)
    config = replace(parse_meta(meta), similarity_floor=float(floor))
    now_ms = int(time.time() * 1000)
    report: dict[str, Any] = {"items": args.items, "query": query["text"]}
    report["java"] = java_runtime(es)
    for mode in ("exact", "approx"):
        body = build_search_body(
            query["text"],
            profile=user,
            config=config,
            query_vector=query["vector"],
            now_ms=now_ms,
            segmented_query=query["segmented"],
            size=SIZE,
            mode=mode,
            num_candidates=args.num_candidates,
        )
        report[f"search_{mode}"] = measure(body)
        bodies = build_recommend_bodies(
            user, config, size=SIZE, now_ms=now_ms, mode=mode, num_candidates=args.num_candidates
        )
        report[f"recommend_{mode}_body0"] = measure(bodies[0])
    es.close()
    for name, value in report.items():
        print(f"{name}: {value}", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
