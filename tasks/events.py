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
def get_processor() -> EventProcessor:
    settings = get_settings()
    return EventProcessor.for_settings(
        get_es(),
        settings=settings,
        encoder=get_encoder(),
        user_key=load_user_key(settings),
        categories=get_category_cache(),
        popularity=get_popularity(),
    )


@app.task(name="tasks.events.record_events", **retry_options(settings, RETRY_ON))
@retry_transient
def record_events(events: list[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
    """Store a batch of events (any users) and fold them into each user's interests."""
    report = get_processor().process(events, refresh=refresh)
    if report.popularity_pending:
        interval = get_settings().popularity_flush_s
        # One flush per interval, whoever counted first; the beat's sweep catches any missed.
        if get_popularity().claim_schedule(interval):
            flush_popularity.apply_async(countdown=interval)
    return report.as_dict()


@app.task(name="tasks.events.flush_popularity", **retry_options(settings, RETRY_ON))
@retry_transient
def flush_popularity() -> dict[str, Any]:
    """Write the clicks and likes counted since the last flush to the items, in one bulk."""
    settings = get_settings()
    report = get_popularity().flush(get_es(), items_index=settings.index_alias("items"))
    return report.as_dict()
