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


# The session shares one index. Files that add items clean them up where later files rank the
# whole catalogue (read path), the tests that stop Elasticsearch or Redis on purpose run
# last, and the rest keep the order in which they have passed together.
MODULE_ORDER = (
    "test_foundation",
    "test_read_path",
    "test_api",
    "test_bad_input",
    "test_browser",
    "test_demo",
    "test_interest_model",
    "test_multilingual",
    "test_privacy",
    "test_rebuild",
    "test_write_path",
    "test_write_batches",
    "test_collab",
    "test_faults",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER) - 1

    items.sort(key=lambda item: (0, rank(item)) if "integration" in str(item.fspath) else (1, 0))
