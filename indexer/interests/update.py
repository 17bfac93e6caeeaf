"""Applying events to a state: decay, clusters, affinities and recency (pure numpy)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from indexer.interests.params import DAY_MS, DEFAULT_PARAMS, ITEM_EVENT_KINDS, InterestParams
from indexer.interests.state import (
    Cluster,
    DecayedVector,
    InterestEvent,
    InterestState,
    add_weights,
    as_time_ms,
    bounded,
    checked_vector,
    decay_factors,
    lasting_shares,
    recent_shares,
    scaled,
)
from plugin.errors import InputError


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
        vector = checked_vector(state, np.asarray(event.vector))
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
        if weight > 0:
            clusters = _update_current(clusters, touched, vector, weight, event, params)
    clusters = _prune_clusters(clusters, now, params, keep=touched, event_ms=event.time_ms)
    categories, keywords, affinity_ref = _update_affinities(state, event, weight, params)
    collab, collab_version = _update_collab(state, event, params)
    item_votes, votes_ref = _update_votes(state, event, params)
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
        item_votes=item_votes,
        votes_ref_ms=votes_ref,
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


def _update_collab(
    state: InterestState, event: InterestEvent, params: InterestParams
) -> tuple[DecayedVector | None, int | None]:
    """Fold the item's factors into the user's collaborative sum, weighted and decayed as the
    item votes are (``vote_weights``, ``vote_half_life_days``): both are the behaviour side.

    Sums are only valid within one factors version: factors newer than the user's start a
    new sum (the refit recomputes every user from their stored events, so nothing is lost
    for long), and factors older than the user's are skipped (already in the recompute).
    """
    vote = params.vote_weights.get(event.kind, 0.0) * event.intensity
    if event.collab is None or event.collab_version is None or vote == 0:
        return state.collab, state.collab_version
    current = state.collab_version
    if current is not None and event.collab_version < current:
        return state.collab, current
    vector = np.asarray(event.collab, dtype=np.float64)
    base = state.collab if current == event.collab_version else None
    if base is not None and base.sum.shape != vector.shape:
        base = None  # factors of another size: same version cannot say so, start again
    collab = (base or DecayedVector.zeros(vector.size)).add(
        vote * vector,
        abs(vote),
        event.time_ms,
        half_life_ms=params.vote_half_life_days * DAY_MS,
        half_life_events=math.inf,
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
        collab, _ = _update_collab(fresh, event, params)
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
    # Consecutive events are mostly of one topic: an event with nothing to say otherwise (no
    # category, no shared keyword) joins the interest of the user's previous event at the
    # support threshold. Without this, a new topic whose posts go uncategorised splits into
    # one-event clusters that evict each other before any can grow.
    latest = max(clusters, key=lambda c: (c.last_seen_ms, c.id)).id if clusters else None
    for index, cluster in enumerate(clusters):
        direction = cluster.acc.direction()
        cos = -math.inf if direction is None else float(direction @ vector)
        match = cluster.topic_match(event)
        join = mismatch_join if match is False else params.cluster_join_threshold
        supported = match is True or (match is None and cluster.id == latest)
        eligible = cos >= join or (cos >= support and supported)
        if eligible and cos > best_cos:
            best, best_cos = index, cos
    joins = best is not None
    if weight < 0 and not joins:
        return clusters, next_id, None
    if joins:
        assert best is not None
        old = clusters[best]
        factors = decay_factors(old.acc.ref_ms, event.time_ms, half_life_ms, math.inf)
        joined = scaled(old.keywords, factors[0])
        if weight > 0:
            add_weights(joined, event.keywords, weight * factors[1])
        updated = Cluster(
            id=old.id,
            acc=old.acc.add(weight * vector, weight, event.time_ms, half_life_ms=half_life_ms),
            keywords=bounded(joined, params.max_cluster_keywords, positive_only=True),
            last_seen_ms=max(old.last_seen_ms, event.time_ms) if weight > 0 else old.last_seen_ms,
            count=old.count + 1,
            label_hint=(event.label if weight > 0 else None) or old.label_hint,
            categories=_counted(old.categories, event.category if weight > 0 else None),
            recent=old.recent,
            recent_ms=old.recent_ms,
        )
        return (*clusters[:best], updated, *clusters[best + 1 :]), next_id, old.id
    keywords: dict[str, float] = {}
    add_weights(keywords, event.keywords, weight)
    created = Cluster(
        id=next_id,
        acc=DecayedVector.zeros(vector.size).add(
            weight * vector, weight, event.time_ms, half_life_ms=half_life_ms
        ),
        keywords=bounded(keywords, params.max_cluster_keywords, positive_only=True),
        last_seen_ms=event.time_ms,
        count=1,
        label_hint=event.label,
        categories=_counted({}, event.category),
    )
    return (*clusters, created), next_id + 1, next_id


def _update_current(
    clusters: tuple[Cluster, ...],
    touched: int | None,
    vector: np.ndarray,
    weight: float,
    event: InterestEvent,
    params: InterestParams,
) -> tuple[Cluster, ...]:
    """Bayes' rule for "which interest is the user in now" (each cluster's ``recent``).

    The belief first drifts back towards the lasting interests (their weight shares, the
    prior): by ``current_return_rate`` per event and fully over a few short half-lives of
    time, so an interest the user returns to needs no relearning. The event is then evidence:
    the cluster it joined, or one it shares its topic with, keeps its belief; every other is
    multiplied by ``current_mismatch ** (strength * (1 - match))``, ``match`` being how close
    the event's cosine to that cluster comes to the join threshold from halfway up from the
    support threshold. A click (weight 0.5) is half the evidence of a post or a like.
    """
    if not clusters:
        return clusters
    prior = lasting_shares(clusters, event.time_ms, params)
    relaxed = recent_shares(clusters, event.time_ms, params)
    belief = [relaxed[c.id] for c in clusters]
    rate = params.current_return_rate
    strength = min(weight, 1.0)
    # Halfway between the support and the join threshold: below it a cosine is no evidence
    # of the topic (for some models the support threshold is close to unrelated texts).
    join = params.cluster_join_threshold
    support = join if params.cluster_support_threshold is None else params.cluster_support_threshold
    low = (join + support) / 2
    span = max(join - low, 1e-6)
    posterior = []
    for cluster, believed, lasting in zip(clusters, belief, prior, strict=True):
        value = (1.0 - rate) * believed + rate * lasting
        if cluster.id == touched and cluster.recent_ms is None:
            # A new interest: the user moved to something new, as likely as moving back to
            # all the old ones together, not in proportion to its one event's weight.
            value = rate
        if cluster.id != touched and not cluster.shares_topic(event):
            direction = cluster.acc.direction()
            cos = -1.0 if direction is None else float(direction @ vector)
            match = min(max((cos - low) / span, 0.0), 1.0)
            value *= params.current_mismatch ** (strength * (1.0 - match))
        posterior.append(value)
    total = math.fsum(posterior)
    return tuple(
        replace(cluster, recent=value / total if total > 0 else lasting, recent_ms=event.time_ms)
        for cluster, value, lasting in zip(clusters, posterior, prior, strict=True)
    )


def _counted(counts: Mapping[str, int], category: str | None) -> dict[str, int]:
    updated = dict(counts)
    if category:
        updated[category] = updated.get(category, 0) + 1
    return updated


def _prune_clusters(
    clusters: tuple[Cluster, ...],
    now_ms: int,
    params: InterestParams,
    *,
    keep: int | None,
    event_ms: int,
) -> tuple[Cluster, ...]:
    """Drop faded clusters, then the least valued until at most ``max_clusters`` remain.

    A cluster's value is its share of the lasting weight plus the belief that the user is in
    it now (``recent``), so the first events of a new interest, each still light, do not
    evict each other before they can join up, while a strong old interest stays. The cluster
    the current event created or joined (``keep``) is exempt from the size cut: otherwise a
    new interest could never displace an established one and the profile would freeze.
    Values are taken at the event's time (``event_ms``), so one event at a time and a batch
    of the same events keep the same clusters.
    """
    alive = [c for c in clusters if c.weight_at(now_ms, params) >= params.cluster_evict_weight]
    while len(alive) > params.max_clusters:
        shares = lasting_shares(alive, event_ms, params)
        beliefs = recent_shares(alive, event_ms, params)
        value = {c.id: share + beliefs[c.id] for c, share in zip(alive, shares, strict=True)}
        candidates = [c for c in alive if c.id != keep] or alive
        weakest = min(candidates, key=lambda c: (value[c.id], -c.id))
        alive.remove(weakest)
    return tuple(alive)


def _update_affinities(
    state: InterestState, event: InterestEvent, weight: float, params: InterestParams
) -> tuple[dict[str, float], dict[str, float], int]:
    """Decay the category/keyword maps to the event (long half-life) and add the event."""
    old, new, ref = decay_factors(
        state.affinity_ref_ms, event.time_ms, params.long_half_life_days * DAY_MS, math.inf
    )
    categories = scaled(state.categories, old)
    keywords = scaled(state.keywords, old)
    if event.category is not None:
        categories[event.category] = categories.get(event.category, 0.0) + weight * new
    add_weights(keywords, event.keywords, weight * new)
    return (
        bounded(categories, params.max_categories),
        bounded(keywords, params.max_keywords),
        ref,
    )


def _update_votes(
    state: InterestState, event: InterestEvent, params: InterestParams
) -> tuple[Mapping[str, float], int | None]:
    """Decay the item votes to the event (``vote_half_life_days``) and add its vote."""
    vote = params.vote_weights.get(event.kind, 0.0) * event.intensity
    if event.item_id is None or vote == 0.0:
        return state.item_votes, state.votes_ref_ms
    old, new, ref = decay_factors(
        state.votes_ref_ms, event.time_ms, params.vote_half_life_days * DAY_MS, math.inf
    )
    votes = scaled(state.item_votes, old)
    votes[event.item_id] = votes.get(event.item_id, 0.0) + vote * new
    return bounded(votes, params.max_item_votes), ref


def _update_recent(
    recent: tuple[str, ...], event: InterestEvent, params: InterestParams
) -> tuple[str, ...]:
    if event.item_id is None or event.kind not in ITEM_EVENT_KINDS:
        return recent
    rest = tuple(item for item in recent if item != event.item_id)
    return (event.item_id, *rest)[: params.max_recent_items]


def _resolve_now(state: InterestState, events: Sequence[InterestEvent], now_ms: int | None) -> int:
    if now_ms is not None:
        return as_time_ms(now_ms, "now_ms")
    times = [e.time_ms for e in events if isinstance(e, InterestEvent)]
    if state.last_event_ms is not None:
        times.append(state.last_event_ms)
    return max(times)
