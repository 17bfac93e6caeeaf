"""Integration fixtures: clients bound to the session's real stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugin.settings import Settings


@pytest.fixture(scope="session")
def settings(stack: Settings) -> Settings:
    return stack


@pytest.fixture(scope="session")
def es(settings: Settings) -> Iterator[object]:
    from plugin.es import make_es_client

    client = make_es_client(settings)
    yield client
    client.close()


@pytest.fixture(scope="session")
def encoder(settings: Settings) -> object:
    from plugin.encoder import load_encoder

    return load_encoder(settings)


@pytest.fixture(scope="session")
def service(settings: Settings, es: object, encoder: object) -> object:
    from plugin.service import PersonalizedSearch

    search = PersonalizedSearch(es, settings=settings, encoder=encoder)  # type: ignore[arg-type]
    search.init_indices()
    return search


@pytest.fixture(scope="session")
def tasks(settings: Settings) -> Iterator[object]:
    from tasks.client import TaskClient

    with TaskClient(settings) as client:
        yield client
