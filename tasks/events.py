"""Event tasks: store events and update interests; thin over indexer.events, retries only."""

from __future__ import annotations

from functools import cache
from typing import Any

from celery.utils.log import get_task_logger

from indexer.events import EventProcessor
from indexer.interests import InterestParams
from plugin.pseudonym import load_user_key
from tasks.app import app
from tasks.indexing import RETRY_ON
from tasks.resources import get_encoder, get_es, get_settings

logger = get_task_logger(__name__)


@cache
def get_processor() -> EventProcessor:
    settings = get_settings()
    encoder = get_encoder()
    return EventProcessor(
        get_es(),
        encoder=encoder,
        params=InterestParams(
            cluster_join_threshold=encoder.profile.cluster_threshold,
            cluster_support_threshold=encoder.profile.cluster_support_threshold,
        ),
        items_index=settings.index_alias("items"),
        events_index=settings.index_alias("user_events"),
        interests_index=settings.index_alias("user_interests"),
        user_key=load_user_key(settings),
    )


@app.task(
    name="tasks.events.record_events",
    autoretry_for=RETRY_ON,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=None,
)
def record_events(events: list[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
    """Store a batch of events (any users) and fold them into each user's interests."""
    return get_processor().process(events, refresh=refresh).as_dict()
