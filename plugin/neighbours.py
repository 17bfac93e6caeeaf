"""Item neighbours at ranking time: a user's item votes, summed over the voted items'
out-neighbours, become the ``neighbours`` component's scores.

The table is written by ``indexer.neighbours_store`` (one document per item, behind the
``item_neighbours`` alias; its version in the items ``_meta.neighbours``). A user's votes
(``UserProfile.item_votes``: likes +, dislikes −, decayed by age) are multiplied by each voted
item's neighbour weights and summed per target item; the strongest ``MAX_SCORED`` targets,
scaled so the best is 1, go to the scorer, which looks each document's id up in them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch, NotFoundError

# Targets sent to the scorer per request: the map travels with every body, and a target
# below the 500th has a vote too small to lift an item into a page of 20.
MAX_SCORED = 500
# Rows kept in memory per process (about 200 pairs each); a new version empties it.
CACHE_ITEMS = 50_000
# Decimal places stored per weight: the ranking needs far less than float precision.
WEIGHT_DIGITS = 6

Row = tuple[tuple[str, float], ...]


def neighbour_document(
    item: str, row: Iterable[tuple[str, float]], *, version: int
) -> dict[str, Any]:
    """The stored shape of one item's out-neighbours (strongest first)."""
    pairs = list(row)
    return {
        "item_id": item,
        "version": version,
        "neighbours": {
            "ids": [target for target, _ in pairs],
            "weights": [round(weight, WEIGHT_DIGITS) for _, weight in pairs],
        },
    }


def parse_row(source: Mapping[str, Any]) -> Row:
    """The (target, weight) pairs of a stored document; a malformed one gives none."""
    stored = source.get("neighbours")
    if not isinstance(stored, Mapping):
        return ()
    ids, weights = stored.get("ids"), stored.get("weights")
    if not isinstance(ids, list) or not isinstance(weights, list) or len(ids) != len(weights):
        return ()
    return tuple(
        (str(target), float(weight))
        for target, weight in zip(ids, weights, strict=True)
        if isinstance(weight, int | float) and not isinstance(weight, bool)
    )


@dataclass(frozen=True)
class NeighbourSignal:
    """What a user's votes give the items: scores in (0, 1] (best 1) and, per item, the voted
    item that gave it the most (its reason)."""

    scores: Mapping[str, float] = field(default_factory=dict)
    because: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PackedRow:
    """One item's out-neighbours as arrays of item numbers (``ItemNumbers``) and weights: a
    user's few hundred voted rows are summed with one ``bincount`` instead of a dict loop."""

    targets: np.ndarray
    weights: np.ndarray


class ItemNumbers:
    """Item id <-> a dense number, for one process (grows; never reused across ids)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.numbers: dict[str, int] = {}

    def number(self, item: str) -> int:
        found = self.numbers.get(item)
        if found is None:
            found = self.numbers[item] = len(self.ids)
            self.ids.append(item)
        return found

    def pack(self, row: Row) -> PackedRow:
        return PackedRow(
            targets=np.fromiter((self.number(t) for t, _ in row), dtype=np.int64, count=len(row)),
            weights=np.fromiter((w for _, w in row), dtype=np.float64, count=len(row)),
        )


def vote_scores(
    votes: Mapping[str, float],
    rows: Mapping[str, PackedRow],
    numbers: ItemNumbers,
    *,
    limit: int = MAX_SCORED,
) -> NeighbourSignal:
    """Sum vote × weight per target over the voted items' rows; keep the ``limit`` best
    positive ones, scaled by the best. Voted items themselves are not scored (already seen)."""
    voted = [(source, vote, rows[source]) for source, vote in votes.items() if source in rows]
    if not voted:
        return NeighbourSignal()
    targets = np.concatenate([row.targets for _, _, row in voted])
    parts = np.concatenate([vote * row.weights for _, vote, row in voted])
    origin = np.repeat(np.arange(len(voted)), [row.targets.size for _, _, row in voted])
    size = int(targets.max()) + 1
    totals = np.bincount(targets, weights=parts, minlength=size)
    for source in votes:  # seen: never recommended, so never scored
        number = numbers.numbers.get(source)
        if number is not None and number < size:
            totals[number] = 0.0
    positive = np.flatnonzero(totals > 0)
    if positive.size == 0:
        return NeighbourSignal()
    best = positive[np.lexsort((positive, -totals[positive]))][:limit]
    top = float(totals[best[0]])
    # The voter of each target's largest part: sort parts by (target, -part), first of each.
    order = np.lexsort((-parts, targets))
    first = order[np.r_[True, targets[order][1:] != targets[order][:-1]]]
    voter = dict(zip(targets[first].tolist(), origin[first].tolist(), strict=True))
    names = numbers.ids
    return NeighbourSignal(
        scores={names[t]: float(totals[t]) / top for t in best.tolist()},
        because={names[t]: voted[voter[t]][0] for t in best.tolist()},
    )


class NeighbourReader:
    """Reads rows of the current version, caching them per process (thread-safe)."""

    def __init__(self, es: Elasticsearch, alias: str, *, capacity: int = CACHE_ITEMS):
        self._es = es
        self._alias = alias
        self._capacity = capacity
        self._version: int | None = None
        self._rows: dict[str, PackedRow | None] = {}
        self.numbers = ItemNumbers()
        self._lock = threading.Lock()

    def rows(self, items: Sequence[str], version: int) -> dict[str, PackedRow]:
        """The rows of ``items`` in table ``version`` (items without a row are left out)."""
        with self._lock:
            if self._version != version:
                self._version, self._rows = version, {}
            found = {item: self._rows[item] for item in items if item in self._rows}
        missing = [item for item in dict.fromkeys(items) if item not in found]
        if missing:
            found.update(self._fetch(missing, version))
        return {item: row for item, row in found.items() if row is not None}

    def _fetch(self, items: list[str], version: int) -> dict[str, PackedRow | None]:
        try:
            response = self._es.mget(
                index=self._alias, ids=items, source_includes=["neighbours", "version"]
            )
        except NotFoundError:  # no refit yet: no neighbours
            return {}
        fetched: dict[str, PackedRow | None] = {}
        with self._lock:
            for doc in response["docs"]:
                source = doc.get("_source") or {}
                # A doc of another version: the alias moved since `_meta` was read; skip it
                # rather than cache it under the wrong version.
                if doc.get("found") and source.get("version") == version:
                    row = parse_row(source)
                    fetched[str(doc["_id"])] = self.numbers.pack(row) if row else None
                elif not doc.get("found"):
                    fetched[str(doc["_id"])] = None
            if self._version == version:
                if len(self._rows) + len(fetched) > self._capacity:
                    self._rows = {}
                self._rows.update(fetched)
        return fetched
