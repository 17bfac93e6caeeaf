"""The interest document: to and from Elasticsearch, and the readable summary."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from indexer.interests.params import DEFAULT_PARAMS, STATE_VERSION, SUMMARY_KEYWORDS, InterestParams
from indexer.interests.state import (
    Cluster,
    DecayedVector,
    InterestState,
    count_shares,
    direction_list,
    iso_time,
    normalized,
    optional_int,
    ranked_clusters,
    readable_vector,
    recent_shares,
    user_vectors,
)
from plugin.errors import InputError


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
        "updated_at": iso_time(now_ms),
    }
    if state.last_event_ms is not None:
        doc["last_event_at"] = iso_time(state.last_event_ms)
    for name in ("long_term", "short_term"):
        if vectors[name] is not None:
            doc[name] = vectors[name]
    # At the last event, not at the write: the same events give the same document whenever
    # (and however batched) they are applied. The belief moves on at the user's next event.
    shares = recent_shares(state.clusters, state.last_event_ms or now_ms, params)
    doc["clusters"] = [
        {
            "label": cluster.label,
            "weight": weight,
            "recent": round(shares.get(cluster.id, 0.0), 6),
            "categories": count_shares(cluster.categories),
            "last_seen": iso_time(cluster.last_seen_ms),
            "count": cluster.count,
            "vector": readable_vector(direction),
        }
        for cluster, direction, weight in ranked_clusters(state.clusters, params)
    ]
    doc["categories"] = vectors["categories"]
    doc["keywords"] = vectors["keywords"]
    doc["recent_items"] = list(state.recent_items)
    collab = direction_list(state.collab)
    if collab is not None:
        doc["collab_vector"] = collab
        doc["collab_version"] = state.collab_version
    votes = readable_votes(state.item_votes)
    if votes["items"]:
        doc["item_votes"] = votes
    doc["state"] = _state_to_json(state)
    return doc


def readable_votes(votes: Mapping[str, float]) -> dict[str, list[Any]]:
    """Item votes strongest first, scaled so the largest magnitude is 1. Every vote decays
    at one rate, so their ratios, all a ranking needs, hold at any later time."""
    top = max((abs(v) for v in votes.values()), default=0.0)
    if top == 0.0:
        return {"items": [], "weights": []}
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "items": [item for item, _ in ranked],
        "weights": [round(value / top, 6) for _, value in ranked],
    }


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
                recent_ms=optional_int(item.get("recent_ms")),
            )
            for item in raw.get("clusters", [])
        )
        state = InterestState(
            long_term=long_term,
            short_term=short_term,
            clusters=clusters,
            categories=_pairs_to_dict(raw.get("categories", [])),
            keywords=_pairs_to_dict(raw.get("keywords", [])),
            affinity_ref_ms=optional_int(raw.get("affinity_ref_ms")),
            recent_items=tuple(str(item) for item in doc.get("recent_items", [])),
            events=int(doc.get("events", 0)),
            last_event_ms=optional_int(raw.get("last_event_ms")),
            updated_ms=optional_int(raw.get("updated_ms")),
            next_cluster_id=int(raw.get("next_cluster_id", len(clusters) + 1)),
            collab=_optional_acc(raw.get("collab")),
            collab_version=optional_int(raw.get("collab_version")),
            item_votes=_pairs_to_dict(raw.get("item_votes") or []),
            votes_ref_ms=optional_int(raw.get("votes_ref_ms")),
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
                "last_seen": iso_time(cluster.last_seen_ms),
            }
            for cluster in clusters
        ],
        "categories": {k: round(v, 4) for k, v in normalized(state.categories).items()},
        "keywords": {
            k: round(v, 4) for k, v in list(normalized(state.keywords).items())[:SUMMARY_KEYWORDS]
        },
        "events": state.events,
        "updated_at": None if state.updated_ms is None else iso_time(state.updated_ms),
    }


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
        "item_votes": [[k, v] for k, v in state.item_votes.items()],
        "votes_ref_ms": state.votes_ref_ms,
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
    return DecayedVector(vector, float(raw["mass"]), optional_int(raw.get("ref_ms")))


def _pairs_to_dict(pairs: Iterable[Sequence[Any]]) -> dict[str, float]:
    return {str(key): float(value) for key, value in pairs}
