"""Per-process resources for tasks, built on first use (after the worker forks).

One worker serves every index prefix that its producers name: each task carries its sender's
``prefix`` (``TaskClient`` adds it), and what belongs to a prefix (its settings, category
model, popularity counts, event processor) is built once per prefix and kept.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from elasticsearch import Elasticsearch

from indexer.categories import CategoryCache
from indexer.popularity import PopularityLedger
from plugin.encoder import Encoder, load_encoder
from plugin.es import make_es_client
from plugin.settings import Settings


@cache
def _base_settings() -> Settings:
    return Settings.from_env()


@cache
def get_settings(prefix: str | None = None) -> Settings:
    """The worker's settings, serving ``prefix`` (default: the worker's own)."""
    return _base_settings().for_prefix(prefix)


@cache
def get_es() -> Elasticsearch:
    return make_es_client(_base_settings())


@cache
def _encoder(model: str) -> Encoder:
    # Loaded lazily inside the task, so CUDA and OpenMP are first touched in the child process.
    return load_encoder(_base_settings().with_overrides(model=model))


def get_encoder(model: str | None = None) -> Encoder:
    """The configured encoder, or the one of ``model`` (a rebuild into another model)."""
    return _encoder(model or _base_settings().model)


@cache
def get_category_cache(prefix: str | None = None) -> CategoryCache:
    """The category model of ``prefix`` here, reloaded when a retrained one becomes current."""
    return CategoryCache(get_settings(prefix).prefix_state_dir)


@cache
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(
        _base_settings().effective_redis_url, decode_responses=True, socket_timeout=10
    )


@cache
def get_popularity(prefix: str | None = None) -> PopularityLedger:
    return PopularityLedger(_redis(), namespace=get_settings(prefix).index_prefix)
