"""Erasing a user: the interest document, every stored event and every logged impression or
click (scan + bulk delete: no _delete_by_query needed)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import scan, streaming_bulk

from plugin.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# Rounds of scan-and-delete: events or impressions may still be arriving while we delete.
FORGET_ROUNDS = 10
# Users per terms query (far below Elasticsearch's 65,536 terms limit).
TERMS_PER_QUERY = 1000


def forget_user(
    es: Elasticsearch,
    *,
    user: str,
    interests_index: str,
    events_index: str,
    feedback_index: str | None = None,
) -> dict[str, int]:
    """Delete ``user``'s (pseudonymised) documents; return how many of each were removed.

    Args:
        es: the client.
        user: the pseudonym (never the host's id: Elasticsearch only ever sees pseudonyms).
        interests_index, events_index: aliases of the user's interests and events.
        feedback_index: alias of the impression/click log, when it should be erased too.

    Returns:
        ``{"interests": 0|1, "events": n}``, plus ``"feedback": n`` with ``feedback_index``.
    """
    removed = forget_users(
        es,
        users=[user],
        interests_index=interests_index,
        events_index=events_index,
        feedback_index=feedback_index,
    )[user]
    logger.info("forgot user %s: %s", user, removed)
    return removed


def forget_users(
    es: Elasticsearch,
    *,
    users: Sequence[str],
    interests_index: str,
    events_index: str,
    feedback_index: str | None = None,
) -> dict[str, dict[str, int]]:
    """``forget_user`` for many pseudonyms at once: one bulk and a few refreshes in all,
    not per user (an evaluation resets hundreds of users before it replays them).

    Returns:
        per pseudonym, what ``forget_user`` returns for it.
    """
    wanted = list(dict.fromkeys(users))
    kinds = ["interests", "events"] + (["feedback"] if feedback_index is not None else [])
    removed = {user: dict.fromkeys(kinds, 0) for user in wanted}
    if not wanted:
        return removed
    actions = ({"_op_type": "delete", "_index": interests_index, "_id": u} for u in wanted)
    failed = []
    for ok, result in streaming_bulk(es, actions, raise_on_error=False, refresh=True):
        answer = result["delete"]
        if ok:
            removed[answer["_id"]]["interests"] = 1
        elif answer.get("status") != 404:  # 404: no such user (or no index yet)
            failed.append(answer)
    if failed:
        raise ServiceUnavailable(
            f"could not delete the interests of {len(failed)} users now "
            f"({failed[0].get('error')}); nothing was skipped silently, try again"
        )
    for kind, index in (("events", events_index), ("feedback", feedback_index)):
        if index is None:
            continue
        for user, count in delete_users_documents(es, index=index, users=wanted).items():
            removed[user][kind] = count
    return removed


def delete_user_documents(es: Elasticsearch, *, index: str, user: str) -> int:
    """Delete every document whose ``user`` field is ``user``; a missing index holds none."""
    return delete_users_documents(es, index=index, users=[user]).get(user, 0)


def delete_users_documents(
    es: Elasticsearch, *, index: str, users: Sequence[str]
) -> dict[str, int]:
    """Delete every document whose ``user`` field is one of ``users``; counts per user."""
    removed: Counter[str] = Counter()
    for start in range(0, len(users), TERMS_PER_QUERY):
        chunk = list(users[start : start + TERMS_PER_QUERY])
        query: dict[str, Any] = {"query": {"terms": {"user": chunk}}, "_source": ["user"]}
        for _ in range(FORGET_ROUNDS):
            try:
                es.indices.refresh(index=index)
                hits = list(scan(es, index=index, query=query, size=1000))
            except NotFoundError:
                return dict(removed)
            if not hits:
                break
            owner = {h["_id"]: (h.get("_source") or {}).get("user") for h in hits}
            actions = ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits)
            for ok, result in streaming_bulk(es, actions, raise_on_error=False, refresh=True):
                if ok and result["delete"].get("result") == "deleted":
                    removed[str(owner.get(result["delete"]["_id"]))] += 1
    return dict(removed)
