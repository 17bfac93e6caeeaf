"""Integration fixtures: clients bound to the session's real stack, indices owned per module.

Every test module gets its own index prefix (``itest-<module>``): its own items, interests and
events indices, popularity counts in Redis and category models, all deleted when the module
ends. The session's one worker serves every prefix (each task names its sender's), so modules
neither see nor undo each other's data and pass in any order: ``INTEREST_TEST_ORDER=reverse``
or ``random:SEED`` runs the integration modules in that order (the default is file order).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator

import pytest

from plugin.settings import Settings


def module_prefix(module_name: str) -> str:
    """``tests.integration.test_read_path`` -> ``itest-read-path``."""
    short = module_name.rsplit(".", 1)[-1].removeprefix("test_")
    return "itest-" + short.replace("_", "-")


def delete_prefix(es: object, settings: Settings) -> None:
    """Remove what a prefix left: its indices, its Redis keys, its models on disk."""
    import redis

    es.options(ignore_status=404).indices.delete(  # type: ignore[attr-defined]
        index=f"{settings.index_prefix}-*", expand_wildcards="all"
    )
    client = redis.Redis.from_url(settings.effective_redis_url)
    try:
        keys = list(client.scan_iter(match=f"{settings.index_prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    shutil.rmtree(settings.prefix_state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def es(stack: Settings) -> Iterator[object]:
    from plugin.es import make_es_client

    client = make_es_client(stack)
    yield client
    client.close()


@pytest.fixture(scope="session")
def encoder(stack: Settings) -> object:
    from plugin.encoder import load_encoder

    return load_encoder(stack)


@pytest.fixture(scope="module")
def settings(stack: Settings, es: object, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """The stack's settings with this module's own index prefix; its data goes at the end.

    The environment names the prefix too while the module runs, so the CLI the tests start
    (in-process or as a subprocess) reads the module's indices.
    """
    own = stack.for_prefix(module_prefix(request.module.__name__))
    delete_prefix(es, own)  # what an interrupted earlier run may have left
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTEREST_INDEX_PREFIX", own.index_prefix)
        yield own
    delete_prefix(es, own)


@pytest.fixture(scope="module")
def service(settings: Settings, es: object, encoder: object) -> object:
    from plugin.service import PersonalizedSearch

    search = PersonalizedSearch(es, settings=settings, encoder=encoder)  # type: ignore[arg-type]
    search.init_indices()
    return search


@pytest.fixture(scope="module")
def tasks(settings: Settings, service: object) -> Iterator[object]:
    """A task client for this module's prefix (its indices exist: workers wait for them)."""
    from tasks.client import TaskClient

    with TaskClient(settings) as client:
        yield client


def ordered_modules(items: list[pytest.Item], order: str) -> list[pytest.Item]:
    """Items regrouped by module in ``order``: "", "reverse" or "random:SEED"."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.module.__name__ if item.module else "", []).append(item)
    names = list(modules)
    if order == "reverse":
        names.reverse()
    elif order.startswith("random:"):
        random.Random(order.removeprefix("random:")).shuffle(names)
    elif order:
        raise pytest.UsageError(f"INTEREST_TEST_ORDER: reverse or random:SEED, not {order!r}")
    return [item for name in names for item in modules[name]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Unit tests first (seconds, no stack), then the integration modules in the asked order.
    unit = [item for item in items if "integration" not in str(item.fspath)]
    integration = [item for item in items if "integration" in str(item.fspath)]
    items[:] = unit + ordered_modules(integration, os.environ.get("INTEREST_TEST_ORDER", ""))
