"""Dynamic interest state: time-decayed vectors, online clusters and affinities (pure numpy).

A user's state is a handful of exponentially decayed sums. Each sum carries the time it
was last decayed to (``ref_ms``); a new event first ages the sum to its own time and then
adds to it, so applying an event is O(dims + clusters + keywords) and needs no history.

* ``long_term`` / ``short_term``: decayed sums of ``weight * vector`` with a time half-life
  and an event-count half-life (the short one forgets within a few events, so it follows
  drift; the long one stays put).
* ``clusters``: online, at most ``max_clusters`` interests, each a decayed vector sum with
  a decayed weight (time only), decayed keywords for its label, and a last-seen time.
* ``categories`` / ``keywords``: decayed signed affinities (dislikes subtract).

Late events (older than the sum's reference time) are added with their age discount and do
not move the reference, so with time-only decay the result is independent of arrival order.
Event-count decay is by arrival: a late event counts as the newest one.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import numpy as np

from plugin.errors import ConfigError, InputError

EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"post": 1.0, "like": 1.0, "click": 0.5, "search": 0.3, "dislike": -1.0}
)
# Event kinds that mean the user saw a specific item, so recommendations skip it.
ITEM_EVENT_KINDS = frozenset({"post", "like", "click", "dislike"})
DAY_MS = 86_400_000
STATE_VERSION = 1
SUMMARY_KEYWORDS = 20
LABEL_KEYWORDS = 3
# A label keyword must have at least this share of the cluster's top keyword's weight.
LABEL_MIN_SHARE = 0.25
# A cluster's "main" categories and top keywords, for joining it at the support threshold.
TOPIC_CATEGORY_SHARE = 0.3
TOPIC_KEYWORDS = 10
# Below this norm a sum has no direction (e.g. a like cancelled by a dislike).
_EPS = 1e-12


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class InterestParams:
    """Tuning of the interest maths; defaults suit posts and clicks over weeks.

    Attributes:
        long_half_life_days: a month: the stable profile outlives a holiday or a binge.
        long_half_life_events: 200 events: heavy users do not freeze on old interests.
        short_half_life_days: three days: "what now" fades over a weekend.
        short_half_life_events: three events: three posts on a new topic turn the short
            vector towards it, whatever the user liked before.
        cluster_half_life_days: two weeks: an interest not touched for two months (weight
            about 1/20) drops out below ``cluster_evict_weight``.
        max_clusters: five interests are enough for diverse recommendations and keep
            the document and the scorer's params small.
        cluster_join_threshold: cosine at which an event joins its nearest cluster on
            similarity alone. Depends on the encoder: 0.5 suits all-MiniLM-L6-v2;
            multilingual-e5 cosines sit in 0.7-0.9 even for unrelated texts and need ~0.9.
        cluster_support_threshold: a lower cosine at which an event still joins a cluster
            that shares its category or one of its keywords (the text evidence that a
            weak embedding similarity alone cannot give). Defaults to the join threshold.
        cluster_evict_weight: decayed weight (in events) below which a cluster is dropped.
        max_keywords / max_categories: size bounds of the affinity maps (by |weight|).
        max_recent_items: how many seen item ids are kept for "don't recommend again".
        max_cluster_keywords: keywords kept per cluster for its label.
        event_weights: weight per event kind; negative means "less of this".
    """

    long_half_life_days: float = 30.0
    long_half_life_events: float = 200.0
    short_half_life_days: float = 3.0
    short_half_life_events: float = 3.0
    cluster_half_life_days: float = 14.0
    max_clusters: int = 5
    cluster_join_threshold: float = 0.5
    cluster_support_threshold: float | None = None
    cluster_evict_weight: float = 0.05
    max_keywords: int = 100
    max_categories: int = 50
    max_recent_items: int = 200
    max_cluster_keywords: int = 20
    event_weights: Mapping[str, float] = field(default_factory=lambda: EVENT_WEIGHTS)

    def __post_init__(self) -> None:
        for name in (
            "long_half_life_days",
            "long_half_life_events",
            "short_half_life_days",
            "short_half_life_events",
            "cluster_half_life_days",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a positive number (inf allowed), got {value!r}")
        for name in (
            "max_clusters",
            "max_keywords",
            "max_categories",
            "max_recent_items",
            "max_cluster_keywords",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not _is_number(self.cluster_join_threshold) or not (
            -1.0 <= self.cluster_join_threshold <= 1.0
        ):
            raise ConfigError(
                f"cluster_join_threshold must be in [-1, 1], got {self.cluster_join_threshold!r}"
            )
        support = self.cluster_support_threshold
        if support is not None and (not _is_number(support) or not -1.0 <= support <= 1.0):
            raise ConfigError(f"cluster_support_threshold must be in [-1, 1], got {support!r}")
        if not _is_number(self.cluster_evict_weight) or not self.cluster_evict_weight >= 0:
            raise ConfigError(
                f"cluster_evict_weight must be >= 0, got {self.cluster_evict_weight!r}"
            )
        unknown = set(self.event_weights) - set(EVENT_WEIGHTS)
        if unknown:
            raise ConfigError(f"unknown event kinds in event_weights: {sorted(unknown)}")
        for kind, weight in self.event_weights.items():
            if not _is_number(weight):
                raise ConfigError(f"event weight for {kind!r} must be a finite number")
        missing = set(EVENT_WEIGHTS) - set(self.event_weights)
        if missing:
            raise ConfigError(f"event_weights lacks kinds: {sorted(missing)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> InterestParams:
        """Build params from overrides, e.g. a settings section; unspecified keys keep defaults.

        ``event_weights`` overrides merge into the defaults.

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown interest parameter {key!r}")
            if key == "event_weights":
                if not isinstance(value, Mapping):
                    raise ConfigError("event_weights must be a mapping of kind -> weight")
                kwargs[key] = MappingProxyType({**EVENT_WEIGHTS, **value})
            elif known[key].type == "int":
                kwargs[key] = _as_int_setting(key, value)
            else:
                kwargs[key] = _as_float_setting(key, value)
        return cls(**kwargs)


DEFAULT_PARAMS = InterestParams()


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
        object.__setattr__(self, "time_ms", _as_time_ms(self.time_ms, "time_ms"))
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
            object.__setattr__(self, "collab_version", _optional_int(self.collab_version))


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
        old, new, ref = _decay_factors(self.ref_ms, time_ms, half_life_ms, half_life_events)
        return DecayedVector(self.sum * old + delta * new, self.mass * old + mass_delta * new, ref)

    def mass_at(self, time_ms: int, half_life_ms: float) -> float:
        """The mass decayed (never grown) to ``time_ms``."""
        if self.ref_ms is None:
            return self.mass
        return self.mass * _halving(max(time_ms - self.ref_ms, 0), half_life_ms)

    def direction(self) -> np.ndarray | None:
        """The unit vector of the sum, or None when it has no direction."""
        norm = float(np.linalg.norm(self.sum))
        if norm <= _EPS or not math.isfinite(norm):
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
    # "What now": a mass decayed like the short-term vector (per event and in time), so a
    # topic the user just switched to outweighs an old one before its lasting weight does.
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

    @property
    def dims(self) -> int | None:
        """The vector dimension, fixed by the first event with a vector."""
        return None if self.long_term is None else int(self.long_term.sum.shape[0])


def apply_event(
    state: InterestState,
    event: InterestEvent,
    *,
    params: InterestParams = DEFAULT_PARAMS,
    now_ms: int | None = None,
) -> InterestState:
    """Return ``state`` updated with one event; ``state`` itself is left unchanged.

    Args:
        state: the user's current state (``InterestState()`` for a new user).
        event: what the user did.
        params: tuning.
        now_ms: the processing time, used to fade and evict clusters; defaults to the
            newest event time seen.

    Raises:
        InputError: the event's vector size differs from the state's.
    """
    if not isinstance(event, InterestEvent):
        raise InputError(f"expected an InterestEvent, got {type(event).__name__}")
    now = _resolve_now(state, [event], now_ms)
    weight = params.event_weights[event.kind] * event.intensity
    long_term, short_term = state.long_term, state.short_term
    clusters, next_id = state.clusters, state.next_cluster_id
    touched: int | None = None
    if event.vector is not None and weight != 0:
        vector = _checked_vector(state, np.asarray(event.vector))
        delta = weight * vector
        long_term = (long_term or DecayedVector.zeros(vector.size)).add(
            delta,
            abs(weight),
            event.time_ms,
            half_life_ms=params.long_half_life_days * DAY_MS,
            half_life_events=params.long_half_life_events,
        )
        short_term = (short_term or DecayedVector.zeros(vector.size)).add(
            delta,
            abs(weight),
            event.time_ms,
            half_life_ms=params.short_half_life_days * DAY_MS,
            half_life_events=params.short_half_life_events,
        )
        clusters, next_id, touched = _update_clusters(
            clusters, next_id, vector, weight, event, params
        )
        clusters = _update_recency(clusters, touched, weight, event.time_ms, params)
    clusters = _prune_clusters(clusters, now, params, keep=touched)
    categories, keywords, affinity_ref = _update_affinities(state, event, weight, params)
    collab, collab_version = _update_collab(state, event, weight, params)
    return InterestState(
        long_term=long_term,
        short_term=short_term,
        clusters=clusters,
        categories=categories,
        keywords=keywords,
        affinity_ref_ms=affinity_ref,
        recent_items=_update_recent(state.recent_items, event, params),
        events=state.events + 1,
        last_event_ms=event.time_ms
        if state.last_event_ms is None
        else max(state.last_event_ms, event.time_ms),
        updated_ms=now,
        next_cluster_id=next_id,
        collab=collab,
        collab_version=collab_version,
    )


def apply_events(
    state: InterestState,
    events: Iterable[InterestEvent],
    *,
    params: InterestParams = DEFAULT_PARAMS,
    now_ms: int | None = None,
) -> InterestState:
    """Apply several events of one user in timestamp order (one document write for all).

    Raises:
        InputError: as ``apply_event``.
    """
    ordered = sorted(events, key=lambda e: e.time_ms if isinstance(e, InterestEvent) else 0)
    if not ordered:
        return state
    now = _resolve_now(state, ordered, now_ms)
    for event in ordered:
        state = apply_event(state, event, params=params, now_ms=now)
    return state


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
        "long_term": _direction_list(state.long_term),
        "short_term": _direction_list(state.short_term),
        "clusters": [
            (_readable(direction), weight, cluster.label, cluster.last_seen_ms)
            for cluster, direction, weight in _ranked_clusters(state.clusters, params)
        ],
        "categories": _normalized(state.categories),
        "keywords": _normalized(state.keywords),
    }


def to_document(
    state: InterestState,
    *,
    user: str,
    now_ms: int,
    params: InterestParams = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """Return the JSON-ready ``user_interests`` source for ``state``.

    Readable fields (unit vectors, relative cluster weights, normalised affinities) are for
    queries; ``state`` holds the raw sums, masses and reference times that
    ``from_document`` needs to continue exactly. Map ``state`` with ``enabled: false``.
    """
    vectors = user_vectors(state, params=params)
    doc: dict[str, Any] = {
        "user": user,
        "events": state.events,
        "updated_at": _iso(now_ms),
    }
    if state.last_event_ms is not None:
        doc["last_event_at"] = _iso(state.last_event_ms)
    for name in ("long_term", "short_term"):
        if vectors[name] is not None:
            doc[name] = vectors[name]
    shares = recent_shares(state.clusters, now_ms, params)
    doc["clusters"] = [
        {
            "label": cluster.label,
            "weight": weight,
            "recent": round(shares.get(cluster.id, 0.0), 6),
            "categories": _shares(cluster.categories),
            "last_seen": _iso(cluster.last_seen_ms),
            "count": cluster.count,
            "vector": _readable(direction),
        }
        for cluster, direction, weight in _ranked_clusters(state.clusters, params)
    ]
    doc["categories"] = vectors["categories"]
    doc["keywords"] = vectors["keywords"]
    doc["recent_items"] = list(state.recent_items)
    collab = _direction_list(state.collab)
    if collab is not None:
        doc["collab_vector"] = collab
        doc["collab_version"] = state.collab_version
    doc["state"] = _state_to_json(state)
    return doc


def from_document(doc: Mapping[str, Any] | None) -> InterestState:
    """Rebuild the state stored by ``to_document``; an empty or missing doc is a new user.

    Raises:
        InputError: the stored state is malformed or of an unknown version.
    """
    if not doc:
        return InterestState()
    if not isinstance(doc, Mapping):
        raise InputError(f"interest document must be a mapping, got {type(doc).__name__}")
    if not doc.get("state"):
        return InterestState()
    raw = doc["state"]
    try:
        if raw.get("version") != STATE_VERSION:
            raise InputError(f"unsupported interest state version {raw.get('version')!r}")
        long_term = _optional_acc(raw.get("long_term"))
        short_term = _optional_acc(raw.get("short_term"))
        clusters = tuple(
            Cluster(
                id=int(item["id"]),
                acc=_acc_from_json(item),
                keywords=_pairs_to_dict(item["keywords"]),
                last_seen_ms=int(item["last_seen_ms"]),
                count=int(item["count"]),
                label_hint=item.get("label_hint"),
                categories={str(k): int(v) for k, v in item.get("categories") or []},
                recent=float(item.get("recent") or 0.0),
                recent_ms=_optional_int(item.get("recent_ms")),
            )
            for item in raw.get("clusters", [])
        )
        state = InterestState(
            long_term=long_term,
            short_term=short_term,
            clusters=clusters,
            categories=_pairs_to_dict(raw.get("categories", [])),
            keywords=_pairs_to_dict(raw.get("keywords", [])),
            affinity_ref_ms=_optional_int(raw.get("affinity_ref_ms")),
            recent_items=tuple(str(item) for item in doc.get("recent_items", [])),
            events=int(doc.get("events", 0)),
            last_event_ms=_optional_int(raw.get("last_event_ms")),
            updated_ms=_optional_int(raw.get("updated_ms")),
            next_cluster_id=int(raw.get("next_cluster_id", len(clusters) + 1)),
            collab=_optional_acc(raw.get("collab")),
            collab_version=_optional_int(raw.get("collab_version")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed interest state: {exc}") from exc
    sizes = {acc.sum.shape for acc in (long_term, short_term) if acc is not None}
    sizes |= {cluster.acc.sum.shape for cluster in clusters}
    if len(sizes) > 1:
        raise InputError(f"malformed interest state: mixed vector sizes {sorted(sizes)}")
    return state


def summary(
    state: InterestState,
    *,
    user: str,
    now_ms: int,
    params: InterestParams = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """Return the CLI view: clusters with weights decayed to ``now_ms``, top affinities.

    Cluster weights here are absolute (roughly "events' worth" of interest left now), not
    relative as in the document, so an admin can see an interest fading.
    """
    weights = {cluster.id: cluster.weight_at(now_ms, params) for cluster in state.clusters}
    clusters = sorted(state.clusters, key=lambda c: (-weights[c.id], c.id))
    return {
        "user": user,
        "clusters": [
            {
                "label": cluster.label,
                "weight": round(weights[cluster.id], 4),
                "last_seen": _iso(cluster.last_seen_ms),
            }
            for cluster in clusters
        ],
        "categories": {k: round(v, 4) for k, v in _normalized(state.categories).items()},
        "keywords": {
            k: round(v, 4) for k, v in list(_normalized(state.keywords).items())[:SUMMARY_KEYWORDS]
        },
        "events": state.events,
        "updated_at": None if state.updated_ms is None else _iso(state.updated_ms),
    }


# --- updates -------------------------------------------------------------------------


def _update_collab(
    state: InterestState, event: InterestEvent, weight: float, params: InterestParams
) -> tuple[DecayedVector | None, int | None]:
    """Fold the item's factors into the user's collaborative sum (the long-term decay).

    Sums are only valid within one factors version: factors newer than the user's start a
    new sum (the refit recomputes every user from their stored events, so nothing is lost
    for long), and factors older than the user's are skipped (already in the recompute).
    """
    if event.collab is None or event.collab_version is None or weight == 0:
        return state.collab, state.collab_version
    current = state.collab_version
    if current is not None and event.collab_version < current:
        return state.collab, current
    vector = np.asarray(event.collab, dtype=np.float64)
    base = state.collab if current == event.collab_version else None
    if base is not None and base.sum.shape != vector.shape:
        base = None  # factors of another size: same version cannot say so, start again
    collab = (base or DecayedVector.zeros(vector.size)).add(
        weight * vector,
        abs(weight),
        event.time_ms,
        half_life_ms=params.long_half_life_days * DAY_MS,
        half_life_events=params.long_half_life_events,
    )
    return collab, event.collab_version


def with_collab(
    state: InterestState,
    events: Iterable[InterestEvent],
    *,
    version: int,
    params: InterestParams = DEFAULT_PARAMS,
) -> InterestState:
    """``state`` with its collaborative sum rebuilt from ``events`` (all of the user's item
    events, each with factors of ``version``); everything else is kept as it is."""
    fresh = InterestState(collab_version=version)
    ordered = sorted(events, key=lambda e: e.time_ms)
    for event in ordered:
        if event.collab is None:
            continue
        weight = params.event_weights[event.kind] * event.intensity
        collab, _ = _update_collab(fresh, event, weight, params)
        fresh = replace(fresh, collab=collab)
    return replace(state, collab=fresh.collab, collab_version=version)


def _update_clusters(
    clusters: tuple[Cluster, ...],
    next_id: int,
    vector: np.ndarray,
    weight: float,
    event: InterestEvent,
    params: InterestParams,
) -> tuple[tuple[Cluster, ...], int, int | None]:
    """Join the nearest cluster, start a new one (likes), or weaken one (dislikes)."""
    half_life_ms = params.cluster_half_life_days * DAY_MS
    support = params.cluster_support_threshold
    support = params.cluster_join_threshold if support is None else support
    best, best_cos = None, -math.inf
    # Another category than the cluster's: similarity alone must be much higher to join
    # (a centroid of many texts is close to every text of an anisotropic model such as e5).
    mismatch_join = (params.cluster_join_threshold + 1.0) / 2
    for index, cluster in enumerate(clusters):
        direction = cluster.acc.direction()
        cos = -math.inf if direction is None else float(direction @ vector)
        match = cluster.topic_match(event)
        join = mismatch_join if match is False else params.cluster_join_threshold
        eligible = cos >= join or (cos >= support and match is True)
        if eligible and cos > best_cos:
            best, best_cos = index, cos
    joins = best is not None
    if weight < 0 and not joins:
        return clusters, next_id, None
    if joins:
        assert best is not None
        old = clusters[best]
        factors = _decay_factors(old.acc.ref_ms, event.time_ms, half_life_ms, math.inf)
        joined = _scaled(old.keywords, factors[0])
        if weight > 0:
            _add_weights(joined, event.keywords, weight * factors[1])
        updated = Cluster(
            id=old.id,
            acc=old.acc.add(weight * vector, weight, event.time_ms, half_life_ms=half_life_ms),
            keywords=_bounded(joined, params.max_cluster_keywords, positive_only=True),
            last_seen_ms=max(old.last_seen_ms, event.time_ms) if weight > 0 else old.last_seen_ms,
            count=old.count + 1,
            label_hint=(event.label if weight > 0 else None) or old.label_hint,
            categories=_counted(old.categories, event.category if weight > 0 else None),
            recent=old.recent,
            recent_ms=old.recent_ms,
        )
        return (*clusters[:best], updated, *clusters[best + 1 :]), next_id, old.id
    keywords: dict[str, float] = {}
    _add_weights(keywords, event.keywords, weight)
    created = Cluster(
        id=next_id,
        acc=DecayedVector.zeros(vector.size).add(
            weight * vector, weight, event.time_ms, half_life_ms=half_life_ms
        ),
        keywords=_bounded(keywords, params.max_cluster_keywords, positive_only=True),
        last_seen_ms=event.time_ms,
        count=1,
        label_hint=event.label,
        categories=_counted({}, event.category),
    )
    return (*clusters, created), next_id + 1, next_id


def _update_recency(
    clusters: tuple[Cluster, ...],
    touched: int | None,
    weight: float,
    time_ms: int,
    params: InterestParams,
) -> tuple[Cluster, ...]:
    """Every cluster's recent mass fades by one event (and by time); the touched one gains
    the event's weight (a dislike takes it away, never below 0)."""
    per_event = _halving(1.0, params.short_half_life_events)
    half_life_ms = params.short_half_life_days * DAY_MS
    updated = []
    for cluster in clusters:
        age = max(time_ms - (cluster.recent_ms or time_ms), 0)
        recent = cluster.recent * per_event * _halving(age, half_life_ms)
        if cluster.id == touched:
            recent = max(recent + weight, 0.0)
        updated.append(
            replace(cluster, recent=recent, recent_ms=max(time_ms, cluster.recent_ms or time_ms))
        )
    return tuple(updated)


def recent_shares(
    clusters: Sequence[Cluster], now_ms: int, params: InterestParams
) -> dict[int, float]:
    """Cluster id -> its share of the recent mass at ``now_ms`` (all 0 when there is none)."""
    half_life_ms = params.short_half_life_days * DAY_MS
    valued = {
        c.id: c.recent * _halving(max(now_ms - (c.recent_ms or now_ms), 0), half_life_ms)
        for c in clusters
    }
    total = math.fsum(valued.values())
    return {key: (value / total if total > 0 else 0.0) for key, value in valued.items()}


def _counted(counts: Mapping[str, int], category: str | None) -> dict[str, int]:
    updated = dict(counts)
    if category:
        updated[category] = updated.get(category, 0) + 1
    return updated


def _prune_clusters(
    clusters: tuple[Cluster, ...], now_ms: int, params: InterestParams, *, keep: int | None
) -> tuple[Cluster, ...]:
    """Drop faded clusters, then the weakest until at most ``max_clusters`` remain.

    The cluster the current event created or joined (``keep``) is exempt from the size cut:
    otherwise a new interest, which starts at one event's weight, could never displace an
    established one and the profile would freeze.
    """
    alive = [c for c in clusters if c.weight_at(now_ms, params) >= params.cluster_evict_weight]
    while len(alive) > params.max_clusters:
        candidates = [c for c in alive if c.id != keep] or alive
        weakest = min(candidates, key=lambda c: (c.weight_at(now_ms, params), -c.id))
        alive.remove(weakest)
    return tuple(alive)


def _update_affinities(
    state: InterestState, event: InterestEvent, weight: float, params: InterestParams
) -> tuple[dict[str, float], dict[str, float], int]:
    """Decay the category/keyword maps to the event (long half-life) and add the event."""
    old, new, ref = _decay_factors(
        state.affinity_ref_ms, event.time_ms, params.long_half_life_days * DAY_MS, math.inf
    )
    categories = _scaled(state.categories, old)
    keywords = _scaled(state.keywords, old)
    if event.category is not None:
        categories[event.category] = categories.get(event.category, 0.0) + weight * new
    _add_weights(keywords, event.keywords, weight * new)
    return (
        _bounded(categories, params.max_categories),
        _bounded(keywords, params.max_keywords),
        ref,
    )


def _update_recent(
    recent: tuple[str, ...], event: InterestEvent, params: InterestParams
) -> tuple[str, ...]:
    if event.item_id is None or event.kind not in ITEM_EVENT_KINDS:
        return recent
    rest = tuple(item for item in recent if item != event.item_id)
    return (event.item_id, *rest)[: params.max_recent_items]


# --- decay arithmetic ----------------------------------------------------------------


def _halving(age: float, half_life: float) -> float:
    return float(2.0 ** (-age / half_life))


def _decay_factors(
    ref_ms: int | None, time_ms: int, half_life_ms: float, half_life_events: float
) -> tuple[float, float, int]:
    """Return (factor for the old sum, factor for the new event, new reference time).

    In time: everything is valued at the newest timestamp, so the newer of the two is
    discounted by nothing and the older by its age. In events: the old sum is one event
    further back, whether the new event is on time or late.
    """
    per_event = _halving(1.0, half_life_events)
    if ref_ms is None:
        return per_event, 1.0, time_ms
    if time_ms >= ref_ms:
        return _halving(time_ms - ref_ms, half_life_ms) * per_event, 1.0, time_ms
    return per_event, _halving(ref_ms - time_ms, half_life_ms), ref_ms


def _scaled(values: Mapping[str, float], factor: float) -> dict[str, float]:
    return {key: value * factor for key, value in values.items()}


def _add_weights(target: dict[str, float], weights: Mapping[str, float], scale: float) -> None:
    for key, value in weights.items():
        target[key] = target.get(key, 0.0) + value * scale


def _bounded(
    values: Mapping[str, float], limit: int, *, positive_only: bool = False
) -> dict[str, float]:
    """Keep the ``limit`` entries of largest magnitude (dropping exact zeros)."""
    items = [(k, v) for k, v in values.items() if (v > 0 if positive_only else v != 0)]
    if len(items) > limit:
        items = sorted(items, key=lambda kv: (-abs(kv[1]), kv[0]))[:limit]
    return dict(items)


# --- readers -------------------------------------------------------------------------


def _ranked_clusters(
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


def _shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {name: round(count / total, 4) for name, count in counts.items()} if total else {}


def _direction_list(acc: DecayedVector | None) -> list[float] | None:
    if acc is None:
        return None
    direction = acc.direction()
    return None if direction is None else _readable(direction)


# Elasticsearch keeps dense vectors as float32; 7 decimals of a unit vector's components are
# below that resolution for cosine (an error of at most 1e-6 in norm) and halve the JSON the
# write path sends and Elasticsearch parses (a float64 repr is ~20 characters).
READABLE_DECIMALS = 7


def _readable(direction: np.ndarray) -> list[float]:
    rounded: list[float] = np.round(direction, READABLE_DECIMALS).tolist()
    return rounded


def _normalized(values: Mapping[str, float]) -> dict[str, float]:
    """Scale so the largest magnitude is 1; order by value, strongest first."""
    top = max((abs(v) for v in values.values()), default=0.0)
    if top <= 0:
        return {}
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return {key: value / top for key, value in ranked}


def _top_items(values: Mapping[str, float], limit: int) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


# --- (de)serialisation ---------------------------------------------------------------


def _state_to_json(state: InterestState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "long_term": None if state.long_term is None else _acc_to_json(state.long_term),
        "short_term": None if state.short_term is None else _acc_to_json(state.short_term),
        "clusters": [
            {
                "id": cluster.id,
                **_acc_to_json(cluster.acc),
                # Pairs, not an object: keys such as "node.js" must not become paths.
                "keywords": [[k, v] for k, v in cluster.keywords.items()],
                "last_seen_ms": cluster.last_seen_ms,
                "count": cluster.count,
                "label_hint": cluster.label_hint,
                "categories": [[k, v] for k, v in cluster.categories.items()],
                "recent": cluster.recent,
                "recent_ms": cluster.recent_ms,
            }
            for cluster in state.clusters
        ],
        "categories": [[k, v] for k, v in state.categories.items()],
        "keywords": [[k, v] for k, v in state.keywords.items()],
        "affinity_ref_ms": state.affinity_ref_ms,
        "last_event_ms": state.last_event_ms,
        "updated_ms": state.updated_ms,
        "next_cluster_id": state.next_cluster_id,
        "collab": None if state.collab is None else _acc_to_json(state.collab),
        "collab_version": state.collab_version,
    }


def _acc_to_json(acc: DecayedVector) -> dict[str, Any]:
    # The float64 bytes in base64: bit for bit like a list of floats, in half the characters
    # and one JSON token instead of hundreds (the state is most of what every event rewrites).
    encoded = base64.b64encode(acc.sum.astype("<f8").tobytes()).decode("ascii")
    return {"sum": encoded, "mass": float(acc.mass), "ref_ms": acc.ref_ms}


def _optional_acc(raw: Mapping[str, Any] | None) -> DecayedVector | None:
    return None if raw is None else _acc_from_json(raw)


def _acc_from_json(raw: Mapping[str, Any]) -> DecayedVector:
    stored = raw["sum"]
    if isinstance(stored, str):
        vector = np.frombuffer(base64.b64decode(stored, validate=True), dtype="<f8").astype(
            np.float64
        )
    else:  # documents written before the base64 form: a list of floats
        vector = np.asarray(stored, dtype=np.float64)
    if vector.ndim != 1 or vector.size == 0 or not np.all(np.isfinite(vector)):
        raise ValueError("a stored vector sum is not a finite 1-D list")
    return DecayedVector(vector, float(raw["mass"]), _optional_int(raw.get("ref_ms")))


def _pairs_to_dict(pairs: Iterable[Sequence[Any]]) -> dict[str, float]:
    return {str(key): float(value) for key, value in pairs}


# --- validation ----------------------------------------------------------------------


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
    if norm <= _EPS:
        raise InputError("vector is all zeros")
    vector /= norm
    vector.flags.writeable = False
    return vector


def _checked_vector(state: InterestState, vector: np.ndarray) -> np.ndarray:
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


def _as_time_ms(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer (epoch ms), got {type(value).__name__}")
    return int(value)


def _optional_str(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    return value.strip() or None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _as_int_setting(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc
    if not number.is_integer():
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    return int(number)


def _as_float_setting(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc


def _resolve_now(state: InterestState, events: Sequence[InterestEvent], now_ms: int | None) -> int:
    if now_ms is not None:
        return _as_time_ms(now_ms, "now_ms")
    times = [e.time_ms for e in events if isinstance(e, InterestEvent)]
    if state.last_event_ms is not None:
        times.append(state.last_event_ms)
    return max(times)
