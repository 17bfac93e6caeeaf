"""Offline check of the collaborative factors on MovieLens (no Elasticsearch; numpy/sklearn).

``python -m bench.collab_offline --data-dir ../shared/data --out collab.json``

Same per-user time split as ``plugin.app.evaluation.eval_movielens``
(``plugin.app.evaluation.movielens.build_split``): the
factors are fitted only on training events (each user's events strictly before their
cutoff); every user ranks all movies they did not rate or tag in training; the relevant items
are their test positives. NDCG@10 and Recall@10 over all users of:

* ``popularity``: most positive training ratings;
* ``item-cooccurrence``: ``baselines.ItemKnn`` on the training like matrix, as the eval;
* ``collab``: ``max(0, cosine(user vector, item factor))`` with the factors of
  ``indexer.collab.fit_item_factors``; the user vector is the decayed sum of the factors of
  the items they acted on (``EVENT_WEIGHTS``: like/post +1, click +0.5, dislike -1), with the
  long-term half-lives of the interest model (30 days and 200 events);
* ``collab+pop``: ``a * collab + b * pop_norm``, ``pop_norm = log1p(count)/log1p(max count)``,
  over a grid of weights (only ``b / a`` changes the ranking);
* factorisation variants (dims, factor scaling, per-user row normalisation), refitted here
  from ``indexer.collab.implicit_matrix`` without the 32-dim padding (padding with zeros
  changes no cosine).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from indexer import collab
from indexer.interests import DAY_MS, EVENT_WEIGHTS, InterestParams
from plugin.app.evaluation import baselines
from plugin.app.evaluation.movielens import Interaction as Event
from plugin.app.evaluation.movielens import Split, build_split, load_movielens
from plugin.app.evaluation.ranking import mean, ndcg_at_k, recall_at_k
from plugin.weights import DEFAULT_PARAMS, DEFAULT_WEIGHTS

TOP = 10
# Event kinds that the items' popularity counter counts (as the evaluation's eval_movielens).
ACTIVITY_KINDS = ("click", "like")
DEFAULT_SEED = 7
# Blend weight grid: collaborative weight ``a`` x popularity weight ``b``.
COLLAB_WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
POPULARITY_WEIGHTS = (0.02, 0.05, 0.1, 0.2, 0.3)
BEST_BLENDS = 5
VARIANT_DIMS = (16, 32, 64)
# Item factors = V * S**power (then unit length).
SCALINGS = {"V": 0.0, "V*sqrt(S)": 0.5, "V*S": 1.0}
SEEDS = (7, 8, 9)
# Collaborative weights tried next to DEFAULT_WEIGHTS.popularity (0.05).
PRODUCT_COLLAB_WEIGHTS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3)
_EPS = 1e-9


@dataclass(frozen=True)
class Bench:
    """The catalogue, the evaluated users and the variant-independent inputs."""

    ids: list[str]
    users: list[str]
    excluded: list[np.ndarray]
    test: list[frozenset[str]]
    liked: list[np.ndarray]
    # users x catalogue: decayed event weights (dislikes negative), to multiply by factors.
    weights: sp.csr_matrix
    positives: np.ndarray
    # Training clicks + likes per item: what the items' ``popularity`` counter holds.
    activity: np.ndarray
    training: list[collab.Interaction]


# --- inputs --------------------------------------------------------------------------


def event_weights(
    events: Sequence[Event],
    *,
    half_life_days: float,
    half_life_events: float,
) -> list[float]:
    """Each event's weight in the user's decayed sum, valued at the last event.

    As ``indexer.interests.DecayedVector`` with events in time order: an event ``k`` events
    and ``Δt`` before the last one is scaled by ``2^(-Δt/half_life) * 2^(-k/half_life_events)``.
    """
    if not events:
        return []
    last = events[-1].time
    count = len(events)
    half_life_s = half_life_days * DAY_MS / 1000.0
    return [
        EVENT_WEIGHTS.get(event.kind, 0.0)
        * 2.0 ** (-(last - event.time) / half_life_s)
        * 2.0 ** (-(count - 1 - index) / half_life_events)
        for index, event in enumerate(events)
    ]


def weight_matrix(
    trains: Sequence[Sequence[Event]], position: dict[str, int], params: InterestParams
) -> sp.csr_matrix:
    """Users x catalogue matrix of summed decayed event weights (duplicates add up)."""
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, events in enumerate(trains):
        weights = event_weights(
            events,
            half_life_days=params.long_half_life_days,
            half_life_events=params.long_half_life_events,
        )
        for event, weight in zip(events, weights, strict=True):
            if event.item in position and weight != 0.0:
                rows.append(row)
                cols.append(position[event.item])
                values.append(weight)
    return sp.csr_matrix((values, (rows, cols)), shape=(len(trains), len(position)))


def prepare(data_dir: Path) -> Bench:
    data = load_movielens(data_dir)
    split: Split = build_split(e for e in data.events if e.item in data.movies)
    ids = list(data.movies)
    position = {item: i for i, item in enumerate(ids)}
    users = sorted(split.users, key=lambda u: (int(u), u) if u.isdigit() else (sys.maxsize, u))
    trains = [split.users[u].train for u in users]
    training = [
        collab.Interaction(user=e.user, item=e.item, kind=e.kind)
        for e in split.training_events(users)
    ]
    positives = [e for e in split.training_events(users) if e.positive]
    return Bench(
        ids=ids,
        users=users,
        excluded=[
            np.asarray(sorted(position[i] for i in t.train_items), dtype=int)
            for t in (split.users[u] for u in users)
        ],
        test=[split.users[u].test for u in users],
        liked=[np.asarray([position[e.item] for e in t if e.positive], dtype=int) for t in trains],
        weights=weight_matrix(trains, position, InterestParams()),
        positives=baselines.positive_counts(
            np.asarray([position[e.item] for e in positives], dtype=int), len(ids)
        ),
        activity=np.bincount(
            [position[e.item] for e in split.training_events(users) if e.kind in ACTIVITY_KINDS],
            minlength=len(ids),
        ).astype(np.float64),
        training=training,
    )


# --- factors -------------------------------------------------------------------------


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; rows of (almost) zero length become zero."""
    lengths = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.where(lengths > _EPS, matrix / np.maximum(lengths, _EPS), 0.0)


def fit_variant(
    matrix: sp.csr_matrix, *, dims: int, power: float, row_norm: bool, seed: int
) -> np.ndarray:
    """Unit item factors ``V * S**power`` of a TruncatedSVD (rows unit first if ``row_norm``).

    With ``dims=32, power=0.5, row_norm=False`` this was ``collab.fit_item_factors`` until
    iALS replaced it (``indexer/collab.py`` says why); ``default_factors`` runs the current one.
    """
    from sklearn.decomposition import TruncatedSVD

    if row_norm:
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        matrix = sp.diags(1.0 / np.maximum(norms, _EPS)) @ matrix
    components = max(1, min(dims, min(matrix.shape) // 4))  # fit_item_factors' own cap
    svd = TruncatedSVD(n_components=components, algorithm="randomized", random_state=seed)
    svd.fit(matrix)
    return unit_rows(svd.components_.T * (svd.singular_values_**power)[None, :])


def on_catalogue(items: Sequence[str], vectors: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Factor rows in catalogue order; items without factors get zeros."""
    position = {item: i for i, item in enumerate(ids)}
    placed = np.zeros((len(ids), vectors.shape[1]), dtype=np.float64)
    for item, vector in zip(items, vectors, strict=True):
        placed[position[item]] = vector
    return placed


# --- scores and metrics --------------------------------------------------------------


def collab_scores(weights: sp.csr_matrix, factors: np.ndarray) -> np.ndarray:
    """Users x catalogue ``max(0, cosine)`` of each user's decayed vector with each factor.

    ``factors`` rows are unit length (or zero), so a dot product with the unit user
    vector is the cosine. Users whose sum has no direction score 0 everywhere.
    """
    users = unit_rows(np.asarray(weights @ factors))
    return np.maximum(users @ factors.T, 0.0)


def popularity_norm(counts: np.ndarray) -> np.ndarray:
    """``log1p(count) / log1p(max count)``: the scorer's popularity prior, in [0, 1]."""
    top = float(counts.max()) if counts.size else 0.0
    return np.log1p(counts) / math.log1p(top) if top > 0 else np.zeros_like(counts)


def top_positions(scores: np.ndarray, excluded: np.ndarray, size: int) -> np.ndarray:
    """``baselines.top_ids`` by position, without sorting the whole catalogue.

    Best first, ties by catalogue order, ``excluded`` positions and scores ≤ 0 left out.
    """
    masked = np.array(scores, dtype=np.float64)
    masked[excluded] = -np.inf
    if masked.size > size:
        threshold = np.partition(masked, masked.size - size)[masked.size - size]
        candidates = np.flatnonzero(masked >= threshold)  # every tie at the threshold
    else:
        candidates = np.arange(masked.size)
    order = candidates[np.lexsort((candidates, -masked[candidates]))][:size]
    return order[masked[order] > 0]


def ranked_lists(bench: Bench, scores: Iterable[np.ndarray]) -> list[list[str]]:
    """Each user's top ``TOP`` items (no training item, no score ≤ 0; as ``top_ids``)."""
    return [
        [bench.ids[i] for i in top_positions(row, excluded, TOP)]
        for row, excluded in zip(scores, bench.excluded, strict=True)
    ]


def metrics(bench: Bench, lists: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean NDCG@10 and Recall@10 over users, the standard error of NDCG, empty lists."""
    ndcg = [ndcg_at_k(r, t, TOP) for r, t in zip(lists, bench.test, strict=True)]
    recall = [recall_at_k(r, t, TOP) for r, t in zip(lists, bench.test, strict=True)]
    spread = float(np.std(ndcg, ddof=1) / math.sqrt(len(ndcg))) if len(ndcg) > 1 else 0.0
    return {
        "ndcg@10": round(mean(ndcg), 5),
        "recall@10": round(mean(recall), 5),
        "ndcg@10_se": round(spread, 5),
        "empty_lists": sum(1 for r in lists if not r),
    }


def score_metrics(bench: Bench, scores: np.ndarray) -> dict[str, float]:
    return metrics(bench, ranked_lists(bench, scores))


def grid_ratios() -> list[float]:
    """The distinct ``b / a`` of the weight grid, smallest first."""
    return sorted({round(b / a, 6) for a in COLLAB_WEIGHTS for b in POPULARITY_WEIGHTS})


def ratio_sweep(
    bench: Bench, collab_cos: np.ndarray, pop: np.ndarray, ratios: Iterable[float]
) -> dict[float, dict[str, float]]:
    """Metrics of ``collab + ratio * pop`` for each ratio (only ``b / a`` changes a ranking)."""
    return {r: score_metrics(bench, collab_cos + r * pop[None, :]) for r in ratios}


def blend_grid(sweep: dict[float, dict[str, float]]) -> list[dict[str, float]]:
    """Every ``(a, b)`` of the grid with the metrics of its ratio, best first."""
    rows = [
        {"collab": a, "popularity": b, "pop_over_collab": r, **sweep[r]}
        for a in COLLAB_WEIGHTS
        for b in POPULARITY_WEIGHTS
        for r in [round(b / a, 6)]
    ]
    return sorted(rows, key=lambda r: (-r["ndcg@10"], -r["recall@10"], r["pop_over_collab"]))


def averaged(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over runs (seeds)."""
    return {key: round(float(np.mean([r[key] for r in rows])), 5) for key in rows[0]}


# --- the run -------------------------------------------------------------------------


def baseline_rows(bench: Bench) -> dict[str, dict[str, float]]:
    sizes = [x.size for x in bench.liked]
    likes = sp.csr_matrix(
        (
            np.ones(sum(sizes)),
            (np.repeat(np.arange(len(bench.users)), sizes), np.concatenate(bench.liked)),
        ),
        shape=(len(bench.users), len(bench.ids)),
    )
    knn = baselines.ItemKnn(likes)
    return {
        "popularity": score_metrics(bench, (bench.positives for _ in bench.users)),
        "item-cooccurrence": score_metrics(bench, (knn.scores(x) for x in bench.liked)),
    }


def default_factors(bench: Bench, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """``collab.fit_item_factors`` on all training interactions, timed, in catalogue order."""
    started = time.perf_counter()
    fitted = collab.fit_item_factors(bench.training, seed=seed)
    seconds = time.perf_counter() - started
    info = {
        "fit_seconds": round(seconds, 3),
        "components": fitted.components,
        "users": fitted.users,
        "items": len(fitted.items),
        "interactions": fitted.interactions,
        "method": fitted.method,
    }
    return on_catalogue(fitted.items, fitted.vectors.astype(np.float64), bench.ids), info


def variant_row(
    bench: Bench, pop: np.ndarray, *, dims: int, scaling: str, row_norm: bool
) -> dict[str, Any]:
    """One factorisation variant, averaged over ``SEEDS``; best ratio by mean NDCG."""
    matrix, _, items = collab.implicit_matrix(bench.training)
    alone, sweeps = [], []
    for seed in SEEDS:
        vectors = fit_variant(
            matrix, dims=dims, power=SCALINGS[scaling], row_norm=row_norm, seed=seed
        )
        cos = collab_scores(bench.weights, on_catalogue(items, vectors, bench.ids))
        alone.append(score_metrics(bench, cos))
        sweeps.append(ratio_sweep(bench, cos, pop, grid_ratios()))
    blends = {r: averaged([sweep[r] for sweep in sweeps]) for r in grid_ratios()}
    best = max(blends, key=lambda r: (blends[r]["ndcg@10"], blends[r]["recall@10"]))
    return {
        "dims": dims,
        "scaling": scaling,
        "row_norm": row_norm,
        "collab": averaged(alone),
        "collab_ndcg_by_seed": [a["ndcg@10"] for a in alone],
        "best_blend": {"pop_over_collab": best, **blends[best]},
        "blends": {str(r): m for r, m in blends.items()},
    }


def variant_rows(bench: Bench, pop: np.ndarray) -> list[dict[str, Any]]:
    return [
        variant_row(bench, pop, dims=dims, scaling=scaling, row_norm=row_norm)
        for dims in VARIANT_DIMS
        for scaling in SCALINGS
        for row_norm in (True, False)
    ]


def seed_rows(bench: Bench) -> list[dict[str, Any]]:
    """``fit_item_factors`` under each of ``SEEDS``: fit time and how much is SVD noise."""
    rows = []
    for seed in SEEDS:
        factors, fit = default_factors(bench, seed)
        cos = collab_scores(bench.weights, factors)
        rows.append({"seed": seed, "fit_seconds": fit["fit_seconds"], **score_metrics(bench, cos)})
    return rows


def product_sweep(bench: Bench, collab_cos: np.ndarray) -> list[dict[str, float]]:
    """Collaborative weights next to the default popularity weight, with the scorer's own
    popularity feature ``min(1, ln(1 + clicks + likes) / popularity_norm)``."""
    pop = np.minimum(1.0, np.log1p(bench.activity) / DEFAULT_PARAMS["popularity_norm"])
    weight = DEFAULT_WEIGHTS.popularity
    return [
        {
            "collab": a,
            "popularity": weight,
            **score_metrics(bench, a * collab_cos + weight * pop[None, :]),
        }
        for a in PRODUCT_COLLAB_WEIGHTS
    ]


def run(data_dir: Path, *, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    import sklearn.decomposition  # noqa: F401  (imported here so the fit timing leaves it out)

    started = time.perf_counter()
    bench = prepare(data_dir)
    pop = popularity_norm(bench.positives)
    factors, fit = default_factors(bench, seed)
    collab_cos = collab_scores(bench.weights, factors)
    matrix, _, items = collab.implicit_matrix(bench.training)
    check = fit_variant(matrix, dims=32, power=0.5, row_norm=False, seed=seed)
    reproduced = float(np.abs(on_catalogue(items, check, bench.ids) - factors).max())
    methods = {**baseline_rows(bench), "collab": score_metrics(bench, collab_cos)}
    sweep = ratio_sweep(bench, collab_cos, pop, grid_ratios())
    return {
        "dataset": "movielens ml-latest-small",
        "split": "per-user time split (plugin.app.evaluation.movielens.build_split); "
        "candidates = movies "
        "not rated or tagged in training; relevant = test positives",
        "users": len(bench.users),
        "catalogue": len(bench.ids),
        "test_items": sum(len(t) for t in bench.test),
        "training_events": len(bench.training),
        "user_vector": {
            "event_weights": dict(EVENT_WEIGHTS),
            "half_life_days": InterestParams().long_half_life_days,
            "half_life_events": InterestParams().long_half_life_events,
        },
        "popularity": "pop_norm = log1p(positive training ratings) / log1p(max)",
        "popularity_max_count": float(bench.positives.max()),
        "fit": fit,
        "variant_reproduces_default_max_abs_diff": reproduced,
        "methods": methods,
        "blends": blend_grid(sweep),
        "ratio_sweep": {str(r): m for r, m in sweep.items()},
        "product_popularity_sweep": product_sweep(bench, collab_cos),
        "variants": variant_rows(bench, pop),
        "variant_seeds": list(SEEDS),
        "seeds": seed_rows(bench),
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- output --------------------------------------------------------------------------

HEADER = f"{'method':<44} {'ndcg@10':>8} {'recall@10':>9}"


def _row(name: str, values: dict[str, Any]) -> str:
    return f"{name:<44} {values['ndcg@10']:>8.4f} {values['recall@10']:>9.4f}"


def _variant_line(variant: dict[str, Any]) -> str:
    label = f"{variant['dims']}d {variant['scaling']} rownorm={'y' if variant['row_norm'] else 'n'}"
    best = variant["best_blend"]
    return (
        f"{_row(label, variant['collab'])}  | {best['pop_over_collab']:<9g}"
        f"{best['ndcg@10']:>8.4f} {best['recall@10']:>9.4f}"
    )


def table(result: dict[str, Any]) -> list[str]:
    lines = [f"{result['users']} users, {result['catalogue']} movies", HEADER]
    lines += [_row(name, values) for name, values in result["methods"].items()]
    for blend in result["blends"][:BEST_BLENDS]:
        ratio = blend["pop_over_collab"]
        lines.append(
            _row(f"collab {blend['collab']} + pop {blend['popularity']} (b/a {ratio:g})", blend)
        )
    lines += ["", "collab + r * pop_norm, by r:"]
    lines += [_row(f"r = {r}", m) for r, m in result["ratio_sweep"].items()]
    lines += ["", "a * collab + 0.05 * min(1, ln(1 + clicks + likes) / 6.9), by a:"]
    lines += [_row(f"a = {row['collab']}", row) for row in result["product_popularity_sweep"]]
    seeds = ", ".join(str(s) for s in result["variant_seeds"])
    lines += [
        "",
        f"variants, mean of seeds {seeds}: collab only | best b/a, its ndcg@10 recall@10",
        HEADER,
    ]
    lines += [_variant_line(v) for v in result["variants"]]
    lines += ["", "fit_item_factors by SVD seed (collab only):"]
    lines += [
        _row(f"seed {row['seed']}", row) + f"  fit {row['fit_seconds']} s"
        for row in result["seeds"]
    ]
    fit = result["fit"]
    lines.append(
        f"\nfit_item_factors: {fit['fit_seconds']} s on {result['training_events']} training "
        f"events ({fit['interactions']} user-item pairs, {fit['items']} items); "
        f"total {result['seconds']} s"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the shared data folder (e.g. ../shared/data)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    result = run(args.data_dir, seed=args.seed)
    print("\n".join(table(result)))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
