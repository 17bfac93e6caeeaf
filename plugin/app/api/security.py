"""Who may call: the API key on every ``/api`` route, the admin token on admin routes, and
no listening beyond the loopback without a key."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Header
from starlette.exceptions import HTTPException

from plugin.errors import ConfigError
from plugin.settings import Settings

DISABLED_ADMIN = "admin routes are disabled: set INTEREST_ADMIN_TOKEN"
NEEDS_TOKEN = "admin routes need the header 'Authorization: Bearer <INTEREST_ADMIN_TOKEN>'"
NEEDS_API_KEY = "this API needs the header 'X-API-Key: <INTEREST_API_KEY>'"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def api_key_check(settings: Settings) -> Callable[..., None]:
    """A dependency: with ``INTEREST_API_KEY`` set, ``X-API-Key`` must equal it (constant time)."""

    def require_api_key(
        x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> None:
        key = settings.api_key
        if key and not hmac.compare_digest((x_api_key or "").strip().encode(), key.encode()):
            raise HTTPException(401, NEEDS_API_KEY)

    return require_api_key


def admin_check(settings: Settings) -> Callable[..., None]:
    """A dependency: admin routes need ``Authorization: Bearer <INTEREST_ADMIN_TOKEN>``;
    without a configured token they are off (403)."""

    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.admin_token
        if not token:
            raise HTTPException(403, DISABLED_ADMIN)
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise HTTPException(401, NEEDS_TOKEN, headers={"WWW-Authenticate": "Bearer"})

    return require_admin


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to listen beyond the loopback without an API key."""
    if host not in LOOPBACK_HOSTS and not settings.api_key:
        raise ConfigError(
            f"refusing to serve on {host}: beyond the loopback the API needs a key; "
            "set INTEREST_API_KEY (clients then send 'X-API-Key')"
        )
