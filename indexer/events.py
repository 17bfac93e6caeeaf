"""Events in, interest documents out: validation (pure) and the optimistic-concurrency writer."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from indexer import segment
from indexer.categories import CategoryCache, predict_categories
from indexer.collab import check_factor
from indexer.intensity import intensity
from indexer.interests import (
    EVENT_WEIGHTS,
    InterestEvent,
    InterestParams,
    apply_events,
    from_document,
    to_document,
)
from indexer.item_cache import ItemCache
from indexer.popularity import Outbox, PopularityLedger, next_outbox, outbox_items
from indexer.text import clean_text, content_hash, detect_language
from indexer.timeparse import iso, parse_time, to_millis
from indexer.writer import OccOutcome, bulk_with_occ, bulk_write
from plugin.encoder import Encoder, warn_unreadable_languages
from plugin.errors import InputError, ServiceUnavailable
from plugin.es import ensure_indices
from plugin.pseudonym import pseudonymize, validate_user_id
from plugin.settings import Settings

logger = logging.getLogger(__name__)

MAX_EVENT_TEXT_CHARS = 2000
# Longer posts are cut to MAX_EVENT_TEXT_CHARS; past this a "post" is a paste or an attack,
# refused with an error rather than silently reduced to its first page.
MAX_EVENT_RAW_CHARS = 100_000
MAX_OCC_ATTEMPTS = 30
# Event ids already folded into a user's state, kept to make re-delivered tasks harmless.
MAX_APPLIED_IDS = 1000
TEXT_KINDS = ("post", "search")
POPULARITY_KINDS = ("click", "like")
# What an event takes from the item it names.
ITEM_FIELDS = ("embedding", "category", "keywords", "title", "collab", "collab_version")


@dataclass(frozen=True)
class PreparedEvent:
    """One validated event; ``user`` is already the pseudonym."""

    event_id: str
    user: str
    kind: str
    time: datetime
    text: str | None
    item_id: str | None
    lang: str | None
    intensity: float
    keywords: tuple[tuple[str, float], ...]


def prepare_event(
    raw: Mapping[str, Any], *, key: bytes, now: datetime | None = None
) -> PreparedEvent:
    """Validate one event (user, type, time, text or item); InputError says what is wrong."""
    if not isinstance(raw, Mapping):
        raise InputError("event must be a JSON object")
    now = now or datetime.now(UTC)
    user = pseudonymize(validate_user_id(raw.get("user")), key)
    kind = str(raw.get("type") or "").strip().lower()
    if kind not in EVENT_WEIGHTS:
        raise InputError(f"event type {kind!r} is not one of {', '.join(EVENT_WEIGHTS)}")
    moment = parse_time(raw.get("time"), now=now, field="time")
    text_raw, item_raw = raw.get("text"), raw.get("item")
    if item_raw is None:
        item_raw = raw.get("item_id")
    text = None
    if text_raw not in (None, ""):
        if isinstance(text_raw, str | bytes) and len(text_raw) > MAX_EVENT_RAW_CHARS:
            raise InputError(
                f"text has {len(text_raw):,} characters; at most {MAX_EVENT_RAW_CHARS:,} "
                "are accepted"
            )
        text = clean_text(text_raw, max_chars=MAX_EVENT_TEXT_CHARS)
    item_id = str(item_raw).strip() if item_raw not in (None, "") else None
    if text is None and item_id is None:
        if text_raw == "":
            raise InputError(f"text is empty and the {kind} event names no item")
        raise InputError(f"a {kind} event needs a text or an item id")
    keywords = tuple(segment.keywords(text, top_k=8)) if text else ()
    given_id = raw.get("event_id")
    event_id = str(given_id) if given_id else _event_id(user, kind, moment, item_id, text)
    return PreparedEvent(
        event_id=event_id,
        user=user,
        kind=kind,
        time=moment,
        text=text,
        item_id=item_id,
        lang=detect_language(text) if text else None,
        intensity=intensity(text) if text else 1.0,
        keywords=keywords,
    )


def _event_id(user: str, kind: str, moment: datetime, item_id: str | None, text: str | None) -> str:
    """Deterministic: the same event sent twice is stored and applied once."""
    parts = [user, kind, str(to_millis(moment)), item_id or "", content_hash(text) if text else ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


@dataclass
class EventReport:
    applied: int = 0
    duplicates: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    # Clicks or likes were counted now: a popularity flush is due.
    popularity_pending: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "users": self.users,
            "popularity_pending": self.popularity_pending,
        }


def _index_missing(doc: Mapping[str, Any]) -> bool:
    error = doc.get("error")
    return isinstance(error, Mapping) and error.get("type") == "index_not_found_exception"


def item_collab(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item's collaborative factors and their version, when it has both."""
    factors, version = item.get("collab"), item.get("collab_version")
    if not factors or version is None:
        return {}
    try:
        return {"collab": check_factor(factors), "collab_version": int(version)}
    except (InputError, TypeError, ValueError):
        logger.warning("item factors of version %r are malformed: left out", version)
        return {}


class EventProcessor:
    """Stores events and folds them into each user's interest document."""

    def __init__(
        self,
        es: Elasticsearch,
        *,
        encoder: Encoder,
        params: InterestParams,
        items_index: str,
        events_index: str,
        interests_index: str,
        user_key: bytes,
        categories: CategoryCache | None = None,
        popularity: PopularityLedger | None = None,
        ensure_indices: Callable[[], object] | None = None,
    ):
        self.es = es
        # Posts (text, no item) get a predicted category feeding the category affinity.
        self.categories = categories
        self.encoder = encoder
        self.params = params
        self.items_index = items_index
        self.events_index = events_index
        self.interests_index = interests_index
        self.user_key = user_key
        # Clicks and likes reach the items' popularity through the ledger's flush; without one
        # (a tool that replays history) popularity is left to the caller.
        self.popularity = popularity
        self.items = ItemCache(ITEM_FIELDS)
        # Run once before the first write: the indices with their real mappings. Without it a
        # fresh cluster's first events would auto-create them with dynamic ones, which refuse
        # the interest documents ("state.keywords cannot be changed from text to float").
        self.ensure_indices = ensure_indices
        self._indices_ready = ensure_indices is None

    @classmethod
    def for_settings(
        cls,
        es: Elasticsearch,
        *,
        settings: Settings,
        encoder: Encoder,
        user_key: bytes,
        categories: CategoryCache | None = None,
        popularity: PopularityLedger | None = None,
    ) -> EventProcessor:
        """The processor a worker runs: the settings' aliases, the encoder's cluster profile;
        the indices are created behind their aliases, if missing, before its first write."""

        def ensure() -> object:
            if not encoder.profile.dims:  # an arbitrary model: its size is known once loaded
                encoder.encode(["probe"])
            identity = encoder.profile.identity()
            return ensure_indices(es, settings, model=identity, check_existing=False)

        return cls(
            es,
            encoder=encoder,
            params=InterestParams(
                cluster_join_threshold=encoder.profile.cluster_threshold,
                cluster_support_threshold=encoder.profile.cluster_support_threshold,
            ),
            items_index=settings.index_alias("items"),
            events_index=settings.index_alias("user_events"),
            interests_index=settings.index_alias("user_interests"),
            user_key=user_key,
            categories=categories,
            popularity=popularity,
            ensure_indices=ensure,
        )

    def process(
        self, raw_events: Sequence[Mapping[str, Any]], *, refresh: bool = False
    ) -> EventReport:
        if not self._indices_ready and self.ensure_indices is not None:
            self.ensure_indices()
            self._indices_ready = True
        report = EventReport()
        now = datetime.now(UTC)
        prepared: list[PreparedEvent] = []
        for position, raw in enumerate(raw_events):
            try:
                prepared.append(prepare_event(raw, key=self.user_key, now=now))
            except InputError as exc:
                report.errors.append({"id": f"#{position}", "error": str(exc)})
        items = self._fetch_items({e.item_id for e in prepared if e.item_id})
        usable = []
        for event in prepared:
            if event.item_id and event.item_id not in items and event.text is None:
                error = f"unknown item id {event.item_id!r}"
                report.errors.append({"id": event.event_id, "error": error})
                continue
            usable.append(event)
        text_events = [e for e in usable if e.text]
        warn_unreadable_languages(self.encoder.profile, (e.lang for e in text_events))
        vectors = self.encoder.encode([e.text or "" for e in text_events], kind="query")
        text_vectors = {e.event_id: v for e, v in zip(text_events, vectors, strict=True)}
        self._store(usable, text_vectors, items, now)
        predicted = self._post_categories(usable)
        by_user: dict[str, dict[str, InterestEvent]] = defaultdict(dict)
        for event in usable:
            by_user[event.user][event.event_id] = self._interest_event(
                event, text_vectors, items, predicted.get(event.event_id)
            )
        popular = {
            event.event_id
            for event in usable
            if event.kind in POPULARITY_KINDS and event.item_id in items
        }
        applied, counted = self._apply_batch(by_user, popular, now_ms=to_millis(now))
        for user, events in by_user.items():
            fresh = applied.get(user, [])
            report.applied += len(fresh)
            report.duplicates += len(events) - len(fresh)
            report.users.append(user)
        # The same event twice in one batch counts once.
        report.duplicates += len(usable) - sum(len(events) for events in by_user.values())
        # Counted now: this batch's clicks, or an outbox a writer that died left behind.
        report.popularity_pending = counted > 0
        if refresh:
            self.es.indices.refresh(index=self.interests_index)
        return report

    # --- steps ---------------------------------------------------------------------------------
    def _fetch_items(self, ids: set[str | None]) -> dict[str, dict[str, Any]]:
        return self.items.fetch(self.es, self.items_index, (i for i in ids if i))

    def _post_categories(self, events: Sequence[PreparedEvent]) -> dict[str, str]:
        """Predicted categories of posts that name no item (none without a model)."""
        model = self.categories.get() if self.categories is not None else None
        posts = [e for e in events if e.kind == "post" and e.text and not e.item_id]
        if model is None or not posts:
            return {}
        labels = predict_categories(model, [e.text or "" for e in posts])
        return {e.event_id: label for e, label in zip(posts, labels, strict=True) if label}

    def _interest_event(
        self,
        event: PreparedEvent,
        text_vectors: Mapping[str, np.ndarray],
        items: Mapping[str, Any],
        predicted_category: str | None = None,
    ) -> InterestEvent:
        item = items.get(event.item_id or "", {})
        vector = text_vectors.get(event.event_id)
        if vector is None and item.get("embedding"):
            vector = np.asarray(item["embedding"], dtype=np.float32)
        keywords = dict(event.keywords)
        for word in item.get("keywords") or []:
            keywords.setdefault(word, 0.5)
        return InterestEvent(
            kind=event.kind,
            time_ms=to_millis(event.time),
            vector=vector,
            category=item.get("category") or predicted_category,
            keywords=keywords,
            item_id=event.item_id if item else None,
            intensity=event.intensity,
            label=item.get("title"),
            **item_collab(item),
        )

    def _store(
        self,
        events: Sequence[PreparedEvent],
        text_vectors: Mapping[str, np.ndarray],
        items: Mapping[str, Any],
        now: datetime,
    ) -> None:
        actions = []
        for event in events:
            source: dict[str, Any] = {
                "event_id": event.event_id,
                "user": event.user,
                "type": event.kind,
                "item_id": event.item_id,
                "text": event.text,
                "lang": event.lang,
                "time": iso(event.time),
                "received_at": iso(now),
                "intensity": event.intensity,
                "keywords": [word for word, _ in event.keywords],
            }
            if event.text and event.lang in ("zh", "mixed"):
                source["text_zh"] = segment.segmented(event.text, for_index=True)
            if event.event_id in text_vectors:
                source["embedding"] = text_vectors[event.event_id].tolist()
            actions.append(
                {"_op_type": "index", "_index": self.events_index, "_id": event.event_id, **source}
            )
        if actions:
            report = bulk_write(self.es, actions)
            if report.errors:
                first = report.errors[0]["error"]
                raise InputError(f"could not store {len(report.errors)} events: {first}")

    def _apply_batch(
        self,
        by_user: Mapping[str, Mapping[str, InterestEvent]],
        popular: set[str],
        *,
        now_ms: int,
    ) -> tuple[dict[str, list[str]], int]:
        """Fold each user's events into their document: one ``mget``, one ``_bulk``.

        Writes are guarded by ``if_seq_no``/``if_primary_term`` (``create`` for new users);
        only the users another worker updated meanwhile are re-read and retried. Before a
        document is replaced, the popularity outbox it carries is counted (see
        ``indexer.popularity``), and each new outbox right after its write.

        Returns:
            per user, the ids of the events applied now (those already applied are skipped),
            and how many outboxes were counted into the popularity ledger.
        """
        pending = {user: events for user, events in by_user.items() if events}
        applied: dict[str, list[str]] = {}
        counted = 0
        for attempt in range(MAX_OCC_ATTEMPTS):
            if not pending:
                return applied, counted
            docs = self.es.mget(index=self.interests_index, ids=sorted(pending))["docs"]
            if any(_index_missing(doc) for doc in docs):
                # Workers create the indices before their first write (``for_settings``); one
                # deleted since must not be re-created by a write with dynamic mappings, which
                # refuse interest documents: the events wait for ``interest init``.
                raise ServiceUnavailable(
                    f"the index {self.interests_index} does not exist; run `interest init` "
                    "(the events are retried until it exists)"
                )
            unreadable = [doc["_id"] for doc in docs if doc.get("error")]
            if unreadable:
                raise ServiceUnavailable(
                    f"Elasticsearch could not read {len(unreadable)} interest documents now; "
                    "will retry"
                )
            carried: dict[str, Outbox] = {}
            owed: dict[str, Outbox] = {}
            fresh_ids: dict[str, list[str]] = {}
            actions = []
            for doc in docs:
                user = doc["_id"]
                source = (doc.get("_source") or {}) if doc.get("found") else {}
                previous = Outbox.from_json(source.get("popularity_outbox"))
                if previous is not None:
                    carried[user] = previous
                seen = set(source.get("applied_events") or [])
                fresh = [(i, e) for i, e in pending[user].items() if i not in seen]
                if not fresh:
                    applied[user] = []
                    continue
                state = apply_events(
                    from_document(source), [e for _, e in fresh], params=self.params, now_ms=now_ms
                )
                document = to_document(state, user=user, now_ms=now_ms)
                ids = [i for i, _ in fresh]
                document["applied_events"] = (ids + list(source.get("applied_events") or []))[
                    :MAX_APPLIED_IDS
                ]
                clicked = outbox_items([str(e.item_id) for i, e in fresh if i in popular])
                outbox = next_outbox(previous, clicked, now_ms=now_ms)
                if clicked:
                    owed[user] = outbox
                if outbox.generation:
                    document["popularity_outbox"] = outbox.as_json()
                action: dict[str, Any] = {"_index": self.interests_index, "_id": user}
                if doc.get("found"):
                    action.update(
                        _op_type="index",
                        if_seq_no=doc["_seq_no"],
                        if_primary_term=doc["_primary_term"],
                    )
                else:
                    action["_op_type"] = "create"
                action["_source"] = document
                actions.append(action)
                fresh_ids[user] = ids
            if self.popularity is not None and carried:
                counted += self.popularity.count(carried, now_ms=now_ms)
            outcome = bulk_with_occ(self.es, actions) if actions else OccOutcome()
            for user in outcome.written:
                applied[user] = fresh_ids[user]
                pending.pop(user, None)
            for user in set(pending) - set(fresh_ids):
                pending.pop(user)
            if self.popularity is not None:
                counted += self.popularity.count(
                    {u: o for u, o in owed.items() if u in outcome.written}, now_ms=now_ms
                )
            if pending:
                # Another worker updated these users first: re-read and re-apply on its result.
                time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
        raise InputError(
            f"gave up updating {len(pending)} users after {MAX_OCC_ATTEMPTS} conflicts"
        )
