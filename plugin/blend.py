"""The blend maths of the native scorer (lang ``interest``, source ``blend``) in Python.

This mirrors the Java scorer term for term, so the portable mode scores with the same formulas
and tests can check a native score against it. Every component is in [0, 1] before weighting:

* bm25          s / (s + bm25_k), s = the subquery ``_score`` (0 when s <= 0)
* interest      (1 - beta) * sim(u, item) + beta * max_c sim(c, item) * cw_c,
                u = (1 - alpha) * long_term + alpha * short_term (an absent vector adds nothing);
                without clusters the first part alone, without u the second alone
* query         sim(query_vector, item)
* sim(a, b)     clamp((cos - similarity_floor) / (similarity_scale - similarity_floor), 0, 1),
                cos = cos(a, b), or with a ``centre`` (the catalogue calibration) the cosine of
                unit(a) - centre and unit(b) - centre
* freshness     2 ** (-age_days / half_life_days); age clamped at 0, so a future date is 1
* category      clamp(category_affinity[item category], 0, 1); the best of several categories
* popularity    min(1, ln(1 + max(0, popularity)) / popularity_norm)
* collaborative max(0, cos(collab_vector, item collab))
* neighbours    clamp(neighbour_scores[item id], 0, 1), the id being the item's ``id_field`` value

A missing field or vector makes its component 0; a zero vector has cosine 0; an absent
parameter takes the Java scorer's default (``now_millis``: the time of the call). The
weighted components add up to the score. ``cluster`` is the index of the cluster whose weighted
cosine is largest (first on ties), or -1 when no cluster contributes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from plugin.errors import InputError
from plugin.types import WEIGHT_NAMES, BlendBreakdown

logger = logging.getLogger(__name__)

SCRIPT_LANG = "interest"
SCRIPT_SOURCE = "blend"

# Field names and parameter defaults the scorer uses when a param is absent; the builders in
# plugin.queries always send them explicitly.
VECTOR_FIELD = "embedding"
FRESHNESS_FIELD = "created_at"
CATEGORY_FIELD = "category"
POPULARITY_FIELD = "popularity"
COLLAB_FIELD = "collab"
ID_FIELD = "id"
DEFAULT_BM25_K = 5.0
DEFAULT_HALF_LIFE_DAYS = 14.0
DEFAULT_POPULARITY_NORM = math.log1p(1000)  # 1,000 interactions saturate the component
# The Java scorer's defaults for absent params (BlendParams.parse); the golden cases in
# engine/src/test/resources/golden/blend-cases.json hold both sides to them.
DEFAULT_SHORT_TERM_WEIGHT = 0.5
DEFAULT_CLUSTER_MIX = 0.5
MILLIS_PER_DAY = 86_400_000.0

FloatArray = npt.NDArray[np.float64]


def _first(value: object) -> object:
    """A document value from ``_source`` (scalar) or ``fields`` (list): its first element."""
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _vector(name: str, value: object) -> FloatArray | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) == 0:
        raise InputError(f"{name} must be a non-empty list of numbers")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a list of numbers") from None
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise InputError(f"{name} must be a flat list of finite numbers")
    return array


def _cosine(a: FloatArray | None, b: FloatArray | None, what: str) -> float:
    """Cosine of two vectors; 0 when either is absent or has zero length."""
    if a is None or b is None:
        return 0.0
    if a.shape != b.shape:
        raise InputError(f"{what}: vector has {a.shape[0]} dims, the item has {b.shape[0]}")
    norms = float(np.linalg.norm(a)) * float(np.linalg.norm(b))
    if norms == 0.0:
        return 0.0
    return float(np.dot(a, b)) / norms


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"param {key!r} must be a finite number, got {value!r}")
    return float(value)


def _fraction(params: Mapping[str, Any], key: str, default: float) -> float:
    value = _number(params, key, default)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"param {key!r} must be in [0, 1], got {value!r}")
    return value


def _cluster_weight(index: int, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InputError(f"cluster_weights[{index}] must be a number in [0, 1], got {value!r}")
    return float(value)


def _positive(params: Mapping[str, Any], key: str, default: float) -> float:
    value = _number(params, key, default)
    if value <= 0:
        raise InputError(f"param {key!r} must be > 0, got {value!r}")
    return value


def _weights(params: Mapping[str, Any]) -> dict[str, float]:
    raw = params.get("weights") or {}
    if not isinstance(raw, Mapping):
        raise InputError("param 'weights' must be an object")
    weights = dict.fromkeys(WEIGHT_NAMES, 0.0)
    for key, value in raw.items():
        if key not in weights:
            raise InputError(f"unknown weight {key!r}")
        weights[key] = _number(raw, key, 0.0)
        if weights[key] < 0:
            raise InputError(f"weight {key!r} must be >= 0, got {value!r}")
    return weights


def to_millis(value: object) -> float | None:
    """Epoch milliseconds of a date as Elasticsearch accepts it (ISO 8601 or epoch millis)."""
    value = _first(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return float(text)
    if len(text) in (4, 7):  # "2024" and "2024-05" are valid Elasticsearch dates
        text = f"{text}-01-01" if len(text) == 4 else f"{text}-01"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        logger.warning("date %r is not ISO 8601; its freshness counts as 0", text[:40])
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0


def _rescaled(cosine: float, floor: float, scale: float = 1.0) -> float:
    """Map [floor, scale] onto [0, 1], clamped: models such as e5 put unrelated texts at cosine
    ~0.75, and a calibration says which cosine counts as a full match."""
    return min(1.0, max(0.0, (min(cosine, 1.0) - floor) / (scale - floor)))


def _floor(params: Mapping[str, Any]) -> float:
    value = _number(params, "similarity_floor", 0.0)
    if not 0.0 <= value < 1.0:
        raise InputError(f"param 'similarity_floor' must be in [0, 1), got {value!r}")
    return value


def _scale(params: Mapping[str, Any], floor: float) -> float:
    value = _number(params, "similarity_scale", 1.0)
    if not floor < value <= 1.0:
        raise InputError(
            f"param 'similarity_scale' must be in (similarity_floor, 1] = ({floor}, 1], "
            f"got {value!r}"
        )
    return value


class _TextSpace:
    """Text cosines as the scorer takes them: of both vectors minus ``centre`` (the
    calibration) when one is given, then rescaled by floor and scale. The item's centred
    vector is formed once, for every vector it is compared with."""

    def __init__(self, params: Mapping[str, Any], item: FloatArray | None, field: str) -> None:
        self.floor = _floor(params)
        self.scale = _scale(params, self.floor)
        self.centre = _vector("centre", params.get("centre"))
        self.item = item
        self.field = field
        self.centred_item: FloatArray | None = None
        if self.centre is not None and item is not None:
            if self.centre.shape != item.shape:
                dims = self.centre.shape[0]
                raise InputError(f"centre has {dims} dims, the item has {item.shape[0]}")
            unit = _unit(item)
            self.centred_item = None if unit is None else unit - self.centre

    def similarity(self, vector: FloatArray | None, what: str) -> float:
        if vector is None or self.item is None:
            return 0.0
        if self.centre is None:
            cosine = _cosine(vector, self.item, f"{self.field} vs {what}")
        else:
            # Both as unit vectors first, as the scorer has them, then minus the centre.
            if vector.shape != self.item.shape:
                raise InputError(
                    f"{self.field} vs {what}: vector has {vector.shape[0]} dims, "
                    f"the item has {self.item.shape[0]}"
                )
            unit = _unit(vector)
            if unit is None or self.centred_item is None:
                return 0.0
            cosine = _cosine(unit - self.centre, self.centred_item, f"{self.field} vs {what}")
        return _rescaled(cosine, self.floor, self.scale)


def _unit(vector: FloatArray) -> FloatArray | None:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


def _bm25(score: float, k: float) -> float:
    if score == math.inf:
        return 1.0
    if not math.isfinite(score) or score <= 0:
        return 0.0
    return score / (score + k)


def _interest(
    item: FloatArray | None, params: Mapping[str, Any], space: _TextSpace
) -> tuple[float, int]:
    alpha = _fraction(params, "short_term_weight", DEFAULT_SHORT_TERM_WEIGHT)
    beta = _fraction(params, "cluster_mix", DEFAULT_CLUSTER_MIX)
    long_term = _vector("long_term", params.get("long_term"))
    short_term = _vector("short_term", params.get("short_term"))
    user: FloatArray | None = None
    if long_term is not None:
        user = (1.0 - alpha) * long_term
    if short_term is not None:
        if user is not None and user.shape != short_term.shape:
            raise InputError("long_term and short_term have different lengths")
        user = alpha * short_term if user is None else user + alpha * short_term
    overall = space.similarity(user, "user vector")

    clusters = params.get("clusters") or []
    cluster_weights = params.get("cluster_weights") or []
    if not isinstance(clusters, Sequence) or not isinstance(cluster_weights, Sequence):
        raise InputError("clusters and cluster_weights must be lists")
    if len(clusters) != len(cluster_weights):
        raise InputError(f"{len(clusters)} clusters but {len(cluster_weights)} cluster_weights")
    best, best_index = 0.0, -1
    for index, (raw_vector, raw_weight) in enumerate(zip(clusters, cluster_weights, strict=True)):
        weight = _cluster_weight(index, raw_weight)
        vector = _vector(f"clusters[{index}]", raw_vector)
        value = space.similarity(vector, f"clusters[{index}]") * weight
        if value > best:
            best, best_index = value, index
    # Either part alone when the other is absent, as the Java scorer does.
    if not clusters:
        return overall, best_index
    if user is None:
        return best, best_index
    return (1.0 - beta) * overall + beta * best, best_index


def _freshness(doc: Mapping[str, Any], params: Mapping[str, Any]) -> float:
    field = str(params.get("freshness_field", FRESHNESS_FIELD))
    created = to_millis(doc.get(field))
    if created is None:
        return 0.0
    # Absent, the request's own time (the Java scorer's default too).
    now = _number(params, "now_millis", time.time() * 1000.0)
    half_life = _positive(params, "half_life_days", DEFAULT_HALF_LIFE_DAYS)
    age_days = max(0.0, (now - created) / MILLIS_PER_DAY)
    return float(2.0 ** (-age_days / half_life))


def _category(doc: Mapping[str, Any], params: Mapping[str, Any]) -> float:
    affinity = params.get("category_affinity") or {}
    if not isinstance(affinity, Mapping):
        raise InputError("param 'category_affinity' must be an object")
    value = doc.get(str(params.get("category_field", CATEGORY_FIELD)))
    categories = value if isinstance(value, list | tuple) else [value]
    best = 0.0
    for category in categories:
        if category is None or str(category) not in affinity:
            continue
        aff = _number(affinity, str(category), 0.0)
        best = max(best, min(1.0, max(0.0, aff)))
    return best


def _neighbours(doc: Mapping[str, Any], params: Mapping[str, Any]) -> float:
    scores = params.get("neighbour_scores") or {}
    if not isinstance(scores, Mapping):
        raise InputError("param 'neighbour_scores' must be an object")
    item_id = _first(doc.get(str(params.get("id_field", ID_FIELD))))
    # Keyword doc values hold the id as text, so a numeric id matches its string form.
    if item_id is None or str(item_id) not in scores:
        return 0.0
    return min(1.0, max(0.0, _number(scores, str(item_id), 0.0)))


def _popularity(doc: Mapping[str, Any], params: Mapping[str, Any]) -> float:
    value = _first(doc.get(str(params.get("popularity_field", POPULARITY_FIELD))))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    norm = _positive(params, "popularity_norm", DEFAULT_POPULARITY_NORM)
    return min(1.0, math.log1p(max(0.0, float(value))) / norm)


def evaluate(
    item_source: Mapping[str, Any], *, params: Mapping[str, Any], bm25_score: float = 0.0
) -> BlendBreakdown:
    """Blend one item exactly as the native scorer does.

    Args:
        item_source: the item's ``_source`` (or ``fields``: list values are read as their
            first element).
        params: the script params, as built by ``plugin.queries.build_native_params``.
        bm25_score: the lexical subquery's ``_score`` for this item (0 when it did not match).

    Returns:
        The weighted components (summing to ``score``) and the best cluster index.

    Raises:
        InputError: a param is malformed, or a vector's length differs from the item's.
    """
    weights = _weights(params)
    vector_field = str(params.get("vector_field", VECTOR_FIELD))
    collab_field = str(params.get("collab_field", COLLAB_FIELD))
    item = _vector(vector_field, item_source.get(vector_field))
    space = _TextSpace(params, item, vector_field)
    interest, cluster = _interest(item, params, space)
    query_vector = _vector("query_vector", params.get("query_vector"))
    collab_vector = _vector("collab_vector", params.get("collab_vector"))
    raw = {
        "bm25": _bm25(float(bm25_score), _positive(params, "bm25_k", DEFAULT_BM25_K)),
        "interest": interest,
        "query": space.similarity(query_vector, "query_vector"),
        "freshness": _freshness(item_source, params),
        "category": _category(item_source, params),
        "popularity": _popularity(item_source, params),
        "collaborative": max(
            0.0,
            _cosine(
                collab_vector,
                _vector(collab_field, item_source.get(collab_field)),
                f"{collab_field} vs collab_vector",
            ),
        ),
        "neighbours": _neighbours(item_source, params),
    }
    weighted = {name: weights[name] * raw[name] for name in WEIGHT_NAMES}
    return BlendBreakdown(components=weighted, cluster=cluster, score=math.fsum(weighted.values()))


def components(
    item_source: Mapping[str, Any], *, params: Mapping[str, Any], bm25_score: float = 0.0
) -> dict[str, float]:
    """The weighted components of one item (see ``evaluate``)."""
    return evaluate(item_source, params=params, bm25_score=bm25_score).components


def score(
    item_source: Mapping[str, Any], *, params: Mapping[str, Any], bm25_score: float = 0.0
) -> float:
    """The blended score of one item: the sum of its weighted components."""
    return evaluate(item_source, params=params, bm25_score=bm25_score).score
