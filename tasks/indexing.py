"""Indexing tasks: thin over indexer.pipeline; they only add retries."""

from __future__ import annotations

from typing import Any

from celery.utils.log import get_task_logger

from indexer.pipeline import index_items as run_index_items
from tasks.app import app, retry_options, settings
from tasks.resources import get_category_cache, get_encoder, get_es, get_settings
from tasks.retries import RETRY_ON, retry_transient

logger = get_task_logger(__name__)


@app.task(name="tasks.indexing.index_items", **retry_options(settings, RETRY_ON))
@retry_transient
def index_items(
    items: list[dict[str, Any]],
    refresh: bool = False,
    index: str | None = None,
    model: str | None = None,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Encode and upsert ``items``.

    Args:
        items: raw items (id, title, body, ...); bad ones are reported, the rest indexed.
        refresh: wait until the batch is searchable.
        index: where to write (default: the items alias); a rebuild names its new index.
        model: encode with this model instead of the configured one (a rebuild's new model).
        prefix: the sender's index prefix (its items alias and category model).
    """
    return run_index_items(
        items,
        es=get_es(),
        encoder=get_encoder(model),
        index=index or get_settings(prefix).index_alias("items"),
        refresh="wait_for" if refresh else False,
        categories=get_category_cache(prefix).get(),
    )


@app.task(name="tasks.indexing.encode_texts")
def encode_texts(
    texts: list[str], kind: str = "passage", model: str | None = None, prefix: str | None = None
) -> list[list[float]]:
    """Encode texts on the encode queue (used by hosts without a local model); like every task
    it is sent with its sender's ``prefix``, which encoding does not need."""
    return [vector.tolist() for vector in get_encoder(model).encode(texts, kind=kind)]
