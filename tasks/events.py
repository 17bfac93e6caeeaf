"""Event tasks: store events and update interests; thin over indexer.events, retries only."""

from __future__ import annotations

from functools import cache
from typing import Any

from celery.utils.log import get_task_logger

from indexer.events import EventProcessor
from plugin.pseudonym import load_user_key
from tasks.app import app, retry_options, settings
from tasks.resources import (
    get_category_cache,
    get_encoder,
    get_es,
    get_popularity,
    get_settings,
)
from tasks.retries import RETRY_ON, retry_transient

logger = get_task_logger(__name__)


@cache
def get_processor(prefix: str | None = None) -> EventProcessor:
    """The event processor of ``prefix``'s indices in this process."""
    settings = get_settings(prefix)
    return EventProcessor.for_settings(
        get_es(),
        settings=settings,
        encoder=get_encoder(),
        user_key=load_user_key(settings),
        categories=get_category_cache(prefix),
        popularity=get_popularity(prefix),
    )


@app.task(name="tasks.events.record_events", **retry_options(settings, RETRY_ON))
@retry_transient
def record_events(
    events: list[dict[str, Any]], refresh: bool = False, prefix: str | None = None
) -> dict[str, Any]:
    """Store a batch of events (any users) and fold them into each user's interests."""
    report = get_processor(prefix).process(events, refresh=refresh)
    if report.popularity_pending:
        interval = get_settings(prefix).popularity_flush_s
        # One flush per interval, whoever counted first; the beat's sweep catches any missed.
        if get_popularity(prefix).claim_schedule(interval):
            flush_popularity.apply_async(countdown=interval, kwargs={"prefix": prefix})
    return report.as_dict()


@app.task(name="tasks.events.flush_popularity", **retry_options(settings, RETRY_ON))
@retry_transient
def flush_popularity(prefix: str | None = None) -> dict[str, Any]:
    """Write the clicks and likes counted since the last flush to the items, in one bulk."""
    items = get_settings(prefix).index_alias("items")
    report = get_popularity(prefix).flush(get_es(), items_index=items)
    return report.as_dict()
