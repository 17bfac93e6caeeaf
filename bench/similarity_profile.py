"""Where each model's cosines lie, and the profile thresholds that follow from e5's.

Run ``python -m bench.similarity_profile --data-dir DIR``. The texts are a seeded sample of
THUCNews, Toutiao and untagged-genre MovieLens rows (Chinese and English, as a mixed catalogue
holds). For every model it prints the cosine quantiles of all distinct pairs, the mean cosine
of same-label and other-label pairs, and for each threshold of e5's profile (similarity floor,
cluster join, supported join) the cosine at the same quantile of the model's own pairs: a
threshold means "this share of all pairs is below", whatever scale a model's cosines use.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from plugin.app.evaluation.datasets import load_dataset
from plugin.encoder import (
    BGE_ZH,
    BGE_ZH_INT8,
    E5_SMALL,
    KNOWN_MODELS,
    USE_MULTILINGUAL,
    load_encoder,
)
from plugin.errors import PersonalizationError
from plugin.settings import Settings

SETS = ("thucnews", "toutiao", "movielens-tags")
PER_SET = 400
SEED = 13
MODELS = (E5_SMALL, BGE_ZH_INT8, BGE_ZH, USE_MULTILINGUAL)
THRESHOLDS = ("similarity_floor", "cluster_threshold", "cluster_support_threshold")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


def sample(data_dir: str) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(SEED)
    texts: list[str] = []
    labels: list[str] = []
    for name in SETS:
        rows = load_dataset(name, data_dir)
        for i in rng.permutation(len(rows))[:PER_SET]:
            texts.append(rows[i][0])
            labels.append(f"{name}:{rows[i][1]}")
    return texts, labels


def pair_cosines(vectors: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of all distinct pairs, and whether each pair shares a label."""
    sims = vectors @ vectors.T
    upper = np.triu_indices(len(labels), k=1)
    array = np.asarray(labels)
    return sims[upper], array[upper[0]] == array[upper[1]]


def profile(data_dir: str, models: Sequence[str]) -> dict[str, Any]:
    texts, labels = sample(data_dir)
    reference = KNOWN_MODELS[E5_SMALL]
    result: dict[str, Any] = {"texts": len(texts), "sets": list(SETS), "models": {}}
    ranks: dict[str, float] = {}
    for model in (E5_SMALL, *[m for m in models if m != E5_SMALL]):
        encoder = load_encoder(Settings(model=model))
        vectors = np.vstack(
            [encoder.encode(texts[i : i + 32]) for i in range(0, len(texts), 32)]
        ).astype(np.float64)
        cosines, same = pair_cosines(vectors, labels)
        if model == E5_SMALL:
            ranks = {t: float((cosines < getattr(reference, t)).mean()) for t in THRESHOLDS}
            result["e5_quantile_of_threshold"] = {t: round(r, 4) for t, r in ranks.items()}
        result["models"][model] = {
            "quantiles": {str(q): round(float(np.quantile(cosines, q)), 4) for q in QUANTILES},
            "same_label_mean": round(float(cosines[same].mean()), 4),
            "other_label_mean": round(float(cosines[~same].mean()), 4),
            "matched_thresholds": {
                t: round(float(np.quantile(cosines, r)), 3) for t, r in ranks.items()
            },
            "profile": {t: getattr(KNOWN_MODELS[model], t) for t in THRESHOLDS},
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="the shared data directory")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    args = parser.parse_args(argv)
    try:
        result = profile(args.data_dir, [m.strip() for m in args.models.split(",") if m.strip()])
    except PersonalizationError as exc:
        print(f"similarity_profile: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
