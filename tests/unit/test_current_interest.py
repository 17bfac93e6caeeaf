"""The belief "which interest is the user in now" (indexer.interests.update): a switch shows
within a few events, a return to an old interest within one or two, and the lasting weight of
the old interest is kept throughout."""

from __future__ import annotations

import numpy as np

from indexer.interests import DAY_MS, InterestEvent, InterestParams, InterestState, apply_event
from indexer.interests.state import recent_shares

DIMS = 16
T0 = 1_700_000_000_000
HOUR = 3_600_000
# USE's thresholds: the default model's profile, where most same-topic texts are below the
# join threshold and only the category (or the previous event's cluster) joins them.
PARAMS = InterestParams(cluster_join_threshold=0.45, cluster_support_threshold=0.1)


def noisy(axis: int, rng: np.random.Generator) -> np.ndarray:
    vector = np.zeros(DIMS)
    vector[axis] = 0.6
    vector += rng.normal(0.0, 0.8 / np.sqrt(DIMS), DIMS)
    return vector / np.linalg.norm(vector)


class User:
    """A user's state fed one event an hour: posts without a category, clicks with one."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.state = InterestState()
        self.t = T0

    def act(self, topic: str, kind: str) -> None:
        axis = {"A": 0, "B": 1, "C": 2}[topic]
        category = topic if kind == "click" else None
        event = InterestEvent(kind, self.t, noisy(axis, self.rng), category=category)
        self.state = apply_event(self.state, event, params=PARAMS)
        self.t += HOUR

    def alternate(self, topic: str, count: int, *, first: str = "post") -> None:
        kinds = ("post", "click") if first == "post" else ("click", "post")
        for n in range(count):
            self.act(topic, kinds[n % 2])

    def belief(self, topic: str, *, at: int | None = None) -> float:
        """The belief summed over clusters whose events are mostly of ``topic``."""
        shares = recent_shares(self.state.clusters, self.t if at is None else at, PARAMS)
        return sum(shares[c.id] for c in self.state.clusters if _mostly(c.categories, topic))

    def lasting(self, topic: str) -> float:
        clusters = self.state.clusters
        total = sum(c.weight_at(self.t, PARAMS) for c in clusters)
        mine = sum(c.weight_at(self.t, PARAMS) for c in clusters if _mostly(c.categories, topic))
        return mine / total


def _mostly(categories: dict[str, int] | object, topic: str) -> bool:
    counts = dict(categories)  # type: ignore[call-overload]
    return bool(counts) and max(counts, key=counts.get) == topic


def test_a_switch_is_believed_within_three_events_and_the_old_interest_lasts() -> None:
    user = User()
    user.alternate("A", 20, first="post")
    assert user.belief("A") > 0.9
    user.alternate("B", 3, first="post")
    assert user.belief("B") > 0.5
    # The old interest is still the user's strongest lasting one: it need not be relearnt.
    assert user.lasting("A") > user.lasting("B")


def test_a_return_to_the_old_interest_is_believed_within_two_events() -> None:
    user = User(seed=1)
    user.alternate("A", 20)
    user.alternate("B", 15)
    assert user.belief("B") > 0.8
    user.alternate("A", 2, first="click")
    assert user.belief("A") > 0.5


def test_the_belief_drifts_back_to_the_lasting_interests_when_the_user_is_away() -> None:
    user = User(seed=2)
    user.alternate("A", 20)
    user.alternate("B", 4)
    assert user.belief("B") > 0.5
    week_later = user.t + 7 * DAY_MS
    assert user.belief("A", at=week_later) > user.belief("B", at=week_later)
    shares = recent_shares(user.state.clusters, week_later, PARAMS)
    assert abs(sum(shares.values()) - 1.0) < 1e-9


def test_a_new_interests_first_events_do_not_evict_each_other() -> None:
    """Five small old interests fill the state; a new one, posted about without a category
    and clicked with one, must still grow into one cluster rather than be evicted."""
    params = InterestParams(
        cluster_join_threshold=0.45, cluster_support_threshold=0.1, max_clusters=3
    )
    rng = np.random.default_rng(3)
    state, t = InterestState(), T0
    for axis in range(3, 8):  # stray one-event interests
        state = apply_event(state, InterestEvent("post", t, noisy(axis, rng)), params=params)
        t += HOUR
    for n in range(6):
        kind = "click" if n % 2 else "post"
        vector = noisy(1, rng)
        category = "B" if kind == "click" else None
        state = apply_event(state, InterestEvent(kind, t, vector, category=category), params=params)
        t += HOUR
    grown = [c for c in state.clusters if c.categories.get("B")]
    assert len(grown) == 1
    assert grown[0].count >= 5  # the uncategorised posts joined it too


def test_an_uncategorised_event_joins_the_previous_events_interest_at_the_support() -> None:
    rng = np.random.default_rng(4)
    state = apply_event(
        InterestState(), InterestEvent("click", T0, noisy(1, rng), category="B"), params=PARAMS
    )
    vector = noisy(1, rng)
    direction = state.clusters[0].acc.direction()
    assert direction is not None
    assert 0.1 <= float(direction @ vector) < 0.45  # below the join threshold on its own
    state = apply_event(state, InterestEvent("post", T0 + HOUR, vector), params=PARAMS)
    assert len(state.clusters) == 1
    # Another category than the previous event's cluster still needs the join threshold.
    state = apply_event(
        state, InterestEvent("click", T0 + 2 * HOUR, noisy(1, rng), category="C"), params=PARAMS
    )
    assert len(state.clusters) == 2


def test_a_dislike_is_no_evidence_of_where_the_user_is() -> None:
    user = User(seed=5)
    user.alternate("A", 10)
    before = user.belief("A")
    user.state = apply_event(
        user.state,
        InterestEvent("dislike", user.t, noisy(0, user.rng), category="A"),
        params=PARAMS,
    )
    assert abs(user.belief("A") - before) < 1e-9
