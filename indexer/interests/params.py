"""Interest model parameters and event weights, validated once (from settings or _meta)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from plugin.errors import ConfigError

EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"post": 1.0, "like": 1.0, "click": 0.5, "search": 0.3, "dislike": -1.0}
)
# How much an event on an item votes for that item's behaviour neighbours. Chosen on the
# MovieLens validation split (bench/neighbours_offline.py, NDCG@10 at a 730-day half-life):
# likes 1 and dislikes -0.3 (0.1462) beat likes alone (0.1454) and adding clicks at 0.3
# (0.1454). Posts and searches were not measured and cast no vote.
VOTE_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"post": 0.0, "like": 1.0, "click": 0.0, "search": 0.0, "dislike": -0.3}
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
EPS = 1e-12


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
        vote_weights: how much an event on an item votes for that item's neighbours.
        current_mismatch: how much an event of another topic lowers the belief that the user
            is in an interest now (multiplied per post; a click counts half). 0.1: three posts
            (or a post, a click and a post) on a new topic make it the current one.
        current_return_rate: per event, this share of the belief returns to the lasting
            interests (by weight): a user back on an old, strong interest is believed there
            again after one or two events, without relearning it.
        vote_half_life_days: two years: on MovieLens the validation split prefers old votes
            barely faded (NDCG@10: 730 days 0.1462, 365 0.1457, none 0.1447, 30 0.1420).
        max_item_votes: items whose votes are kept (by |vote|), the neighbours' inputs. On
            the MovieLens validation split (sparse EASE neighbours, all users): every vote
            0.1462, 300 0.1459, 100 0.1409, 50 0.1372: heavy users need hundreds.
    """

    long_half_life_days: float = 30.0
    long_half_life_events: float = 200.0
    short_half_life_days: float = 3.0
    short_half_life_events: float = 3.0
    cluster_half_life_days: float = 14.0
    max_clusters: int = 8
    cluster_join_threshold: float = 0.5
    cluster_support_threshold: float | None = None
    cluster_evict_weight: float = 0.05
    max_keywords: int = 100
    max_categories: int = 50
    max_recent_items: int = 200
    max_cluster_keywords: int = 20
    event_weights: Mapping[str, float] = field(default_factory=lambda: EVENT_WEIGHTS)
    vote_weights: Mapping[str, float] = field(default_factory=lambda: VOTE_WEIGHTS)
    vote_half_life_days: float = 730.0
    max_item_votes: int = 500
    current_mismatch: float = 0.05
    current_return_rate: float = 0.1

    def __post_init__(self) -> None:
        for name in (
            "long_half_life_days",
            "long_half_life_events",
            "short_half_life_days",
            "short_half_life_events",
            "cluster_half_life_days",
            "vote_half_life_days",
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
            "max_item_votes",
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
        for name in ("current_mismatch", "current_return_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {value!r}")
        if not _is_number(self.cluster_evict_weight) or not self.cluster_evict_weight >= 0:
            raise ConfigError(
                f"cluster_evict_weight must be >= 0, got {self.cluster_evict_weight!r}"
            )
        for name in ("event_weights", "vote_weights"):
            weights: Mapping[str, float] = getattr(self, name)
            unknown = set(weights) - set(EVENT_WEIGHTS)
            if unknown:
                raise ConfigError(f"unknown event kinds in {name}: {sorted(unknown)}")
            for kind, weight in weights.items():
                if not _is_number(weight):
                    raise ConfigError(f"{name} for {kind!r} must be a finite number")
            missing = set(EVENT_WEIGHTS) - set(weights)
            if missing:
                raise ConfigError(f"{name} lacks kinds: {sorted(missing)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> InterestParams:
        """Build params from overrides, e.g. a settings section; unspecified keys keep defaults.

        ``event_weights`` and ``vote_weights`` overrides merge into the defaults.

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown interest parameter {key!r}")
            if key in ("event_weights", "vote_weights"):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{key} must be a mapping of kind -> weight")
                defaults = EVENT_WEIGHTS if key == "event_weights" else VOTE_WEIGHTS
                kwargs[key] = MappingProxyType({**defaults, **value})
            elif known[key].type == "int":
                kwargs[key] = _as_int_setting(key, value)
            else:
                kwargs[key] = _as_float_setting(key, value)
        return cls(**kwargs)


DEFAULT_PARAMS = InterestParams()


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
