"""Does the short-term interest follow a drift? 50 posts on one topic, then 5 on another.

Run ``python -m bench.drift --data-dir DIR``. For each encoder and each pair of THUCNews
categories (old -> new), a fresh user posts 50 real headlines of the old category, one a
minute, then 5 of the new one; the interest maths (``indexer.interests``, with the encoder's
cluster thresholds) folds them in. The measure: how many of the 10 items of a 1,000-headline
pool nearest to the user's short-term vector (cosine) are of the new category, after each
new post. The long-term vector and the best-matching interest cluster are shown for contrast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.interests import InterestEvent, InterestParams, InterestState, apply_event
from indexer.segment import keywords
from plugin.app.evaluation.datasets import load_headlines
from plugin.app.evaluation.encoders import (
    ENCODER_NAMES,
    BenchEncoder,
    encode_batched,
    make_encoder,
    parse_encoder_names,
)
from plugin.app.evaluation.metrics import Matrix
from plugin.encoder import KNOWN_MODELS, ModelProfile
from plugin.errors import PersonalizationError

POOL_PER_CLASS = 100
OLD_POSTS = 50
NEW_POSTS = 5
TOP_K = 10
SEED = 13
START_MS = 1_700_000_000_000
MINUTE_MS = 60_000
# tfidf-jieba has no profile: it gets the ModelProfile defaults (the MiniLM-like 0.5/0.35).
DEFAULT_PROFILE = ModelProfile("tfidf-jieba", 0, "tfidf")


@dataclass(frozen=True)
class Corpus:
    """A pool of items (even per class) and, per class, headlines left over for posts."""

    pool_texts: list[str]
    pool_labels: list[str]
    posts: dict[str, list[str]]


def build_corpus(rows: Sequence[tuple[str, str]], *, per_class: int, seed: int) -> Corpus:
    """Shuffle each class with ``seed``; the first ``per_class`` go to the pool."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for text, label in rows:
        by_class[label].append(text)
    rng = np.random.default_rng(seed)
    pool_texts, pool_labels, posts = [], [], {}
    for label in sorted(by_class):
        texts = [by_class[label][i] for i in rng.permutation(len(by_class[label]))]
        pool_texts += texts[:per_class]
        pool_labels += [label] * len(texts[:per_class])
        posts[label] = texts[per_class:]
    return Corpus(pool_texts, pool_labels, posts)


def params_for(name: str) -> InterestParams:
    profile = KNOWN_MODELS.get(name, DEFAULT_PROFILE)
    return InterestParams(
        cluster_join_threshold=profile.cluster_threshold,
        cluster_support_threshold=profile.cluster_support_threshold,
    )


def simulate(
    pool: np.ndarray,
    pool_labels: Sequence[str],
    old_posts: Sequence[tuple[np.ndarray, dict[str, float]]],
    new_posts: Sequence[tuple[np.ndarray, dict[str, float]]],
    *,
    old: str,
    new: str,
    params: InterestParams,
) -> dict[str, Any]:
    """Fold the posts into a fresh state and count categories among the nearest pool items.

    Args:
        pool: unit rows, one per pool item.
        old_posts / new_posts: (vector, keywords) per post, in time order.
    """
    state, time_ms = InterestState(), START_MS
    for vector, words in old_posts:
        state = apply_event(state, _post(vector, words, time_ms), params=params)
        time_ms += MINUTE_MS
    before = _count(pool, pool_labels, state.short_term, old)
    by_post = []
    for vector, words in new_posts:
        state = apply_event(state, _post(vector, words, time_ms), params=params)
        time_ms += MINUTE_MS
        by_post.append(_count(pool, pool_labels, state.short_term, new))
    clusters = [_count(pool, pool_labels, c.acc, new) for c in state.clusters]
    return {
        "old": old,
        "new": new,
        "short_top10_old_before": before,
        "short_top10_new_by_post": by_post,
        "short_top10_new": by_post[-1] if by_post else 0,
        "long_top10_new": _count(pool, pool_labels, state.long_term, new),
        "best_cluster_top10_new": max(clusters, default=0),
        "clusters": len(state.clusters),
    }


def _post(vector: np.ndarray, words: dict[str, float], time_ms: int) -> InterestEvent:
    usable = vector if np.linalg.norm(vector) > 0 else None  # tf-idf: all words unseen
    return InterestEvent(kind="post", time_ms=time_ms, vector=usable, keywords=words)


def _count(pool: np.ndarray, labels: Sequence[str], acc: Any, label: str) -> int:
    direction = None if acc is None else acc.direction()
    if direction is None:
        return 0
    nearest = np.argsort(-(pool @ direction), kind="stable")[:TOP_K]
    return sum(labels[i] == label for i in nearest)


def run(
    data_dir: str,
    encoders: Sequence[str] = ENCODER_NAMES,
    *,
    pairs: int | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """Every encoder on the same pool and the same pairs (class i -> class i+1, cyclic)."""
    corpus = build_corpus(load_headlines("thucnews", data_dir), per_class=POOL_PER_CLASS, seed=seed)
    classes = sorted(corpus.posts)
    schedule = [(classes[i], classes[(i + 1) % len(classes)]) for i in range(len(classes))]
    schedule = schedule[: pairs or len(schedule)]
    texts = {(old, new): (corpus.posts[old][:OLD_POSTS], corpus.posts[new][:NEW_POSTS])
             for old, new in schedule}  # fmt: skip
    post_texts = sorted({t for olds, news in texts.values() for t in (*olds, *news)})
    words = {text: dict(keywords(text)) for text in post_texts}
    results: dict[str, Any] = {}
    for name in encoders:
        encoder = make_encoder(name)
        pool, posts = _vectors(encoder, corpus.pool_texts, post_texts)
        params = params_for(name)
        runs = [
            simulate(
                pool,
                corpus.pool_labels,
                [(posts[t], words[t]) for t in olds],
                [(posts[t], words[t]) for t in news],
                old=old,
                new=new,
                params=params,
            )
            for (old, new), (olds, news) in texts.items()
        ]
        results[name] = {**_means(runs), "thresholds": _thresholds(params), "per_pair": runs}
        print(f"{name}: {json.dumps(_means(runs))}", file=sys.stderr, flush=True)
    return {
        "dataset": "thucnews",
        "pool": len(corpus.pool_texts),
        "old_posts": OLD_POSTS,
        "new_posts": NEW_POSTS,
        "top_k": TOP_K,
        "pairs": len(schedule),
        "seed": seed,
        "encoders": results,
    }


def _vectors(
    encoder: BenchEncoder, pool_texts: list[str], post_texts: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pool items on the passage side, posts on the query side (as in production)."""
    fit = getattr(encoder, "fit", None)
    if fit is not None:
        fit(pool_texts)
    pool = _unit_rows(encode_batched(encoder, pool_texts, kind="passage"))
    posts = _unit_rows(encode_batched(encoder, post_texts, kind="query"))
    return pool, dict(zip(post_texts, posts, strict=True))


def _unit_rows(matrix: Matrix) -> np.ndarray:
    dense = np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=np.float64)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return dense / np.where(norms > 0, norms, 1.0)


def _means(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = ("short_top10_old_before", "short_top10_new", "long_top10_new")
    means: dict[str, Any] = {k: round(statistics.mean(r[k] for r in runs), 2) for k in keys}
    means["best_cluster_top10_new"] = round(
        statistics.mean(r["best_cluster_top10_new"] for r in runs), 2
    )
    steps = zip(*(r["short_top10_new_by_post"] for r in runs), strict=True)
    means["short_top10_new_by_post"] = [round(statistics.mean(s), 2) for s in steps]
    means["clusters"] = round(statistics.mean(r["clusters"] for r in runs), 2)
    return means


def _thresholds(params: InterestParams) -> dict[str, float | None]:
    return {"join": params.cluster_join_threshold, "support": params.cluster_support_threshold}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drift", description=__doc__)
    parser.add_argument("--data-dir", required=True, help="the shared data directory")
    parser.add_argument("--encoders", default=",".join(ENCODER_NAMES))
    parser.add_argument("--pairs", type=int, default=None, help="default: all 10 pairs")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        names = parse_encoder_names(args.encoders)
        result = run(args.data_dir, names, pairs=args.pairs, seed=args.seed)
    except PersonalizationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
