"""Blend weights in the items mapping ``_meta``: parse, validate, version, roll back (pure).

Stored shape (``_meta`` of the items index)::

    {"blend": {"version": 3, "weights": {...}, "params": {...}, "updated_at": "...",
               "note": "..."},
     "blend_history": [{same shape}, ...]}          # previous versions, newest first

``with_new_weights`` and ``rollback`` return a complete new ``_meta`` and never change their
input; invalid input raises before anything is built, so a caller that writes only what they
return cannot store a half-applied change.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from plugin.errors import InputError, MappingError, WeightsError
from plugin.types import WEIGHT_NAMES, BlendConfig, BlendWeights

# Sum to 1, so a blended score lies in [0, 1] and reads as a share of a perfect match.
# Chosen on the MovieLens validation split (`interest eval --dataset movielens --validation
# --users 0 --what-if ...`, all 607 users, 2026-12-03): the earlier weights below plus
# neighbours 1 and collaborative 0.5 (iALS factors), scaled to sum to 1. NDCG@10 0.1518 and
# recall@20 0.2056 there, against 0.1439 / 0.2045 for the tuned EASE of the same run;
# neighbours 1 alone 0.1490, with collaborative 1 0.1508, with everything else at 0 0.1504.
# - bm25 0.25 before scaling: typed query words are the strongest intent signal there is;
#   saturated, so one very long matching document cannot drown the rest. In a search the
#   behaviour components are capped at the bm25 weight (plugin.queries.params).
# - interest 0.21: personalisation is the point, but it reorders results, it must not
#   replace what was asked for.
# - query 0.11: embedding similarity to the query rescues vocabulary mismatch (and Chinese,
#   where BM25 on jieba tokens is the weaker signal); lower as it overlaps with bm25.
# - freshness 0.06 / category 0.05: coarse tie-breakers (category also overlaps interest).
# - popularity 0.11: measured on MovieLens with the earlier collaborative factors.
# - neighbours 1 / collaborative 0.5: what the user's own items' neighbours are, and what
#   people with similar taste liked: on behaviour-rich data the strongest signals.
DEFAULT_WEIGHTS = BlendWeights(
    bm25=0.109,
    interest=0.092,
    query=0.048,
    freshness=0.026,
    category=0.022,
    popularity=0.048,
    collaborative=0.218,
    neighbours=0.437,
)

# - bm25_k 5: BM25 scores of good matches on short items are ~5-15, so s/(s+5) spreads them
#   over 0.5-0.75 instead of pinning them all near 1.
# - half_life_days 14: a two-week-old item counts half as fresh as a new one.
# - short_term_weight 0.5 / cluster_mix 0.5: recent and lasting taste count equally, and so do
#   the overall profile and the single best-matching interest cluster.
# - popularity_norm 6.9 = ln(1 + ~1000): an item with about 1000 interactions saturates.
# - diversity 0.5: half of a recommendation page by interest quotas, half the best of the
#   whole blend. On the validation split above NDCG@10 0.1518 at 0, 0.1516 at 0.2, 0.1505 at
#   0.5 (0.9% less, within the 3% allowed), and the quotas keep a new interest on the page
#   at once when a user's topic moves (the drift evaluation).
# - now_share 0.8: how much the belief "which interest is the user in now" (each cluster's
#   ``recent``, indexer.interests.update) weighs against lasting weight in the page's quotas
#   and the whole-profile body's cluster weights. A fifth stays with the lasting interests.
DEFAULT_PARAMS: dict[str, float] = {
    "bm25_k": 5.0,
    "half_life_days": 14.0,
    "short_term_weight": 0.5,
    "cluster_mix": 0.5,
    "popularity_norm": 6.9,
    "diversity": 0.5,
    "now_share": 0.8,
}
PARAM_NAMES: tuple[str, ...] = tuple(DEFAULT_PARAMS)
# Mixing fractions live in [0, 1]; the others only need to be positive.
UNIT_PARAMS = frozenset({"short_term_weight", "cluster_mix", "diversity", "now_share"})

HISTORY_LIMIT = 50
MAX_NOTE_CHARS = 500
DEFAULTS_NOTE = "defaults"


def _number(kind: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WeightsError(f"{kind} {key!r} must be a number, got {value!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (ValueError, OverflowError):
        raise WeightsError(f"{kind} {key!r} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise WeightsError(f"{kind} {key!r} must be finite, got {value!r}")
    return number


def validate_weights(mapping: Mapping[str, object]) -> BlendWeights:
    """Check blend weights and build ``BlendWeights``.

    Args:
        mapping: weight name to value; values may be strings (``interest weights set K=V``).
            Missing names count as 0.

    Returns:
        The validated weights.

    Raises:
        WeightsError: naming the key and value that is unknown, not a number, not finite or
            negative, or when no weight is positive.
    """
    if not isinstance(mapping, Mapping):
        raise WeightsError(f"weights must be an object, got {type(mapping).__name__}")
    values: dict[str, float] = {}
    for key, raw in mapping.items():
        if key not in WEIGHT_NAMES:
            raise WeightsError(f"unknown weight {key!r}; expected one of {', '.join(WEIGHT_NAMES)}")
        number = _number("weight", key, raw)
        if number < 0:
            raise WeightsError(f"weight {key!r} must be >= 0, got {raw!r}")
        values[key] = number
    weights = BlendWeights(**values)
    if not any(v > 0 for v in weights.as_dict().values()):
        raise WeightsError("at least one weight must be positive; all are 0")
    return weights


def validate_params(mapping: Mapping[str, object]) -> dict[str, float]:
    """Check blend parameters; missing ones take ``DEFAULT_PARAMS``.

    Raises:
        WeightsError: naming an unknown key, or a value that is not a positive finite number
            (``short_term_weight``, ``cluster_mix``, ``diversity`` and ``now_share``: not in
            [0, 1]).
    """
    if not isinstance(mapping, Mapping):
        raise WeightsError(f"params must be an object, got {type(mapping).__name__}")
    params = dict(DEFAULT_PARAMS)
    for key, raw in mapping.items():
        if key not in DEFAULT_PARAMS:
            raise WeightsError(
                f"unknown parameter {key!r}; expected one of {', '.join(PARAM_NAMES)}"
            )
        number = _number("parameter", key, raw)
        if key in UNIT_PARAMS and not 0.0 <= number <= 1.0:
            raise WeightsError(f"parameter {key!r} must be in [0, 1], got {raw!r}")
        if key not in UNIT_PARAMS and number <= 0:
            raise WeightsError(f"parameter {key!r} must be > 0, got {raw!r}")
        params[key] = number
    return params


def _config(
    weights: BlendWeights,
    params: Mapping[str, float],
    *,
    version: int,
    updated_at: str | None,
    note: str,
) -> BlendConfig:
    return BlendConfig(
        weights=weights,
        bm25_k=params["bm25_k"],
        half_life_days=params["half_life_days"],
        short_term_weight=params["short_term_weight"],
        cluster_mix=params["cluster_mix"],
        popularity_norm=params["popularity_norm"],
        diversity=params["diversity"],
        now_share=params["now_share"],
        version=version,
        updated_at=updated_at,
        note=note,
    )


def default_config() -> BlendConfig:
    """The blend used while ``_meta`` holds none (version 0)."""
    return _config(DEFAULT_WEIGHTS, DEFAULT_PARAMS, version=0, updated_at=None, note=DEFAULTS_NOTE)


def _parse_blend(blend: object, where: str) -> BlendConfig:
    if not isinstance(blend, Mapping):
        raise MappingError(f"{where} must be an object, got {type(blend).__name__}")
    version = blend.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise MappingError(f"{where}.version must be a non-negative integer, got {version!r}")
    updated_at = blend.get("updated_at")
    if updated_at is not None and not isinstance(updated_at, str):
        raise MappingError(f"{where}.updated_at must be a string, got {updated_at!r}")
    note = blend.get("note") or ""
    if not isinstance(note, str):
        raise MappingError(f"{where}.note must be a string, got {note!r}")
    weights_raw = blend.get("weights")
    if not isinstance(weights_raw, Mapping):
        raise MappingError(f"{where}.weights must be an object, got {weights_raw!r}")
    params_raw = blend.get("params") or {}
    try:
        weights = validate_weights(weights_raw)
        params = validate_params(params_raw)
    except WeightsError as exc:
        raise MappingError(f"{where}: {exc}") from exc
    return _config(weights, params, version=version, updated_at=updated_at, note=note)


def parse_meta(meta: Mapping[str, Any] | None) -> BlendConfig:
    """Read the current blend from an items mapping ``_meta``.

    Args:
        meta: the mapping's ``_meta`` (``None`` or without ``blend``: the defaults).

    Returns:
        The current ``BlendConfig``; ``default_config()`` when none is stored.

    Raises:
        MappingError: ``_meta`` or its ``blend`` is malformed or holds invalid values.
    """
    if meta is None:
        return default_config()
    if not isinstance(meta, Mapping):
        raise MappingError(f"_meta must be an object, got {type(meta).__name__}")
    blend = meta.get("blend")
    if blend is None:
        return default_config()
    return _parse_blend(blend, "_meta.blend")


def blend_to_meta(config: BlendConfig) -> dict[str, Any]:
    """The stored shape of one blend version."""
    return {
        "version": config.version,
        "weights": config.weights.as_dict(),
        "params": config.params(),
        "updated_at": config.updated_at,
        "note": config.note,
    }


def _stored_history(meta: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if meta is None:
        return []
    raw = meta.get("blend_history") or []
    if not isinstance(raw, list):
        raise MappingError(f"_meta.blend_history must be a list, got {type(raw).__name__}")
    entries: list[dict[str, Any]] = []
    for position, entry in enumerate(raw):
        version = entry.get("version") if isinstance(entry, Mapping) else None
        if isinstance(version, bool) or not isinstance(version, int):
            raise MappingError(f"_meta.blend_history[{position}] has no integer version")
        entries.append(copy.deepcopy(dict(entry)))
    return entries


def history(meta: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every stored blend version, newest first; the first entry is the current one.

    Raises:
        MappingError: ``_meta`` is malformed.
    """
    entries = _stored_history(meta)
    if meta is not None and meta.get("blend") is not None:
        entries.insert(0, blend_to_meta(parse_meta(meta)))
    # sorted() is stable, so equal versions (never written by this module) keep stored order.
    return sorted(entries, key=lambda entry: -int(entry["version"]))


def _next_meta(
    meta: Mapping[str, Any] | None, new_blend: BlendConfig, current: BlendConfig
) -> dict[str, Any]:
    result: dict[str, Any] = copy.deepcopy(dict(meta)) if meta else {}
    past = [blend_to_meta(current), *_stored_history(meta)]
    result["blend"] = blend_to_meta(new_blend)
    result["blend_history"] = past[:HISTORY_LIMIT]
    return result


def _next_version(meta: Mapping[str, Any] | None, current: BlendConfig) -> int:
    versions = [current.version, *(int(e["version"]) for e in _stored_history(meta))]
    return max(versions) + 1


def _clean_note(note: str) -> str:
    return " ".join(str(note).split())[:MAX_NOTE_CHARS]


def with_new_weights(
    meta: Mapping[str, Any] | None,
    updates: Mapping[str, str | float],
    *,
    note: str = "",
    now_iso: str,
) -> dict[str, Any]:
    """Return a new ``_meta`` whose blend applies ``updates`` as the next version.

    Args:
        meta: the current ``_meta`` (not modified).
        updates: weight names and/or parameter names (``bm25_k``, ``half_life_days``, ...) to
            new values; strings are parsed. Unnamed weights and parameters keep their values.
        note: why the change was made (kept in the history).
        now_iso: the time to record as ``updated_at``.

    Returns:
        The full new ``_meta``: ``blend.version`` one above any stored version, the previous
        blend first in ``blend_history`` (bounded to ``HISTORY_LIMIT``), other keys kept.

    Raises:
        WeightsError: an unknown key, a bad value, or no update at all.
        MappingError: the current ``_meta`` is malformed.
    """
    if not updates:
        raise WeightsError("nothing to set: give at least one NAME=VALUE")
    current = parse_meta(meta)
    changed = overridden(current, updates)
    new_blend = replace(
        changed, version=_next_version(meta, current), updated_at=now_iso, note=_clean_note(note)
    )
    return _next_meta(meta, new_blend, current)


def overridden(config: BlendConfig, updates: Mapping[str, str | float]) -> BlendConfig:
    """``config`` with some weights and parameters replaced (validated; strings parsed).

    Raises:
        WeightsError: an unknown key or a bad value.
    """
    weight_updates = {k: v for k, v in updates.items() if k in WEIGHT_NAMES}
    param_updates = {k: v for k, v in updates.items() if k in DEFAULT_PARAMS}
    unknown = [k for k in updates if k not in weight_updates and k not in param_updates]
    if unknown:
        names = ", ".join((*WEIGHT_NAMES, *PARAM_NAMES))
        raise WeightsError(f"unknown weight or parameter {unknown[0]!r}; expected one of {names}")
    weights = validate_weights({**config.weights.as_dict(), **weight_updates})
    params = validate_params({**config.params(), **param_updates})
    rebuilt = _config(
        weights, params, version=config.version, updated_at=config.updated_at, note=config.note
    )
    return replace(
        rebuilt,
        similarity_floor=config.similarity_floor,
        similarity_scale=config.similarity_scale,
        centre=config.centre,
    )


def rollback(
    meta: Mapping[str, Any] | None, version: int | None = None, *, now_iso: str
) -> dict[str, Any]:
    """Return a new ``_meta`` that restores an earlier blend as a new version.

    Args:
        meta: the current ``_meta`` (not modified).
        version: the version to restore; ``None`` restores the one before the current.
        now_iso: the time to record as ``updated_at``.

    Returns:
        The full new ``_meta`` whose blend has the old weights and parameters, a new version
        number and the note ``"rollback to vN"``.

    Raises:
        InputError: no earlier version exists, or ``version`` is unknown or already current.
        MappingError: ``_meta`` or the restored entry is malformed.
    """
    current = parse_meta(meta)
    past = _stored_history(meta)
    if version is None:
        if not past:
            raise InputError("no earlier blend version to roll back to")
        target_entry = max(past, key=lambda entry: int(entry["version"]))
    else:
        if version == current.version:
            raise InputError(f"v{version} is already the current blend")
        matches = [entry for entry in past if entry["version"] == version]
        if not matches:
            known = ", ".join(f"v{e['version']}" for e in past) or "none"
            raise InputError(f"no blend version v{version} in the history (known: {known})")
        target_entry = matches[0]
    target = _parse_blend(target_entry, f"_meta.blend_history v{target_entry['version']}")
    restored = _config(
        target.weights,
        target.params(),
        version=_next_version(meta, current),
        updated_at=now_iso,
        note=f"rollback to v{target.version}",
    )
    return _next_meta(meta, restored, current)
