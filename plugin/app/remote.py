"""Ask a running ``interest serve`` on this machine, so one-shot commands answer at once.

A query command started fresh spends seconds on imports, clients, jieba's dictionary and the
model before its first request; the API process has them all warm. ``interest search`` and
``interest recommend`` therefore ask ``http://127.0.0.1:<INTEREST_API_PORT>`` first (with the
API key when one is set) and answer in-process only when nothing listens there, or when what
listens serves another index prefix. This module imports only the standard library: its
callers must start fast.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from plugin.errors import (
    ConfigError,
    InputError,
    PersonalizationError,
    ProfileNotFound,
    ServiceUnavailable,
)
from plugin.settings import Settings

# Set on every API answer: a client checks it serves the indices the client means.
PREFIX_HEADER = "X-Interest-Index-Prefix"
# Sent by the CLI: a command-line query is not a user's impression (the feedback log that
# fits blend weights would count it as a page nobody clicked).
NO_IMPRESSION_HEADER = "X-Interest-No-Impression"

ERROR_BY_STATUS: Mapping[int, type[PersonalizationError]] = {
    400: InputError,
    401: ConfigError,
    403: ConfigError,
    404: ProfileNotFound,
    422: InputError,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}

Params = Mapping[str, str | int | Sequence[str] | None]


def ask_running_api(settings: Settings, path: str, params: Params) -> dict[str, Any] | None:
    """The JSON answer of the local API to ``GET path?params``, or None when no API of this
    index prefix listens on the loopback (the caller then answers in-process).

    Raises:
        PersonalizationError: the API answered with an error; the kind follows the status
            (400/422 InputError, 401/403 ConfigError, 404 ProfileNotFound, 503 ServiceUnavailable).
    """
    query = urllib.parse.urlencode(
        {key: value for key, value in params.items() if value not in (None, "", [], ())},
        doseq=True,
    )
    headers = {NO_IMPRESSION_HEADER: "1"}
    if settings.api_key:
        headers["X-API-Key"] = settings.api_key
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.api_port}{path}?{query}", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.request_timeout_s) as response:
            if response.headers.get(PREFIX_HEADER) != settings.index_prefix:
                return None
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        if exc.headers.get(PREFIX_HEADER) != settings.index_prefix:
            return None  # not our API (another prefix, or another program on the port)
        try:
            message = str(json.loads(exc.read()).get("error") or exc.reason)
        except (ValueError, AttributeError):
            message = str(exc.reason)
        kind = ERROR_BY_STATUS.get(exc.code, PersonalizationError)
        if exc.code in (401, 403):
            message = f"the running API refused this command: {message}"
        raise kind(message) from None
    except (urllib.error.URLError, OSError, ValueError):
        return None  # nothing listens (or it broke off): answer here
