"""How well the interest component separates a user's topic from other topics, raw and
calibrated.

Run ``python -m bench.separation --data-dir DIR [--models a,b]``. Per data set, a seeded
sample is split: two thirds are the catalogue (the calibration is fitted on it, as the worker
task does on the items index), the other third are the items scored. A simulated interest is
the mean of 10 catalogue items of one category (five draws per category). For each scored
item the interest component is computed as the scorer does (``plugin.blend.evaluate``, weight
1): raw (the model's profile floor, no centre) and calibrated (centre, floor and scale of the
catalogue). Printed as JSON per model and set: the mean component for items of the interest's
category and of other categories, the gap, its ratio calibrated / raw, and the 99th percentile
of the other-category values, and the shares of same- and other-category items at or above
``REASON_MIN_STRENGTH`` (where a reason may name the interest).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from plugin.app.evaluation.datasets import load_dataset
from plugin.calibration import Calibration, fit_calibration
from plugin.encoder import KNOWN_MODELS, USE_MULTILINGUAL, load_encoder
from plugin.errors import PersonalizationError
from plugin.queries.limits import REASON_MIN_STRENGTH
from plugin.settings import Settings

SETS = ("thucnews", "toutiao", "movielens-tags")
PER_SET = 1500
SEED = 1
INTEREST_ITEMS = 10
DRAWS = 5


def component(
    items: np.ndarray, interest: np.ndarray, *, floor: float, calibration: Calibration | None
) -> np.ndarray:
    """The interest component of every row of ``items`` (unit vectors) for one interest vector,
    vectorised but term for term ``plugin.blend``'s (tests/unit/test_calibration.py checks
    the blend's own gap on the same formula)."""
    unit = interest / np.linalg.norm(interest)
    if calibration is None:
        cosines = items @ unit
        scale = 1.0
    else:
        centre = np.asarray(calibration.centre)
        shifted = items - centre
        shifted /= np.linalg.norm(shifted, axis=1, keepdims=True)
        target = unit - centre
        cosines = shifted @ (target / np.linalg.norm(target))
        floor, scale = calibration.floor, calibration.scale
    return np.clip((np.minimum(cosines, 1.0) - floor) / (scale - floor), 0.0, 1.0)


def separation(data_dir: str, models: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"per_set": PER_SET, "interest_items": INTEREST_ITEMS, "models": {}}
    for model in models:
        encoder = load_encoder(Settings(model=model))
        floor = KNOWN_MODELS[model].similarity_floor
        per_model: dict[str, Any] = {}
        for name in SETS:
            rows = load_dataset(name, data_dir)
            rng = np.random.default_rng(SEED)
            chosen = [rows[i] for i in rng.permutation(len(rows))[:PER_SET]]
            texts = [text for text, _ in chosen]
            labels = np.asarray([label for _, label in chosen])
            vectors = np.vstack(
                [encoder.encode(texts[i : i + 32]) for i in range(0, len(texts), 32)]
            ).astype(np.float64)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            split = len(vectors) * 2 // 3
            catalogue, scored = vectors[:split], vectors[split:]
            known, truth = labels[:split], labels[split:]
            calibration = fit_calibration(catalogue, model=model)
            values: dict[str, dict[str, list[float]]] = {
                "raw": {"same": [], "other": []},
                "calibrated": {"same": [], "other": []},
            }
            for label in sorted(set(known)):
                members = np.flatnonzero(known == label)
                if len(members) < INTEREST_ITEMS or not np.any(truth == label):
                    continue
                for _ in range(DRAWS):
                    interest = catalogue[rng.choice(members, INTEREST_ITEMS, replace=False)].mean(0)
                    for kind, cal in (("raw", None), ("calibrated", calibration)):
                        got = component(scored, interest, floor=floor, calibration=cal)
                        values[kind]["same"] += got[truth == label].tolist()
                        values[kind]["other"] += got[truth != label].tolist()
            summary = {}
            for kind, parts in values.items():
                same, other = np.asarray(parts["same"]), np.asarray(parts["other"])
                summary[kind] = {
                    "same_mean": round(float(same.mean()), 4),
                    "other_mean": round(float(other.mean()), 4),
                    "gap": round(float(same.mean() - other.mean()), 4),
                    "other_p99": round(float(np.quantile(other, 0.99)), 4),
                    "same_at_reason": round(float((same >= REASON_MIN_STRENGTH).mean()), 4),
                    "other_at_reason": round(float((other >= REASON_MIN_STRENGTH).mean()), 4),
                }
            summary["gap_ratio"] = round(summary["calibrated"]["gap"] / summary["raw"]["gap"], 2)
            summary["calibration"] = {
                "scale": round(calibration.scale, 4),
                "floor": round(calibration.floor, 4),
                "items": calibration.items,
            }
            per_model[name] = summary
        result["models"][model] = per_model
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="the shared data directory")
    parser.add_argument("--models", default=USE_MULTILINGUAL, help="comma-separated models")
    args = parser.parse_args(argv)
    try:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        result = separation(args.data_dir, models)
    except PersonalizationError as exc:
        print(f"separation: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
