"""The interest state: decayed vectors, clusters, affinities, the decay arithmetic and readers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from indexer.interests.params import (
    DAY_MS,
    DEFAULT_PARAMS,
    EPS,
    EVENT_WEIGHTS,
    LABEL_KEYWORDS,
    LABEL_MIN_SHARE,
    TOPIC_CATEGORY_SHARE,
    TOPIC_KEYWORDS,
    InterestParams,
)
from plugin.errors import InputError


@dataclass(frozen=True, eq=False)
class InterestEvent:
    """One thing a user did, already encoded.

    Attributes:
        kind: one of ``EVENT_WEIGHTS``.
        time_ms: when it happened, epoch milliseconds.
        vector: the text/item embedding (normalised here), or None when there is none.
        category: the item's or post's category, if any.
        keywords: keyword -> weight, e.g. from ``indexer.segment.keywords``.
        item_id: the item acted on, if any.
        intensity: multiplies the event weight, e.g. ``indexer.intensity.intensity``.
        label: a readable hint (an item title) for naming a cluster with no keywords.
        collab: the item's collaborative factors (``indexer.collab``), if it has any.
        collab_version: the version of the factors ``collab`` comes from.
    """

    kind: str
    time_ms: int
    vector: np.ndarray | Sequence[float] | None = None
    category: str | None = None
    keywords: Mapping[str, float] = field(default_factory=dict)
    item_id: str | None = None
    intensity: float = 1.0
    label: str | None = None
    collab: np.ndarray | Sequence[float] | None = None
    collab_version: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_WEIGHTS:
            expected = ", ".join(EVENT_WEIGHTS)
            raise InputError(f"unknown event kind {self.kind!r}; expected one of {expected}")
        object.__setattr__(self, "time_ms", as_time_ms(self.time_ms, "time_ms"))
        if self.vector is not None:
            object.__setattr__(self, "vector", _as_unit_vector(self.vector))
        object.__setattr__(self, "category", _optional_str(self.category, "category"))
        object.__setattr__(self, "item_id", _optional_str(self.item_id, "item_id"))
        object.__setattr__(self, "label", _optional_str(self.label, "label"))
        object.__setattr__(self, "keywords", _as_weights(self.keywords))
        value = self.intensity
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"intensity must be a number, got {type(value).__name__}")
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"intensity must be positive and finite, got {value!r}")
        object.__setattr__(self, "intensity", float(value))
        if self.collab is not None:
            object.__setattr__(self, "collab", _as_unit_vector(self.collab))
            object.__setattr__(self, "collab_version", optional_int(self.collab_version))


@dataclass(frozen=True, eq=False)
class DecayedVector:
    """An exponentially decayed sum of vectors and of their weights, valued at ``ref_ms``."""

    sum: np.ndarray
    mass: float = 0.0
    ref_ms: int | None = None

    @classmethod
    def zeros(cls, dims: int) -> DecayedVector:
        return cls(np.zeros(dims, dtype=np.float64))

    def add(
        self,
        delta: np.ndarray,
        mass_delta: float,
        time_ms: int,
        *,
        half_life_ms: float,
        half_life_events: float = math.inf,
    ) -> DecayedVector:
        """Return a new sum with ``delta`` (already weighted) added at ``time_ms``.

        Args:
            delta: ``weight * vector``.
            mass_delta: what the event adds to the mass (``|weight|`` for strength,
                ``weight`` for a signed cluster weight).
            time_ms: the event's time.
            half_life_ms: time half-life.
            half_life_events: event-count half-life; ``math.inf`` for time-only decay.
        """
        old, new, ref = decay_factors(self.ref_ms, time_ms, half_life_ms, half_life_events)
        return DecayedVector(self.sum * old + delta * new, self.mass * old + mass_delta * new, ref)

    def mass_at(self, time_ms: int, half_life_ms: float) -> float:
        """The mass decayed (never grown) to ``time_ms``."""
        if self.ref_ms is None:
            return self.mass
        return self.mass * halving(max(time_ms - self.ref_ms, 0), half_life_ms)

    def direction(self) -> np.ndarray | None:
        """The unit vector of the sum, or None when it has no direction."""
        norm = float(np.linalg.norm(self.sum))
        if norm <= EPS or not math.isfinite(norm):
            return None
        return self.sum / norm


@dataclass(frozen=True, eq=False)
class Cluster:
    """One interest: a decayed vector sum with a signed decayed weight (``acc.mass``).

    ``keywords`` are decayed together with ``acc`` (same reference time).
    """

    id: int
    acc: DecayedVector
    keywords: Mapping[str, float]
    last_seen_ms: int
    count: int
    label_hint: str | None = None
    categories: Mapping[str, int] = field(default_factory=dict)
    # "What now": the belief (over the user's clusters, summing to 1 at ``recent_ms``) that
    # the user is in this interest now; updated by Bayes' rule at each event (update.py), so a
    # topic the user just switched to leads within a few events, and an old one returns fast.
    recent: float = 0.0
    recent_ms: int | None = None

    def shares_topic(self, event: InterestEvent) -> bool:
        """Evidence beyond the embedding that the event belongs here (see ``topic_match``)."""
        return self.topic_match(event) is True

    def topic_match(self, event: InterestEvent) -> bool | None:
        """True: same topic; False: known to be another topic; None: nothing to go by.

        A categorised event must be of one of the cluster's main categories (at least
        ``TOPIC_CATEGORY_SHARE`` of its categorised events): once a cluster has absorbed one
        event of a new topic, a plain "category seen here" test would let it absorb the whole
        topic. Without a category (or a cluster without any), a keyword in common with the
        cluster's top ``TOPIC_KEYWORDS`` keywords counts, not any of its long tail.
        """
        counted = sum(self.categories.values())
        if event.category and counted:
            return self.categories.get(event.category, 0) >= TOPIC_CATEGORY_SHARE * counted
        top = {word for word, weight in _top_items(self.keywords, TOPIC_KEYWORDS) if weight > 0}
        return True if any(word in top for word in event.keywords) else None

    @property
    def label(self) -> str:
        """Top 2-3 keywords joined by " / "; else the label hint; else "interest N"."""
        ranked = _top_items(self.keywords, LABEL_KEYWORDS)
        positive = [(word, weight) for word, weight in ranked if weight > 0]
        if positive:
            floor = positive[0][1] * LABEL_MIN_SHARE
            return " / ".join(word for word, weight in positive if weight >= floor)
        return self.label_hint or f"interest {self.id}"

    def weight_at(self, time_ms: int, params: InterestParams) -> float:
        return max(self.acc.mass_at(time_ms, params.cluster_half_life_days * DAY_MS), 0.0)


@dataclass(frozen=True, eq=False)
class InterestState:
    """A user's interests. Immutable: ``apply_event`` returns a new one."""

    long_term: DecayedVector | None = None
    short_term: DecayedVector | None = None
    clusters: tuple[Cluster, ...] = ()
    categories: Mapping[str, float] = field(default_factory=dict)
    keywords: Mapping[str, float] = field(default_factory=dict)
    affinity_ref_ms: int | None = None
    recent_items: tuple[str, ...] = ()
    events: int = 0
    last_event_ms: int | None = None
    updated_ms: int | None = None
    next_cluster_id: int = 1
    # Decayed sum of acted-on items' collaborative factors, valid for one factors version.
    collab: DecayedVector | None = None
    collab_version: int | None = None
    # Decayed votes of the items acted on (``vote_weights``), valued at ``votes_ref_ms``: what
    # the items' behaviour neighbours are scored from.
    item_votes: Mapping[str, float] = field(default_factory=dict)
    votes_ref_ms: int | None = None

    @property
    def dims(self) -> int | None:
        """The vector dimension, fixed by the first event with a vector."""
        return None if self.long_term is None else int(self.long_term.sum.shape[0])


def user_vectors(
    state: InterestState, *, params: InterestParams = DEFAULT_PARAMS
) -> dict[str, Any]:
    """Return what the scorer needs: unit vectors, relative cluster weights, affinities.

    Returns:
        ``{"long_term": list | None, "short_term": list | None, "clusters": [(vector,
        weight, label, last_seen_ms)], "categories": {...}, "keywords": {...}}``. Cluster
        weights are relative to the strongest (in [0, 1]), strongest first; affinities are
        scaled so the largest magnitude is 1, negatives kept.
    """
    return {
        "long_term": direction_list(state.long_term),
        "short_term": direction_list(state.short_term),
        "clusters": [
            (readable_vector(direction), weight, cluster.label, cluster.last_seen_ms)
            for cluster, direction, weight in ranked_clusters(state.clusters, params)
        ],
        "categories": normalized(state.categories),
        "keywords": normalized(state.keywords),
    }


def lasting_shares(
    clusters: Sequence[Cluster], time_ms: int, params: InterestParams
) -> list[float]:
    """Each cluster's share of the clusters' lasting weight at ``time_ms`` (equal shares when
    none has any)."""
    weights = [c.weight_at(time_ms, params) for c in clusters]
    total = math.fsum(weights)
    return [w / total if total > 0 else 1.0 / len(weights) for w in weights]


def recent_shares(
    clusters: Sequence[Cluster], now_ms: int, params: InterestParams
) -> dict[int, float]:
    """Cluster id -> the belief that the user is in that interest now (sums to 1).

    The belief formed at the last event relaxes towards the lasting weight shares over time
    (``short_half_life_days``); the lasting shares themselves when no belief was formed yet
    (a new user, or a state from before the belief existed).
    """
    lasting = lasting_shares(clusters, now_ms, params)
    stored_total = math.fsum(max(c.recent, 0.0) for c in clusters)
    half_life_ms = params.short_half_life_days * DAY_MS
    shares = {}
    for c, share in zip(clusters, lasting, strict=True):
        if stored_total <= 0:
            shares[c.id] = share
            continue
        stay = halving(max(now_ms - (c.recent_ms or now_ms), 0), half_life_ms)
        shares[c.id] = stay * max(c.recent, 0.0) / stored_total + (1.0 - stay) * share
    return shares


def halving(age: float, half_life: float) -> float:
    return float(2.0 ** (-age / half_life))


def decay_factors(
    ref_ms: int | None, time_ms: int, half_life_ms: float, half_life_events: float
) -> tuple[float, float, int]:
    """Return (factor for the old sum, factor for the new event, new reference time).

    In time: everything is valued at the newest timestamp, so the newer of the two is
    discounted by nothing and the older by its age. In events: the old sum is one event
    further back, whether the new event is on time or late.
    """
    per_event = halving(1.0, half_life_events)
    if ref_ms is None:
        return per_event, 1.0, time_ms
    if time_ms >= ref_ms:
        return halving(time_ms - ref_ms, half_life_ms) * per_event, 1.0, time_ms
    return per_event, halving(ref_ms - time_ms, half_life_ms), ref_ms


def scaled(values: Mapping[str, float], factor: float) -> dict[str, float]:
    return {key: value * factor for key, value in values.items()}


def add_weights(target: dict[str, float], weights: Mapping[str, float], scale: float) -> None:
    for key, value in weights.items():
        target[key] = target.get(key, 0.0) + value * scale


def bounded(
    values: Mapping[str, float], limit: int, *, positive_only: bool = False
) -> dict[str, float]:
    """Keep the ``limit`` entries of largest magnitude (dropping exact zeros)."""
    items = [(k, v) for k, v in values.items() if (v > 0 if positive_only else v != 0)]
    if len(items) > limit:
        items = sorted(items, key=lambda kv: (-abs(kv[1]), kv[0]))[:limit]
    return dict(items)


def ranked_clusters(
    clusters: Sequence[Cluster], params: InterestParams
) -> list[tuple[Cluster, np.ndarray, float]]:
    """Clusters with a direction and positive weight, strongest first, weights relative.

    All clusters share one half-life, so their weight ratios are the same at any common
    time; the newest reference time is used.
    """
    if not clusters:
        return []
    common = max(c.acc.ref_ms or 0 for c in clusters)
    weighed = []
    for cluster in clusters:
        direction = cluster.acc.direction()
        weight = cluster.weight_at(common, params)
        if direction is not None and weight > 0:
            weighed.append((cluster, direction, weight))
    if not weighed:
        return []
    top = max(weight for _, _, weight in weighed)
    weighed.sort(key=lambda item: (-item[2], item[0].id))
    return [(cluster, direction, weight / top) for cluster, direction, weight in weighed]


def count_shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {name: round(count / total, 4) for name, count in counts.items()} if total else {}


def direction_list(acc: DecayedVector | None) -> list[float] | None:
    if acc is None:
        return None
    direction = acc.direction()
    return None if direction is None else readable_vector(direction)


# Elasticsearch keeps dense vectors as float32; 7 decimals of a unit vector's components are
# below that resolution for cosine (an error of at most 1e-6 in norm) and halve the JSON the
# write path sends and Elasticsearch parses (a float64 repr is ~20 characters).
READABLE_DECIMALS = 7


def readable_vector(direction: np.ndarray) -> list[float]:
    rounded: list[float] = np.round(direction, READABLE_DECIMALS).tolist()
    return rounded


def normalized(values: Mapping[str, float]) -> dict[str, float]:
    """Scale so the largest magnitude is 1; order by value, strongest first."""
    top = max((abs(v) for v in values.values()), default=0.0)
    if top <= 0:
        return {}
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return {key: value / top for key, value in ranked}


def _top_items(values: Mapping[str, float], limit: int) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def iso_time(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _as_unit_vector(value: np.ndarray | Sequence[float]) -> np.ndarray:
    try:
        vector = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"vector is not numeric: {exc}") from exc
    if vector.ndim != 1 or vector.size == 0:
        raise InputError(f"vector must be 1-D and non-empty, got shape {vector.shape}")
    if not np.all(np.isfinite(vector)):
        raise InputError("vector contains NaN or infinity")
    norm = float(np.linalg.norm(vector))
    if norm <= EPS:
        raise InputError("vector is all zeros")
    vector /= norm
    vector.flags.writeable = False
    return vector


def checked_vector(state: InterestState, vector: np.ndarray) -> np.ndarray:
    dims = state.dims
    if dims is None and state.clusters:
        dims = int(state.clusters[0].acc.sum.shape[0])
    if dims is not None and vector.size != dims:
        raise InputError(f"vector has {vector.size} dimensions, the user's state has {dims}")
    return vector


def _as_weights(values: Mapping[str, float] | None) -> dict[str, float]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InputError(f"keywords must be a mapping, got {type(values).__name__}")
    result: dict[str, float] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip():
            raise InputError("keyword keys must be non-empty strings")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"keyword weight must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise InputError("keyword weight must be finite")
        result[key.strip()] = float(value)
    return result


def as_time_ms(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer (epoch ms), got {type(value).__name__}")
    return int(value)


def _optional_str(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    return value.strip() or None


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
