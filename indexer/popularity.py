"""Click and like counts on their way to the items' ``popularity``, exactly once.

The hot path never rewrites an item: rewriting one re-inserts its vector into the HNSW graph.
Instead, each interest update writes an *outbox* on the user's document (the items its newly
applied clicks and likes name, with a per-user generation number that only grows) and then
adds the outbox to a pending hash in Redis. A flush, every few seconds, moves the pending
counts to the items in one bulk.

Why nothing is lost or counted twice:

* counting: an outbox is added to Redis only if its generation is above the last one counted
  for that user (kept in Redis, one small key per active user). A worker that dies after
  writing the user's document but before counting leaves the outbox on the document; the
  redelivered task (or the user's next update) reads it and counts it then. Every writer
  counts the outbox it read *before* replacing it, so an outbox is never overwritten
  uncounted, and a stale writer's older generation is a no-op.
* flushing: the pending hash is renamed, atomically, to one flush with a sequence number F.
  Each item records the last flush applied to it (``popularity_flush``) and is updated only
  while that is below F, under optimistic concurrency; a flusher that dies part-way is
  resumed with the same F, and the items it already updated are skipped. F follows the clock
  (milliseconds, or one more than the last when faster), so it keeps growing even if Redis
  loses its keys.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from indexer.writer import bulk_with_occ
from plugin.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# An outbox whose generation is older than this is taken as counted: its user's counted
# generation in Redis (kept GENERATION_TTL_S) could have expired meanwhile. A crashed task
# comes back within minutes (the visibility timeout), far inside this window.
OUTBOX_MAX_AGE_MS = 6 * 24 * 3600 * 1000
GENERATION_TTL_S = 7 * 24 * 3600
FLUSH_CHUNK = 1000
MAX_FLUSH_ATTEMPTS = 30

# KEYS[1] the pending hash, KEYS[2..] each user's counted generation.
# ARGV[1] the TTL of those keys, then per user: generation, item count n, n (item, count) pairs.
_COUNT_SCRIPT = """
local pos = 2
local counted = 0
for k = 2, #KEYS do
  local generation = ARGV[pos]
  local n = tonumber(ARGV[pos + 1])
  pos = pos + 2
  local last = tonumber(redis.call('GET', KEYS[k]) or '0')
  if tonumber(generation) > last then
    for j = 1, n do
      redis.call('HINCRBY', KEYS[1], ARGV[pos], ARGV[pos + 1])
      pos = pos + 2
    end
    redis.call('SET', KEYS[k], generation, 'EX', ARGV[1])
    counted = counted + 1
  else
    pos = pos + 2 * n
  end
end
return counted
"""

# KEYS: pending, flushing, flush id, flush sequence; ARGV[1]: now in ms. Resumes an unfinished
# flush first. Flush ids follow the clock, so a Redis that lost its keys still numbers new
# flushes above those the items recorded.
_BEGIN_FLUSH_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.call('GET', KEYS[3])
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local id = math.max(tonumber(redis.call('GET', KEYS[4]) or '0') + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[4], string.format('%d', id))
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], string.format('%d', id))
return string.format('%d', id)
"""

# KEYS: flushing, flush id. ARGV[1]: the flush that finished.
_END_FLUSH_SCRIPT = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Outbox:
    """The popularity counts one interest update owes the items, and its generation."""

    generation: int
    items: Mapping[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "items": dict(self.items)}

    @classmethod
    def from_json(cls, raw: Any) -> Outbox | None:
        if not isinstance(raw, Mapping):
            return None
        try:
            items = {str(k): int(v) for k, v in (raw.get("items") or {}).items() if int(v)}
            return cls(generation=int(raw.get("generation") or 0), items=items)
        except (TypeError, ValueError):
            logger.warning("a malformed popularity outbox was left out")
            return None


def next_outbox(previous: Outbox | None, items: Mapping[str, int], *, now_ms: int) -> Outbox:
    """The outbox of a new write: the previous one kept when nothing new is owed."""
    if not items:
        return previous or Outbox(generation=0, items={})
    last = previous.generation if previous else 0
    return Outbox(generation=max(last + 1, now_ms), items=dict(items))


@dataclass
class FlushReport:
    flush: int | None = None
    items: int = 0
    updated: int = 0
    skipped: int = 0
    missing: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flush": self.flush,
            "items": self.items,
            "updated": self.updated,
            "already_applied": self.skipped,
            "missing": self.missing,
            "seconds": round(self.seconds, 3),
        }


class PopularityLedger:
    """Redis side of the popularity counts: outboxes counted, then flushed to the items.

    Args:
        redis: a ``redis.Redis`` client (decode_responses=True).
        namespace: key prefix, e.g. the index prefix, so deployments sharing a Redis apart.
    """

    def __init__(self, redis: Any, *, namespace: str):
        self.redis = redis
        self.namespace = namespace
        self.pending_key = f"{namespace}:popularity:pending"
        self.flushing_key = f"{namespace}:popularity:flushing"
        self.flush_id_key = f"{namespace}:popularity:flush-id"
        self.flush_seq_key = f"{namespace}:popularity:flush-seq"
        self.scheduled_key = f"{namespace}:popularity:scheduled"
        self._count = redis.register_script(_COUNT_SCRIPT)
        self._begin = redis.register_script(_BEGIN_FLUSH_SCRIPT)
        self._end = redis.register_script(_END_FLUSH_SCRIPT)

    def generation_key(self, user: str) -> str:
        return f"{self.namespace}:popularity:user:{user}"

    def count(self, outboxes: Mapping[str, Outbox], *, now_ms: int) -> int:
        """Add each user's outbox to the pending counts unless it was counted already.

        Returns:
            how many outboxes were counted now.
        """
        keys, args = [self.pending_key], [str(GENERATION_TTL_S)]
        for user, outbox in outboxes.items():
            if not outbox.items or outbox.generation < now_ms - OUTBOX_MAX_AGE_MS:
                continue
            keys.append(self.generation_key(user))
            args += [str(outbox.generation), str(len(outbox.items))]
            for item, amount in outbox.items.items():
                args += [item, str(amount)]
        if len(keys) == 1:
            return 0
        return int(self._count(keys=keys, args=args))

    def pending(self) -> dict[str, int]:
        """Counts not yet flushed (pending and, if one is under way, flushing)."""
        totals: dict[str, int] = {}
        for key in (self.flushing_key, self.pending_key):
            for item, amount in (self.redis.hgetall(key) or {}).items():
                totals[item] = totals.get(item, 0) + int(amount)
        return totals

    def claim_schedule(self, interval_s: int) -> bool:
        """True for the one caller per interval that should schedule the next flush."""
        return bool(self.redis.set(self.scheduled_key, "1", nx=True, ex=max(1, interval_s)))

    def flush(
        self,
        es: Elasticsearch,
        *,
        items_index: str,
        chunk: int = FLUSH_CHUNK,
        after_chunk: Callable[[int], None] | None = None,
    ) -> FlushReport:
        """Move the pending counts to the items' ``popularity`` in bulk, exactly once.

        Args:
            after_chunk: called with the number of items written so far after each chunk
                (tests use it to stop a flush part-way, as a dying worker would).
        """
        started = time.perf_counter()
        report = FlushReport()
        raw_id = self._begin(
            keys=[self.pending_key, self.flushing_key, self.flush_id_key, self.flush_seq_key],
            args=[str(int(time.time() * 1000))],
        )
        if raw_id is None:
            report.seconds = time.perf_counter() - started
            return report
        flush_id = int(raw_id)
        report.flush = flush_id
        deltas = {
            item: int(amount)
            for item, amount in (self.redis.hgetall(self.flushing_key) or {}).items()
            if int(amount)
        }
        report.items = len(deltas)
        ordered = sorted(deltas)
        for start in range(0, len(ordered), chunk):
            part = ordered[start : start + chunk]
            self._apply(es, items_index, flush_id, {i: deltas[i] for i in part}, report)
            if after_chunk is not None:
                after_chunk(start + len(part))
        self._end(keys=[self.flushing_key, self.flush_id_key], args=[str(flush_id)])
        report.seconds = time.perf_counter() - started
        logger.info(
            "popularity flush %d: %d items updated, %d already applied, %d missing in %.2fs",
            flush_id,
            report.updated,
            report.skipped,
            report.missing,
            report.seconds,
        )
        return report

    def _apply(
        self,
        es: Elasticsearch,
        index: str,
        flush_id: int,
        deltas: Mapping[str, int],
        report: FlushReport,
    ) -> None:
        todo = dict(deltas)
        for attempt in range(MAX_FLUSH_ATTEMPTS):
            response = es.mget(
                index=index, ids=sorted(todo), source_includes=["popularity", "popularity_flush"]
            )
            actions = []
            for doc in response["docs"]:
                item = doc["_id"]
                if doc.get("error"):
                    raise ServiceUnavailable(f"item {item} cannot be read now; will retry")
                if not doc.get("found"):
                    report.missing += 1
                    todo.pop(item, None)
                    continue
                source = doc.get("_source") or {}
                if int(source.get("popularity_flush") or 0) >= flush_id:
                    report.skipped += 1
                    todo.pop(item, None)
                    continue
                value = max(0, int(source.get("popularity") or 0) + todo[item])
                actions.append(
                    {
                        "_op_type": "update",
                        "_index": index,
                        "_id": item,
                        "if_seq_no": doc["_seq_no"],
                        "if_primary_term": doc["_primary_term"],
                        "doc": {"popularity": value, "popularity_flush": flush_id},
                    }
                )
            if not actions:
                return
            outcome = bulk_with_occ(es, actions)
            report.updated += len(outcome.written)
            for item in outcome.written:
                todo.pop(item, None)
            report.missing += len(outcome.missing)
            for item in outcome.missing:
                todo.pop(item, None)
            if not todo:
                return
            # Re-indexed or updated meanwhile: re-read those items and try again.
            time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
        raise ServiceUnavailable(
            f"popularity flush {flush_id}: {len(todo)} items kept conflicting; will retry"
        )


def outbox_items(item_ids: Sequence[str]) -> dict[str, int]:
    """How many clicks and likes each item gets from these applied events."""
    counts: dict[str, int] = {}
    for item in item_ids:
        counts[item] = counts.get(item, 0) + 1
    return counts
