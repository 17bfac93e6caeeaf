"""Per-process resources for tasks, built on first use (after the worker forks)."""

from __future__ import annotations

from functools import cache

from elasticsearch import Elasticsearch

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
def get_encoder() -> Encoder:
    # Loaded lazily inside the task, so CUDA and OpenMP are first touched in the child process.
    return load_encoder(get_settings())
