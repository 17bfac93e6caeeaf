"""Reading hits: the scorer's explanation, components, reasons and the public source (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from plugin.blend import (
    CATEGORY_FIELD,
)
from plugin.errors import InputError
from plugin.queries.limits import (
    PERSONAL_REASON_SHARE,
    REASON_MIN_STRENGTH,
    VECTOR_SOURCE_FIELDS,
)
from plugin.queries.params import usable_clusters
from plugin.types import (
    WEIGHT_NAMES,
    SearchHit,
    UserProfile,
)


def _decode_blend(description: str) -> Mapping[str, Any] | None:
    decoder = json.JSONDecoder()
    start = description.find("{")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(description, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, Mapping) and isinstance(value.get("components"), Mapping):
            return value
        start = description.find("{", start + 1)
    return None


def parse_explanation(hit: Mapping[str, Any]) -> tuple[dict[str, float], int]:
    """The scorer's weighted components and best cluster, from a hit's ``_explanation``.

    The scorer's node is found anywhere in the tree: the first ``description`` (depth first)
    holding a JSON object with a ``components`` object.

    Returns:
        Every component name mapped to its weighted value (missing ones 0), and the cluster
        index (-1 when none).

    Raises:
        InputError: the hit has no such explanation (``explain`` was off, or another
            scorer ran) or a component is not a number.
    """
    stack: list[Any] = [hit.get("_explanation")]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        description = node.get("description")
        found = _decode_blend(description) if isinstance(description, str) else None
        if found is not None:
            raw = found["components"]
            parsed: dict[str, float] = {}
            for name in WEIGHT_NAMES:
                value = raw.get(name, 0.0)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(f"explanation component {name!r} is not a number: {value!r}")
                parsed[name] = float(value)
            cluster = found.get("cluster")
            index = cluster if isinstance(cluster, int) and not isinstance(cluster, bool) else -1
            return parsed, index
        details = node.get("details") or []
        stack.extend(reversed(details))
    raise InputError(f"hit {hit.get('_id')!r} has no blend explanation (was explain on?)")


def _top(mapping: Mapping[str, float]) -> str | None:
    positive = [(value, name) for name, value in mapping.items() if value > 0]
    return max(positive)[1] if positive else None


def reason_for(
    components: Mapping[str, float],
    cluster_label: str | None,
    profile: UserProfile | None,
    *,
    item_category: str | None = None,
    liked: str | None = None,
    weights: Mapping[str, float] | None = None,
) -> str:
    """One plain-language reason, from the largest contribution (bm25 and query together).

    A reason names an interest, a category or a liked item only when that signal carries at
    least ``PERSONAL_REASON_SHARE`` of the score and, given ``weights``, its strength (value
    over weight) is at least ``REASON_MIN_STRENGTH``: a weak match that many unrelated items
    also get is not what ranked the item. Otherwise the reason is what did: people with
    similar tastes, popularity or freshness.

    Args:
        components: weighted components of the hit.
        cluster_label: label of the interest cluster that matched best, if any.
        profile: the user, for a fallback label (top keyword or category).
        item_category: the item's category, named in the category reason.
        liked: the voted item that lifted this one most (the neighbours reason names it).
        weights: the weights the components were scored with (the script's), to tell a
            signal's strength from its weight; without them only the share counts.
    """
    search = components.get("bm25", 0.0) + components.get("query", 0.0)
    personal = {
        "interest": components.get("interest", 0.0),
        "category": components.get("category", 0.0),
        "collaborative": components.get("collaborative", 0.0),
        "neighbours": components.get("neighbours", 0.0),
    }
    context = {
        "popularity": components.get("popularity", 0.0),
        "freshness": components.get("freshness", 0.0),
    }
    total = search + sum(personal.values()) + sum(context.values())
    if total <= 0:
        return "recommended for you"
    label = cluster_label or (_top(profile.keywords) if profile else None)

    def strong(name: str) -> bool:
        weight = (weights or {}).get(name, 0.0)
        return weight <= 0 or personal[name] / weight >= REASON_MIN_STRENGTH

    if search >= max(*personal.values(), *context.values()):
        shared = personal["interest"] >= PERSONAL_REASON_SHARE * total
        if shared and strong("interest") and label:
            return f"matches your search and your interest in {label}"
        return "matches your search"
    # Personal signals explain a pick better than freshness or popularity, which most items
    # share: they win once they carry a fair share of the score, and are strong enough.
    eligible = {
        name: value
        for name, value in personal.items()
        if value >= PERSONAL_REASON_SHARE * total and (name == "collaborative" or strong(name))
    }
    best = max(eligible, key=lambda name: eligible[name]) if eligible else None
    if best is not None:  # ties: the earlier one
        if best == "interest":
            return f"because of your interest in {label}" if label else "similar to what you like"
        if best == "category":
            name = item_category or (_top(profile.categories) if profile else None)
            return f"in a category you like ({name})" if name else "in a category you like"
        if best == "neighbours":
            return f"because you liked {liked}" if liked else "goes with what you liked"
        return "liked by people with similar tastes"
    return "popular right now" if context["popularity"] > context["freshness"] else "fresh"


def public_source(source: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k not in VECTOR_SOURCE_FIELDS}


def category_of(source: Mapping[str, Any]) -> str | None:
    value = source.get(CATEGORY_FIELD)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def cluster_label(profile: UserProfile | None, usable: Sequence[int], index: int) -> str | None:
    if profile is None or not 0 <= index < len(usable):
        return None
    return profile.clusters[usable[index]].label or None


def parse_hit(
    hit: Mapping[str, Any],
    *,
    profile: UserProfile | None,
    cluster: int | None = None,
    weights: Mapping[str, float] | None = None,
) -> SearchHit:
    """A native hit as a ``SearchHit`` with components, reason and cluster label.

    Args:
        hit: one hit of a native search or recommendation response (with ``_explanation``).
        profile: the user.
        cluster: for a recommendation body, its cluster (``MergedHit.cluster``); otherwise
            the scorer's cluster index is mapped through ``usable_clusters``.
        weights: the weights of the script that scored the hit (``reason_for``).
    """
    components, index = parse_explanation(hit)
    if cluster is not None:
        in_profile = profile is not None and 0 <= cluster < len(profile.clusters)
        label = (profile.clusters[cluster].label or None) if profile and in_profile else None
    else:
        label = cluster_label(profile, usable_clusters(profile), index)
    source: Mapping[str, Any] = hit.get("_source") or {}
    return SearchHit(
        id=str(hit["_id"]),
        title=str(source.get("title") or ""),
        score=float(hit.get("_score") or 0.0),
        components=components,
        reason=reason_for(
            components,
            label,
            profile,
            item_category=category_of(source),
            liked=profile.neighbour_because.get(str(hit["_id"])) if profile else None,
            weights=weights,
        ),
        cluster_label=label,
        source=public_source(source),
    )
