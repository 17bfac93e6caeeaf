"""Calibrated text similarity: the catalogue's centre and scale, fitted per model (pure).

Sentence encoders give every pair of texts a share of one common direction (e5 rates almost
any two texts above cosine 0.8; USE less so), and a user's interest vector, an average of many
texts, leans on that direction most: raw cosines tell related from unrelated items by a small
margin. The calibration takes the catalogue's mean item vector away from both sides before the
cosine (``centre``), so unrelated items sit near 0, and rescales so that 1 is what an item's
nearest neighbour in a sample of the catalogue typically gets (``scale``). The scorer applies
it to the interest and query components (``plugin.blend``: ``centre``, ``similarity_scale``);
approximate retrieval searches near the centred vector.

Stored shape (``_meta.calibration`` of the items index)::

    {"version": 2, "model": "use-multilingual-v3", "dims": 512, "centre": [...],
     "scale": 0.40, "floor": 0.0, "items": 1500, "sample": 1000, "fitted_at": "..."}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plugin.errors import InputError

# Items whose nearest neighbour defines the scale: a fixed sample size, so the scale does not
# creep up as the catalogue grows (a bigger catalogue has closer nearest neighbours).
SCALE_SAMPLE = 1000
# Below this many items the centre says more about the few items than about the model.
MIN_ITEMS = 20
# Near-copies (the same text indexed twice) would pull the scale to 1.
DUPLICATE_COSINE = 0.98
# A scale this low would call a weak match a full one (a catalogue of one topic).
MIN_SCALE = 0.2


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration of one model's vectors on one catalogue."""

    centre: tuple[float, ...]
    scale: float
    floor: float
    model: str
    dims: int
    items: int
    version: int = 1
    fitted_at: str | None = None

    def to_meta(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model": self.model,
            "dims": self.dims,
            "centre": [round(v, 7) for v in self.centre],
            "scale": round(self.scale, 6),
            "floor": round(self.floor, 6),
            "items": self.items,
            "sample": min(self.items, SCALE_SAMPLE),
            "fitted_at": self.fitted_at,
        }


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    keep = (norms[:, 0] > 0) & np.all(np.isfinite(vectors), axis=1)
    return np.asarray(vectors[keep] / norms[keep], dtype=np.float64)


def fit_calibration(
    vectors: np.ndarray | Sequence[Sequence[float]],
    *,
    model: str,
    version: int = 1,
    fitted_at: str | None = None,
    seed: int = 0,
) -> Calibration:
    """The centre (mean unit item vector) and scale of a catalogue's item vectors.

    ``scale`` is the median, over a sample of ``SCALE_SAMPLE`` items, of each item's largest
    centred cosine to another sampled item (near-copies left out), at least ``MIN_SCALE``;
    ``floor`` is the median centred cosine of the sample's pairs, at least 0 (by
    construction about 0: unrelated items).

    Raises:
        InputError: fewer than ``MIN_ITEMS`` usable vectors, or not a 2-d array.
    """
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise InputError(f"expected a 2-d array of item vectors, got shape {matrix.shape}")
    units = _unit_rows(matrix)
    if len(units) < MIN_ITEMS:
        raise InputError(
            f"calibration needs at least {MIN_ITEMS} item vectors, the catalogue has {len(units)}"
        )
    centre = units.mean(axis=0)
    rng = np.random.default_rng(seed)
    sample = units[rng.permutation(len(units))[:SCALE_SAMPLE]] - centre
    sample /= np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
    cosines = sample @ sample.T
    np.fill_diagonal(cosines, -1.0)
    cosines[cosines >= DUPLICATE_COSINE] = -1.0
    nearest = float(np.median(cosines.max(axis=1)))
    pairs = cosines[np.triu_indices(len(sample), 1)]
    floor = max(0.0, float(np.median(pairs))) if len(pairs) else 0.0
    scale = min(1.0, max(nearest, MIN_SCALE, floor + 0.05))
    return Calibration(
        centre=tuple(float(v) for v in centre),
        scale=scale,
        floor=floor,
        model=model,
        dims=int(units.shape[1]),
        items=len(units),
        version=version,
        fitted_at=fitted_at,
    )


def calibration_from_meta(meta: Mapping[str, Any], *, model: str, dims: int) -> Calibration | None:
    """The calibration in ``_meta``, or None when there is none, it belongs to another model
    or size (fitted before a rebuild with another model), or it is malformed."""
    raw = meta.get("calibration")
    if not isinstance(raw, Mapping) or raw.get("model") != model:
        return None
    centre = raw.get("centre")
    if not isinstance(centre, list) or len(centre) != dims or dims <= 0:
        return None
    try:
        values = tuple(float(v) for v in centre)
        scale, floor = float(raw["scale"]), float(raw.get("floor", 0.0))
        version, items = int(raw.get("version", 1)), int(raw.get("items", 0))
    except (KeyError, TypeError, ValueError):
        return None
    finite = all(math.isfinite(v) for v in (*values, scale, floor))
    if not finite or not 0.0 <= floor < scale <= 1.0:
        return None
    return Calibration(
        centre=values,
        scale=scale,
        floor=floor,
        model=model,
        dims=dims,
        items=items,
        version=version,
        fitted_at=raw.get("fitted_at"),
    )


def centred(vector: Sequence[float], centre: Sequence[float] | None) -> list[float]:
    """unit(vector) - centre, as a list: what approximate retrieval searches near, so that the
    nearest items by the index's cosine are close to the ones the calibrated scorer favours."""
    array = np.asarray(vector, dtype=np.float64)
    if centre is None:
        return [float(v) for v in array]
    norm = float(np.linalg.norm(array))
    if norm == 0.0:
        return [float(v) for v in array]
    shifted = array / norm - np.asarray(centre, dtype=np.float64)
    if not np.any(shifted):
        return [float(v) for v in array]
    return [float(v) for v in shifted]
