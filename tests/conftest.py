"""Shared fixtures. Integration tests run against the real stack, started once per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Integration runs use their own ports, state and index prefix, so a developer's running
# stack (default ports) is never touched. An external cluster can be used with INTEREST_ES_URL.
TEST_ENV = {
    "INTEREST_ES_HTTP_PORT": "19200",
    "INTEREST_ES_TRANSPORT_PORT": "19300",
    "INTEREST_REDIS_PORT": "16379",
    "INTEREST_INDEX_PREFIX": "itest",
    "INTEREST_ES_HEAP": "1g",
}


@pytest.fixture(scope="session")
def stack_state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="interest-itest-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(stack_state_dir: Path) -> Iterator[object]:
    """Start Elasticsearch, Redis and one worker for the session; fail loudly if one cannot."""
    from plugin.settings import Settings
    from stack.control import down, up

    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["INTEREST_STATE_DIR"] = str(stack_state_dir)
    settings = Settings.from_env()
    try:
        up(settings)
    except Exception as exc:
        down(settings)
        pytest.fail(
            f"the integration stack could not start: {exc}\n"
            "Integration tests need Java 17, Maven and redis-server (see README, Prerequisites); "
            "or point INTEREST_ES_URL / INTEREST_REDIS_URL at running services.",
            pytrace=False,
        )
    yield settings
    down(settings)
