"""Indexing tasks: thin over indexer.pipeline; they only add retries."""

from __future__ import annotations

from typing import Any

from celery.utils.log import get_task_logger
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout

from indexer.pipeline import index_items as run_index_items
from tasks.app import app
from tasks.resources import get_encoder, get_es, get_settings

logger = get_task_logger(__name__)

# Elasticsearch down or overloaded: wait and retry, never drop the batch.
RETRY_ON = (EsConnectionError, ConnectionTimeout)


@app.task(
    name="tasks.indexing.index_items",
    autoretry_for=RETRY_ON,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=None,
)
def index_items(items: list[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
    settings = get_settings()
    return run_index_items(
        items,
        es=get_es(),
        encoder=get_encoder(),
        index=settings.index_alias("items"),
        refresh="wait_for" if refresh else False,
    )


@app.task(name="tasks.indexing.encode_texts")
def encode_texts(texts: list[str], kind: str = "passage") -> list[list[float]]:
    """Encode texts on the encode queue (used by hosts without a local model)."""
    return [vector.tolist() for vector in get_encoder().encode(texts, kind=kind)]
