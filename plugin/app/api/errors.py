"""Every error as JSON ``{"error": "..."}``, secrets scrubbed; stack traces stay in the log."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from elasticsearch import ApiError, TransportError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from plugin.errors import (
    InputError,
    MappingError,
    PersonalizationError,
    ProfileNotFound,
    ServiceUnavailable,
    WeightsError,
)
from plugin.settings import Settings

logger = logging.getLogger(__name__)

UNPARSABLE_BODY = "There was an error parsing the body"


# Most specific first: the first match decides the status.
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (InputError, 400),
    (WeightsError, 400),
    (ProfileNotFound, 404),
    (MappingError, 409),
    (ServiceUnavailable, 503),
    (PersonalizationError, 500),
)
URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
# How pydantic tags the branch of a union body in an error location: "Event", "list[Event]".
UNION_TAG = re.compile(r"^(list\[\w+\]|[A-Z]\w*)$")


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.admin_token,
        settings.api_key,
        settings.es_password,
        settings.es_api_key,
        settings.user_key,
    ]
    return [v for v in values if v]


def scrub(message: str, settings: Settings) -> str:
    """Remove configured secrets and URL credentials from a message meant for a client."""
    for secret in _secrets(settings):
        message = message.replace(secret, "***")
    return URL_CREDENTIALS.sub("***@", message)


def status_for(exc: Exception) -> tuple[int, str]:
    """HTTP status and client message of an exception raised below a route."""
    for kind, status in ERROR_STATUS:
        if isinstance(exc, kind):
            return status, str(exc) or type(exc).__name__
    if isinstance(exc, ApiError):
        if exc.meta.status == 404 and exc.error == "index_not_found_exception":
            return 409, "an index is missing; run `interest init`"
        return 502, f"Elasticsearch refused the request ({exc.error}, status {exc.meta.status})"
    if isinstance(exc, TransportError):
        return 503, "Elasticsearch is not reachable; run `interest up` or check INTEREST_ES_URL"
    name, module = type(exc).__name__, type(exc).__module__
    if module.startswith(("kombu", "redis")):
        return 503, "Redis is not reachable; run `interest up` or check INTEREST_REDIS_URL"
    if module.startswith("celery") and name == "TimeoutError":
        return 504, "the workers did not answer in time; is a worker running?"
    return 500, "internal error; the server log has the details"


def _error_response(
    status: int, message: str, settings: Settings, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": scrub(message, settings)}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """One line naming each bad field; for "one object or a list" bodies, only the errors of
    the shape that was sent (pydantic reports both union branches)."""
    sent_list = isinstance(exc.body, list)
    parts = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            where = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            reason = (error.get("ctx") or {}).get("error", "malformed")
            parts.append(f"malformed JSON{where}: {reason}")
            continue
        if (
            len(loc) > 1
            and loc[0] == "body"
            and isinstance(loc[1], str)
            and UNION_TAG.match(loc[1])
        ):
            if loc[1].startswith("list[") != sent_list:
                continue
            del loc[1]
        location = ".".join(str(p) for p in loc if p not in ("body", "query", "path", "header"))
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts[:5] or ["malformed body"])


def install_error_handlers(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(422, _validation_message(exc), settings)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == UNPARSABLE_BODY:  # FastAPI's words for it
            detail = "invalid request: the body is not UTF-8 JSON"
        return _error_response(exc.status_code, detail, settings, headers=exc.headers)

    async def on_known(request: Request, exc: Exception) -> JSONResponse:
        status, message = status_for(exc)
        level = logging.ERROR if status >= 500 else logging.INFO
        logger.log(level, "%s %s: %d %s", request.method, request.url.path, status, message)
        return _error_response(status, message, settings)

    for kind in (PersonalizationError, ApiError, TransportError):
        app.add_exception_handler(kind, on_known)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this answer, so the server log keeps the traceback.
        status, message = status_for(exc)
        return _error_response(status, message, settings)
