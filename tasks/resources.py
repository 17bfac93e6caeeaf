"""Per-process resources for tasks, built on first use (after the worker forks)."""

from __future__ import annotations

from functools import cache

from elasticsearch import Elasticsearch

from indexer.categories import CategoryCache
from indexer.popularity import PopularityLedger
from plugin.encoder import Encoder, load_encoder
from plugin.es import make_es_client
from plugin.settings import Settings


@cache
def get_settings() -> Settings:
    return Settings.from_env()


@cache
def get_es() -> Elasticsearch:
    return make_es_client(get_settings())


@cache
def _encoder(model: str) -> Encoder:
    # Loaded lazily inside the task, so CUDA and OpenMP are first touched in the child process.
    return load_encoder(get_settings().with_overrides(model=model))


def get_encoder(model: str | None = None) -> Encoder:
    """The configured encoder, or the one of ``model`` (a rebuild into another model)."""
    return _encoder(model or get_settings().model)


@cache
def get_category_cache() -> CategoryCache:
    """The category model of this process, reloaded when a retrained version is current."""
    return CategoryCache(get_settings().state_dir)


@cache
def get_popularity() -> PopularityLedger:
    import redis

    settings = get_settings()
    client = redis.Redis.from_url(
        settings.effective_redis_url, decode_responses=True, socket_timeout=10
    )
    return PopularityLedger(client, namespace=settings.index_prefix)
