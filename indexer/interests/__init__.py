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

Modules, each importing only those before it: ``params`` (parameters, event weights),
``state`` (the state's types, decay arithmetic, readers), ``update`` (applying events) and
``codec`` (the Elasticsearch document and the readable summary).
"""

from __future__ import annotations

from indexer.interests.codec import from_document, summary, to_document
from indexer.interests.params import (
    DAY_MS,
    DEFAULT_PARAMS,
    EVENT_WEIGHTS,
    ITEM_EVENT_KINDS,
    InterestParams,
)
from indexer.interests.state import (
    Cluster,
    DecayedVector,
    InterestEvent,
    InterestState,
    user_vectors,
)
from indexer.interests.update import apply_event, apply_events, with_collab

__all__ = [
    "DAY_MS",
    "DEFAULT_PARAMS",
    "EVENT_WEIGHTS",
    "ITEM_EVENT_KINDS",
    "Cluster",
    "DecayedVector",
    "InterestEvent",
    "InterestParams",
    "InterestState",
    "apply_event",
    "apply_events",
    "from_document",
    "summary",
    "to_document",
    "user_vectors",
    "with_collab",
]
