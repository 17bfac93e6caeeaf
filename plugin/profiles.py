"""A stored `user_interests` document to a UserProfile for ranking (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from plugin.types import InterestCluster, UserProfile


def _vector(value: object) -> tuple[float, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    try:
        vector = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        return None
    return vector if all(math.isfinite(x) for x in vector) else None


def _floats(value: object) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    result = {}
    for key, raw in value.items():
        try:
            number = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            result[str(key)] = number
    return result


def profile_from_document(user: str, document: Mapping[str, Any] | None) -> UserProfile | None:
    """The readable half of an interest document; None for an unknown user."""
    if not document:
        return None
    clusters = []
    for raw in document.get("clusters") or []:
        vector = _vector(raw.get("vector")) if isinstance(raw, Mapping) else None
        if vector is None:
            continue
        clusters.append(
            InterestCluster(
                vector=vector,
                weight=float(raw.get("weight") or 0.0),
                label=str(raw.get("label") or ""),
                last_seen=raw.get("last_seen"),
                recent=_share(raw.get("recent")),
                categories=_floats(raw.get("categories")),
            )
        )
    return UserProfile(
        user=user,
        long_term=_vector(document.get("long_term")),
        short_term=_vector(document.get("short_term")),
        clusters=tuple(clusters),
        categories=_floats(document.get("categories")),
        keywords=_floats(document.get("keywords")),
        recent_items=tuple(str(i) for i in document.get("recent_items") or []),
        collab_vector=_vector(document.get("collab_vector")),
        collab_version=_version(document.get("collab_version")),
        item_votes=_votes(document.get("item_votes")),
    )


def _votes(value: object) -> dict[str, float]:
    """``{"items": [...], "weights": [...]}`` as item -> finite vote; anything else: none."""
    if not isinstance(value, Mapping):
        return {}
    items, weights = value.get("items"), value.get("weights")
    if not isinstance(items, list) or not isinstance(weights, list):
        return {}
    return _floats(dict(zip((str(i) for i in items), weights, strict=False)))


def _share(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return min(max(number, 0.0), 1.0) if math.isfinite(number) else 0.0


def _version(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


def fit_collab(profile: UserProfile, version: int | None) -> UserProfile:
    """Drop the collaborative vector unless it was summed from the items' current factors
    (factors of two fits live in different spaces: their cosine means nothing)."""
    if profile.collab_vector is None or profile.collab_version == version:
        return profile
    return replace(profile, collab_vector=None, collab_version=None)


def fit_dims(profile: UserProfile, dims: int) -> tuple[UserProfile, list[str]]:
    """Drop the text-space vectors of ``profile`` whose size is not ``dims`` (pure).

    Interests built with another model (before a rebuild with a new model) would otherwise
    make every search of the user fail in the scorer; without them the user is ranked by what
    still fits (categories, other vectors) until new events rebuild the vectors.

    Returns:
        The fitted profile and the names of the dropped parts (empty when all fit).
    """
    if dims <= 0:
        return profile, []
    dropped = [
        name
        for name in ("long_term", "short_term")
        if getattr(profile, name) is not None and len(getattr(profile, name)) != dims
    ]
    clusters = tuple(c for c in profile.clusters if len(c.vector) == dims)
    if len(clusters) != len(profile.clusters):
        dropped.append("clusters")
    if not dropped:
        return profile, []
    changes: dict[str, Any] = {name: None for name in dropped if name != "clusters"}
    return replace(profile, clusters=clusters, **changes), dropped
