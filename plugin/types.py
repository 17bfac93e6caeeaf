"""Frozen value types of the read path: blend weights and config, profiles, filters, hits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Vector = tuple[float, ...]
Mode = Literal["exact", "approx"]
Scorer = Literal["native", "portable"]

# The order is the order of the native scorer's explanation and of every report.
WEIGHT_NAMES: tuple[str, ...] = (
    "bm25",
    "interest",
    "query",
    "freshness",
    "category",
    "popularity",
    "collaborative",
    "neighbours",
)


@dataclass(frozen=True)
class BlendWeights:
    """Non-negative weight of each blend component (validated by ``plugin.weights``)."""

    bm25: float = 0.0
    interest: float = 0.0
    query: float = 0.0
    freshness: float = 0.0
    category: float = 0.0
    popularity: float = 0.0
    collaborative: float = 0.0
    neighbours: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in WEIGHT_NAMES}

    def total(self) -> float:
        return math.fsum(self.as_dict().values())


@dataclass(frozen=True)
class BlendConfig:
    """One version of the blend kept in the items mapping ``_meta.blend``."""

    weights: BlendWeights
    bm25_k: float
    half_life_days: float
    short_term_weight: float
    cluster_mix: float
    popularity_norm: float
    # Share of a recommendation page split among the user's interests by quota; the rest is
    # the best of the whole blend (1: every slot by interest, 0: one ranking).
    diversity: float = 1.0
    # Weight of "the interest the user is in now" against lasting weight: page quotas and the
    # whole-profile body's cluster weights (0: lasting weight only).
    now_share: float = 0.0
    version: int = 0
    updated_at: str | None = None
    note: str = ""
    # Properties of the model and catalogue (``_meta.model``, ``_meta.calibration``), not
    # admin knobs: set by the service. ``centre`` None: raw cosines.
    similarity_floor: float = 0.0
    similarity_scale: float = 1.0
    centre: tuple[float, ...] | None = None

    def params(self) -> dict[str, float]:
        """The numeric parameters as stored in ``_meta.blend.params``."""
        return {
            "bm25_k": self.bm25_k,
            "half_life_days": self.half_life_days,
            "short_term_weight": self.short_term_weight,
            "cluster_mix": self.cluster_mix,
            "popularity_norm": self.popularity_norm,
            "diversity": self.diversity,
            "now_share": self.now_share,
        }


def _has_signal(vector: Sequence[float] | None) -> bool:
    return vector is not None and any(v != 0.0 for v in vector)


@dataclass(frozen=True)
class InterestCluster:
    """One of a user's interests: a centroid, how strong it is, and a readable label."""

    vector: Vector
    weight: float
    label: str = ""
    last_seen: str | None = None
    # The belief that the user is in this interest now (over the user's clusters), in [0, 1].
    recent: float = 0.0
    # The categories of this interest's events, as shares.
    categories: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class UserProfile:
    """What the read path knows about one user (parsed from ``user_interests``)."""

    user: str
    long_term: Vector | None = None
    short_term: Vector | None = None
    clusters: tuple[InterestCluster, ...] = ()
    categories: Mapping[str, float] = field(default_factory=dict)
    keywords: Mapping[str, float] = field(default_factory=dict)
    recent_items: tuple[str, ...] = ()
    collab_vector: Vector | None = None
    # The item-factors version collab_vector was summed from (it is only comparable with it).
    collab_version: int | None = None
    # Items acted on -> vote for their behaviour neighbours (largest |vote| 1, newest decay).
    item_votes: Mapping[str, float] = field(default_factory=dict)
    # What the votes give other items (``plugin.neighbours``; set by the service per request):
    # item -> score in (0, 1], and item -> the name of the voted item that gave it most.
    neighbour_scores: Mapping[str, float] = field(default_factory=dict)
    neighbour_because: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True when nothing here can personalise a ranking (a cold-start user)."""
        if _has_signal(self.long_term) or _has_signal(self.short_term):
            return False
        if _has_signal(self.collab_vector):
            return False
        if any(score > 0 for score in self.neighbour_scores.values()):
            return False
        if any(c.weight > 0 and _has_signal(c.vector) for c in self.clusters):
            return False
        return not any(w > 0 for w in self.categories.values())


@dataclass(frozen=True)
class SearchFilters:
    """Hard filters shared by every clause of one request (lexical and knn alike)."""

    categories: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    created_from: str | None = None
    created_to: str | None = None
    exclude_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class BlendBreakdown:
    """One item's blend: weighted components (summing to ``score``) and the best cluster."""

    components: dict[str, float]
    cluster: int
    score: float


@dataclass(frozen=True)
class MergedHit:
    """A recommendation hit and the index (in ``UserProfile.clusters``) that fetched it."""

    hit: Mapping[str, Any]
    cluster: int | None


@dataclass(frozen=True)
class SearchHit:
    """One ranked item with the weighted components that add up to its score."""

    id: str
    title: str
    score: float
    components: dict[str, float]
    reason: str
    cluster_label: str | None = None
    source: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    """Hits of one search or recommendation, and how they were produced."""

    hits: tuple[SearchHit, ...]
    cold_start: bool
    mode: Mode
    scorer: Scorer
