"""Blend weights learned from logged impressions and clicks (pure: plain data in and out).

Each logged hit carries its *weighted* components (weight x raw value). Dividing by the weight
that ranked it gives the raw component values, the features; the label is whether the hit was
clicked. A logistic regression on those features, with negative coefficients clipped to 0 and
the rest normalised to sum 1, is the proposed blend. Held-out requests (split by request id)
are re-ranked with the current and the proposed weights to compare NDCG@10 and Recall@10.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugin.errors import InputError
from plugin.types import WEIGHT_NAMES

DEFAULT_SEED = 7
DEFAULT_TEST_FRACTION = 0.25
DEFAULT_K = 10
MIN_CLICKS = 5
# Weak L2 penalty: the features are few and bounded, the logs are the signal.
LOGREG_C = 10.0


@dataclass(frozen=True)
class Impression:
    """One shown hit: its request, item, raw (unweighted) components and whether it was clicked."""

    request_id: str
    item: str
    raw: Mapping[str, float]
    clicked: bool
    rank: int = 0


def raw_components(components: Mapping[str, Any], weights: Mapping[str, float]) -> dict[str, float]:
    """Weighted components divided by the weights that made them (0 where the weight was 0)."""
    raw: dict[str, float] = {}
    for name in WEIGHT_NAMES:
        value = components.get(name)
        weight = float(weights.get(name, 0.0))
        if isinstance(value, int | float) and math.isfinite(value) and weight > 0:
            raw[name] = float(value) / weight
        else:
            raw[name] = 0.0
    return raw


def impressions_from_log(
    docs: Iterable[Mapping[str, Any]],
    *,
    weights_by_version: Mapping[int, Mapping[str, float]],
    current: Mapping[str, float],
    skipped: Counter[int] | None = None,
) -> list[Impression]:
    """Join feedback-log documents (``kind`` impression/click) into labelled impressions.

    A click is joined to the impression of the same request id and item; a click without a
    request id marks every impression of that user and item. An impression document may also
    carry ``clicked: true`` itself (hand-made logs).

    Args:
        docs: documents as stored in ``{prefix}-feedback`` (or the same shape from JSONL).
        weights_by_version: blend version to its weights, to undo each impression's weighting.
        current: weights for impressions that carry no ``weights_version``.
        skipped: filled with the versions of impressions left out because their weights are
            no longer in the history (undoing them with other weights would mislabel them).
    """
    impressions: list[dict[str, Any]] = []
    clicked_requests: set[tuple[str, str]] = set()
    clicked_users: set[tuple[str, str]] = set()
    for doc in docs:
        kind = doc.get("kind", "impression")
        item = str(doc.get("item", ""))
        if kind == "click":
            if doc.get("request_id"):
                clicked_requests.add((str(doc["request_id"]), item))
            elif doc.get("user"):
                clicked_users.add((str(doc["user"]), item))
        elif kind == "impression" and doc.get("request_id") and item:
            impressions.append(dict(doc))
    result = []
    for doc in impressions:
        request_id, item = str(doc["request_id"]), str(doc["item"])
        version = doc.get("weights_version")
        if version is None:
            weights = current
        elif int(version) in weights_by_version:
            weights = weights_by_version[int(version)]
        else:
            if skipped is not None:
                skipped[int(version)] += 1
            continue
        clicked = (
            bool(doc.get("clicked"))
            or (request_id, item) in clicked_requests
            or (str(doc.get("user", "")), item) in clicked_users
        )
        result.append(
            Impression(
                request_id=request_id,
                item=item,
                raw=raw_components(doc.get("components") or {}, weights),
                clicked=clicked,
                rank=int(doc.get("rank") or 0),
            )
        )
    return result


def split_by_request(
    impressions: Sequence[Impression],
    *,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = DEFAULT_SEED,
) -> tuple[list[Impression], list[Impression]]:
    """Fit and held-out impressions; all hits of one request land on the same side."""
    requests = sorted({imp.request_id for imp in impressions})
    random.Random(seed).shuffle(requests)
    held = set(requests[: max(1, round(len(requests) * test_fraction))]) if requests else set()
    fit = [imp for imp in impressions if imp.request_id not in held]
    test = [imp for imp in impressions if imp.request_id in held]
    return fit, test


def fit_weights(impressions: Sequence[Impression]) -> dict[str, float]:
    """Logistic regression of clicks on raw components -> non-negative weights summing to 1.

    Raises:
        InputError: too few clicks or non-clicks, or no component helps (all coefficients <= 0).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    clicks = sum(imp.clicked for imp in impressions)
    if clicks < MIN_CLICKS or len(impressions) - clicks < MIN_CLICKS:
        raise InputError(
            f"need at least {MIN_CLICKS} clicked and {MIN_CLICKS} unclicked impressions, "
            f"got {clicks} of {len(impressions)}"
        )
    x = np.array([[imp.raw.get(name, 0.0) for name in WEIGHT_NAMES] for imp in impressions])
    y = np.array([int(imp.clicked) for imp in impressions])
    model = LogisticRegression(C=LOGREG_C, max_iter=1000)
    model.fit(x, y)
    coef = np.clip(model.coef_[0], 0.0, None)
    # A component that never varied in the log (always 0) says nothing: keep it at 0.
    coef[x.std(axis=0) == 0] = 0.0
    total = float(coef.sum())
    if total <= 0:
        raise InputError("no component predicts clicks in this log (all coefficients <= 0)")
    return {name: round(float(c) / total, 4) for name, c in zip(WEIGHT_NAMES, coef, strict=True)}


def _score(imp: Impression, weights: Mapping[str, float]) -> float:
    return math.fsum(weights.get(name, 0.0) * imp.raw.get(name, 0.0) for name in WEIGHT_NAMES)


def ranking_metrics(
    impressions: Sequence[Impression], weights: Mapping[str, float], *, k: int = DEFAULT_K
) -> dict[str, float]:
    """Mean NDCG@k and Recall@k over requests with a click, re-ranked by ``weights``."""
    by_request: dict[str, list[Impression]] = defaultdict(list)
    for imp in impressions:
        by_request[imp.request_id].append(imp)
    ndcgs, recalls = [], []
    for hits in by_request.values():
        relevant = sum(imp.clicked for imp in hits)
        if not relevant:
            continue
        # Ties keep the logged order, so equal weights reproduce the original ranking.
        ranked = sorted(hits, key=lambda imp: (-_score(imp, weights), imp.rank))[:k]
        dcg = sum(1 / math.log2(i + 2) for i, imp in enumerate(ranked) if imp.clicked)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(relevant, k)))
        ndcgs.append(dcg / ideal)
        recalls.append(sum(imp.clicked for imp in ranked) / relevant)
    count = len(ndcgs)
    return {
        f"ndcg@{k}": round(math.fsum(ndcgs) / count, 4) if count else 0.0,
        f"recall@{k}": round(math.fsum(recalls) / count, 4) if count else 0.0,
        "requests": count,
    }


def propose_weights(
    impressions: Sequence[Impression],
    current: Mapping[str, float],
    *,
    seed: int = DEFAULT_SEED,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> dict[str, Any]:
    """Fit on part of the requests, compare current vs proposed weights on the rest.

    Returns:
        ``{"current", "proposed", "metrics": {"current", "proposed"}, "split"}``.

    Raises:
        InputError: the log is empty or cannot be fitted (see ``fit_weights``).
    """
    if not impressions:
        raise InputError("the log holds no impressions")
    fit, test = split_by_request(impressions, test_fraction=test_fraction, seed=seed)
    proposed = fit_weights(fit)
    return {
        "current": {name: float(current.get(name, 0.0)) for name in WEIGHT_NAMES},
        "proposed": proposed,
        "metrics": {
            "current": ranking_metrics(test, current),
            "proposed": ranking_metrics(test, proposed),
        },
        "split": {
            "by": "request_id",
            "seed": seed,
            "test_fraction": test_fraction,
            "fit_impressions": len(fit),
            "test_impressions": len(test),
            "fit_clicks": sum(imp.clicked for imp in fit),
        },
    }
