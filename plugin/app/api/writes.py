"""The write path: ``/api/events``, ``/api/items``, ``/api/click``, and a user's interests."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from indexer.interests import from_document, summary
from plugin.app.api.context import ApiContext
from plugin.app.api.models import Click, Event, Item
from plugin.errors import InputError, ProfileNotFound

MAX_BATCH = 10_000


def _as_list(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """(rows, single): a body that is one object or a list of them, as plain dicts."""
    single = not isinstance(body, list)
    models = [body] if single else body
    if not models:
        raise InputError("the list is empty")
    if len(models) > MAX_BATCH:
        raise InputError(f"at most {MAX_BATCH} per request, got {len(models)}")
    return [m.model_dump(exclude_none=True) for m in models], single


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()

    @api.post("/events", tags=["events"])
    def record_events(
        body: Event | list[Event],
        wait: Annotated[bool, Query(description="wait until interests reflect them")] = True,
    ) -> dict[str, Any]:
        """Record one event or a list; per-event errors are listed, the rest is applied."""
        client = ctx.require_tasks()
        rows, single = _as_list(body)
        result: dict[str, Any] = client.record_events(rows, wait=wait)
        if single and result.get("errors"):
            raise InputError(result["errors"][0]["error"])
        return result

    @api.post("/items", tags=["items"])
    def index_items(body: Item | list[Item]) -> dict[str, Any]:
        """Index one item or a list through the workers; returns once they are searchable."""
        client = ctx.require_tasks()
        rows, single = _as_list(body)
        result: dict[str, Any] = client.index_items(
            rows, batch_size=ctx.settings.encode_batch, progress=False
        )
        if single and result.get("errors"):
            raise InputError(result["errors"][0]["error"])
        return result

    @api.post("/click", tags=["events"])
    def click(body: Click) -> dict[str, Any]:
        """Log a click on a result (for weight learning) and record it as a click event."""
        user, item = str(body.user), str(body.item)
        if not item.strip():
            raise InputError("item id is empty")
        user_pseudonym: str = ctx.service.pseudonym(user)  # validates the id: a bad one is a 400
        logged = False
        if ctx.feedback is not None:
            logged = ctx.feedback.log_click(
                user=user_pseudonym,
                item=item,
                request_id=body.request_id,
                query=body.query,
                rank=body.rank,
            )
        client = ctx.require_tasks()
        result = client.record_events(
            [{"user": user, "type": "click", "item": item}], batch_size=1, wait=False
        )
        return {"logged": logged, "queued": result.get("queued", 1)}

    @api.get("/users/{user}/interests", tags=["users"])
    def interests(user: str) -> dict[str, Any]:
        """The user's interest clusters, category and keyword affinities."""
        document = ctx.service.interest_document(user)
        if document is None:
            raise ProfileNotFound(f"no interests recorded for user {user!r}")
        state: dict[str, Any] = summary(
            from_document(document), user=user, now_ms=int(time.time() * 1000)
        )
        return state

    return api
