"""Which item-to-item neighbours, and which votes: chosen on a validation split (no stack).

``python -m bench.neighbours_offline --data-dir ../shared/data``

The protocol of ``interest eval --dataset movielens`` (``plugin.app.evaluation.movielens``), all
users. Every configuration is scored by NDCG@10 on the validation split carved from the
training events (``plugin.app.evaluation.strong.validation_split``); the test part is reported
beside it but chooses nothing. Compared:

* the dense EASE of ``interest eval`` at its tuned λ (the bar; needs the items² matrix);
* ``indexer.neighbours.fit_sparse_ease`` over a grid of λ and candidate counts (the product's
  neighbours: sparse, one small system per item);
* for the best sparse fit, the user's votes: event kinds weighted (like / click / dislike) and
  decayed by age at the cutoff with a half-life in days (none: no decay).

One JSON object goes to stdout: every configuration with validation and test NDCG@10 and
Recall@20, fit seconds, and the chosen ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from indexer.neighbours import fit_sparse_ease
from plugin.app.evaluation import strong
from plugin.app.evaluation.movielens import Split, build_split, load_movielens
from plugin.app.evaluation.ranking import ndcg_at_k, recall_at_k

DAY_S = 86_400
LAMBDAS = (100.0, 200.0, 400.0)
CANDIDATES = (50, 100, 200)
VOTES: Sequence[Mapping[str, float]] = (
    {"like": 1.0},
    {"like": 1.0, "click": 0.3},
    {"like": 1.0, "click": 0.3, "dislike": -0.3},
    {"like": 1.0, "dislike": -0.3},
)
HALF_LIVES: Sequence[float | None] = (None, 730.0, 365.0, 90.0, 30.0)


def vote_matrix(
    split: Split,
    users: Sequence[str],
    position: Mapping[str, int],
    n_items: int,
    kinds: Mapping[str, float],
    half_life_days: float | None,
) -> sp.csr_matrix:
    """Each user's training events as votes: kind weight × 2^(−age at the cutoff / half-life)."""
    rows, cols, values = [], [], []
    for row, user in enumerate(users):
        own = split.users[user]
        for event in own.train:
            weight = kinds.get(event.kind, 0.0)
            if weight == 0.0 or event.item not in position:
                continue
            age_days = (own.cutoff - event.time) / DAY_S
            decay = 1.0 if half_life_days is None else 2.0 ** (-age_days / half_life_days)
            rows.append(row)
            cols.append(position[event.item])
            values.append(weight * decay)
    return sp.csr_matrix((values, (rows, cols)), shape=(len(users), n_items))


def quality(
    scorer: strong.Scorer,
    interactions: strong.Interactions,
    split: Split,
    position: Mapping[str, int],
) -> dict[str, float]:
    users = list(interactions.users)
    lists = strong.rank_users(scorer, interactions, split, users, position, 20)
    targets = {u: {position[i] for i in split.users[u].test if i in position} for u in users}
    return {
        "ndcg@10": round(float(np.mean([ndcg_at_k(lists[u], targets[u], 10) for u in users])), 5),
        "recall@20": round(
            float(np.mean([recall_at_k(lists[u], targets[u], 20) for u in users])), 5
        ),
    }


def votes_scorer(votes: sp.csr_matrix, weights: sp.csr_matrix) -> strong.Scorer:
    return lambda rows: np.asarray((votes[rows] @ weights).toarray())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.neighbours_offline", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="MovieLens folder or parent")
    parser.add_argument("--ease-lambda", type=float, default=200.0, help="the dense EASE's λ")
    args = parser.parse_args(argv)
    data = load_movielens(args.data_dir)
    split = build_split(e for e in data.events if e.item in data.movies)
    movie_ids = list(data.movies)
    position = {movie: i for i, movie in enumerate(movie_ids)}
    n_items = len(movie_ids)
    valid = strong.validation_split(split)
    parts = {
        "validation": (valid, strong.positives_matrix(valid, position, n_items)),
        "test": (split, strong.positives_matrix(split, position, n_items)),
    }
    report: dict[str, Any] = {"users": len(split.users), "items": n_items}

    def both(make: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, (part, inputs) in parts.items():
            started = time.perf_counter()
            scorer = make(part, inputs)
            row[f"{name}_fit_s"] = round(time.perf_counter() - started, 1)
            row[name] = quality(scorer, inputs, part, position)
        return row

    report["ease"] = {"lambda": args.ease_lambda} | both(
        lambda _part, inputs: strong.fit_ease(inputs.matrix, args.ease_lambda)
    )
    print(f"ease: {report['ease']}", file=sys.stderr, flush=True)
    sparse_rows = []
    for lam in LAMBDAS:
        for candidates in CANDIDATES:
            row = {"lambda": lam, "candidates": candidates} | both(
                lambda _part, inputs, lam=lam, candidates=candidates: votes_scorer(
                    inputs.matrix, fit_sparse_ease(inputs.matrix, lam=lam, candidates=candidates)
                )
            )
            print(f"sparse ease: {row}", file=sys.stderr, flush=True)
            sparse_rows.append(row)
    report["sparse_ease"] = sparse_rows
    best = max(sparse_rows, key=lambda r: r["validation"]["ndcg@10"])
    report["chosen_fit"] = {"lambda": best["lambda"], "candidates": best["candidates"]}
    fitted = {
        name: fit_sparse_ease(inputs.matrix, lam=best["lambda"], candidates=best["candidates"])
        for name, (_, inputs) in parts.items()
    }
    vote_rows = []
    for kinds in VOTES:
        for half_life in HALF_LIVES:
            row = {"kinds": dict(kinds), "half_life_days": half_life}
            for name, (part, inputs) in parts.items():
                votes = vote_matrix(part, inputs.users, position, n_items, kinds, half_life)
                row[name] = quality(votes_scorer(votes, fitted[name]), inputs, part, position)
            print(f"votes: {row}", file=sys.stderr, flush=True)
            vote_rows.append(row)
    report["votes"] = vote_rows
    chosen = max(vote_rows, key=lambda r: r["validation"]["ndcg@10"])
    report["chosen_votes"] = {"kinds": chosen["kinds"], "half_life_days": chosen["half_life_days"]}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
