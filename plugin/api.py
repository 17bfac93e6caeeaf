"""The HTTP API and the search page: a composition root over PersonalizedSearch and TaskClient.

``create_app`` receives every collaborator (the app holds no globals, so tests inject fakes);
``serve`` builds them once for a long-lived process and runs uvicorn. Routes:

    GET  /                                 the search page (plugin/static)
    GET  /api/search, /api/recommend        ranked hits, the `interest search --json` shape
    POST /api/events, /api/items, /api/click
    GET  /api/users/{user}/interests        the `interest interests --json` shape
    GET  /api/health
    *    /api/admin/...                     blend weights and forgetting users (bearer token)

With ``INTEREST_API_KEY`` set, every ``/api`` route needs the header ``X-API-Key`` (compared in
constant time; 401 as JSON otherwise), admin routes the admin token on top. The page, its
static files and the OpenAPI description stay open: they hold no user's data.

Every error is JSON ``{"error": "..."}`` with secrets scrubbed; stack traces stay in the log.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from elasticsearch import ApiError, TransportError
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    Header,
    Query,
    Request,
    Response,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from plugin.errors import (
    ConfigError,
    InputError,
    MappingError,
    PersonalizationError,
    ProfileNotFound,
    ServiceUnavailable,
    WeightsError,
)
from plugin.feedback import FeedbackLog, new_request_id
from plugin.service import result_to_json
from plugin.settings import Settings
from plugin.types import SearchFilters

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_SIZE = 100
MAX_BATCH = 10_000
DISABLED_ADMIN = "admin routes are disabled: set INTEREST_ADMIN_TOKEN"
NEEDS_TOKEN = "admin routes need the header 'Authorization: Bearer <INTEREST_ADMIN_TOKEN>'"
NEEDS_API_KEY = "this API needs the header 'X-API-Key: <INTEREST_API_KEY>'"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NO_TASKS = "this server has no task queue (Redis and a worker); start it with `interest serve`"
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

HealthCheck = Callable[[], dict[str, Any]]

# Query parameters shared by search and recommend.
Size = Annotated[int, Query(ge=1, le=MAX_SIZE, description="how many hits")]
ScorerParam = Annotated[
    Literal["native", "portable"] | None,
    Query(description="default: native when the scoring plugin is on every node"),
]
Categories = Annotated[list[str] | None, Query(description="only these categories")]
Since = Annotated[str | None, Query(description="only items created at or after (ISO)")]
Until = Annotated[str | None, Query(description="only items created at or before (ISO)")]


# --- request bodies ---------------------------------------------------------------------------
class Event(BaseModel):
    """One thing a user did or wrote."""

    model_config = ConfigDict(extra="forbid")

    user: str | int
    type: str = Field(description="post, click, like, dislike or search")
    text: str | None = None
    item: str | int | None = None
    time: str | int | float | None = Field(default=None, description="ISO 8601 or epoch ms")
    event_id: str | None = None


class Item(BaseModel):
    """One item to index."""

    model_config = ConfigDict(extra="forbid")

    id: str | int
    title: str | None = None
    body: str | None = None
    category: str | None = None
    tags: list[str] | str | None = None
    created_at: str | int | float | None = None
    lang: str | None = None
    popularity: int | None = None


class WeightsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float | str]
    note: str = ""


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = None


class Click(BaseModel):
    """A click on a result; ``request_id`` and ``rank`` join it to its impression."""

    model_config = ConfigDict(extra="forbid")

    user: str | int
    item: str | int
    query: str | None = None
    request_id: str | None = None
    rank: int | None = None


# --- errors -----------------------------------------------------------------------------------
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


# --- health -----------------------------------------------------------------------------------
def check_health(es: Any, redis_url: str) -> dict[str, Any]:
    """Elasticsearch cluster status and whether Redis answers a ping (no URLs: they may hold
    credentials)."""
    elasticsearch: dict[str, Any] = {"status": "down"}
    try:
        client = es.options(request_timeout=3.0)
        elasticsearch = {
            "status": client.cluster.health()["status"],
            "version": client.info()["version"]["number"],
        }
    except Exception as exc:
        elasticsearch["error"] = type(exc).__name__
    redis_ok = False
    try:
        import redis

        redis_ok = bool(
            redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1).ping()
        )
    except Exception:
        redis_ok = False
    healthy = elasticsearch["status"] in ("green", "yellow") and redis_ok
    return {
        "status": "ok" if healthy else "degraded",
        "elasticsearch": elasticsearch,
        "redis": {"ok": redis_ok},
    }


# --- the app ----------------------------------------------------------------------------------
def _filters(
    categories: list[str] | None, since: str | None, until: str | None
) -> SearchFilters | None:
    chosen = tuple(c for c in (categories or []) if c.strip())
    if not chosen and not since and not until:
        return None
    return SearchFilters(categories=chosen, created_from=since, created_to=until)


def _as_list(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """(rows, single): a body that is one object or a list of them, as plain dicts."""
    single = not isinstance(body, list)
    models = [body] if single else body
    if not models:
        raise InputError("the list is empty")
    if len(models) > MAX_BATCH:
        raise InputError(f"at most {MAX_BATCH} per request, got {len(models)}")
    return [m.model_dump(exclude_none=True) for m in models], single


def create_app(
    settings: Settings,
    *,
    service: Any,
    tasks: Any | None = None,
    feedback: FeedbackLog | None = None,
    health: HealthCheck | None = None,
) -> FastAPI:
    """Build the API over injected collaborators.

    Args:
        settings: the process's settings (admin token, index names, encode batch).
        service: a ``PersonalizedSearch`` (or anything with its methods).
        tasks: a ``tasks.client.TaskClient`` for events and items; without it those routes
            answer 503.
        feedback: where impressions and clicks are logged; default: ``{prefix}-feedback``
            through the service's Elasticsearch client.
        health: the check behind ``/api/health``; default: Elasticsearch and Redis.

    Returns:
        The FastAPI application (OpenAPI at ``/docs`` and ``/openapi.json``).
    """
    if feedback is None and getattr(service, "es", None) is not None:
        feedback = FeedbackLog(service.es, index=settings.index_alias("feedback"))

    def default_health() -> dict[str, Any]:
        return check_health(service.es, settings.effective_redis_url)

    health_check = health or default_health

    def require_api_key(
        x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> None:
        key = settings.api_key
        if key and not hmac.compare_digest((x_api_key or "").strip().encode(), key.encode()):
            raise HTTPException(401, NEEDS_API_KEY)

    app = FastAPI(
        title="dynamic-interest",
        version="0.1.0",
        description="Personalised search and recommendation inside Elasticsearch.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app, settings)
    api = APIRouter(prefix="/api", dependencies=[Depends(require_api_key)])

    def require_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.admin_token
        if not token:
            raise HTTPException(403, DISABLED_ADMIN)
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise HTTPException(401, NEEDS_TOKEN, headers={"WWW-Authenticate": "Bearer"})

    def require_tasks() -> Any:
        if tasks is None:
            raise ServiceUnavailable(NO_TASKS)
        return tasks

    def pseudonym(user: str | None) -> str | None:
        return service.pseudonym(user) if user else None

    def log_impression(
        payload: dict[str, Any], endpoint: str, user: str | None, query: str | None
    ) -> None:
        if feedback is None:
            return
        try:
            version = getattr(service.blend_config(), "version", None)
        except Exception:
            version = None
        try:
            feedback.log_impression(
                payload,
                request_id=payload["request_id"],
                endpoint=endpoint,
                user=pseudonym(user),
                query=query,
                weights_version=version,
            )
        except Exception as exc:  # logging must never fail a search
            logger.warning("feedback: impression not logged (%s)", type(exc).__name__)

    def answer(
        result: Any,
        response: Response,
        background: BackgroundTasks,
        *,
        endpoint: str,
        user: str | None,
        query: str | None,
    ) -> dict[str, Any]:
        payload = result_to_json(result)
        payload["request_id"] = new_request_id()
        response.headers["X-Request-ID"] = payload["request_id"]
        # After the response is sent: the log costs the client nothing.
        background.add_task(log_impression, dict(payload), endpoint, user, query)
        return payload

    # --- page ---------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # --- ranking ------------------------------------------------------------------------------
    @api.get("/search", tags=["ranking"])
    def search(
        response: Response,
        background: BackgroundTasks,
        q: Annotated[str, Query(description="the query text")],
        user: Annotated[str | None, Query(description="rank for this user (omit: BM25)")] = None,
        size: Size = 10,
        mode: Literal["exact", "approx"] = "exact",
        scorer: ScorerParam = None,
        category: Categories = None,
        since: Since = None,
        until: Until = None,
    ) -> dict[str, Any]:
        """Personalised search: hits with score, components (adding up to it) and reason."""
        user = user.strip() if user and user.strip() else None
        result = service.search(
            q,
            user=user,
            size=size,
            mode=mode,
            scorer=scorer,
            filters=_filters(category, since, until),
        )
        return answer(result, response, background, endpoint="search", user=user, query=q)

    @api.get("/recommend", tags=["ranking"])
    def recommend(
        response: Response,
        background: BackgroundTasks,
        user: Annotated[str, Query(description="the user to recommend for")],
        size: Size = 10,
        mode: Literal["exact", "approx"] = "approx",
        scorer: ScorerParam = None,
        category: Categories = None,
        since: Since = None,
        until: Until = None,
    ) -> dict[str, Any]:
        """What the user likely wants now; popular and fresh items for a new user."""
        result = service.recommend(
            user, size=size, mode=mode, scorer=scorer, filters=_filters(category, since, until)
        )
        return answer(result, response, background, endpoint="recommend", user=user, query=None)

    # --- write path ---------------------------------------------------------------------------
    @api.post("/events", tags=["events"])
    def record_events(
        body: Event | list[Event],
        wait: Annotated[bool, Query(description="wait until interests reflect them")] = True,
    ) -> dict[str, Any]:
        """Record one event or a list; per-event errors are listed, the rest is applied."""
        client = require_tasks()
        rows, single = _as_list(body)
        result: dict[str, Any] = client.record_events(rows, wait=wait)
        if single and result.get("errors"):
            raise InputError(result["errors"][0]["error"])
        return result

    @api.post("/items", tags=["items"])
    def index_items(body: Item | list[Item]) -> dict[str, Any]:
        """Index one item or a list through the workers; returns once they are searchable."""
        client = require_tasks()
        rows, single = _as_list(body)
        result: dict[str, Any] = client.index_items(
            rows, batch_size=settings.encode_batch, progress=False
        )
        if single and result.get("errors"):
            raise InputError(result["errors"][0]["error"])
        return result

    @api.post("/click", tags=["events"])
    def click(body: Click) -> dict[str, Any]:
        """Log a click on a result (for weight learning) and record it as a click event."""
        user, item = str(body.user), str(body.item)
        if not item.strip():
            raise InputError("item id is empty")
        user_pseudonym: str = service.pseudonym(user)  # validates the id: a bad one is a 400
        logged = False
        if feedback is not None:
            logged = feedback.log_click(
                user=user_pseudonym,
                item=item,
                request_id=body.request_id,
                query=body.query,
                rank=body.rank,
            )
        client = require_tasks()
        result = client.record_events(
            [{"user": user, "type": "click", "item": item}], batch_size=1, wait=False
        )
        return {"logged": logged, "queued": result.get("queued", 1)}

    @api.get("/users/{user}/interests", tags=["users"])
    def interests(user: str) -> dict[str, Any]:
        """The user's interest clusters, category and keyword affinities."""
        from indexer.interests import from_document, summary  # composition root only

        document = service.interest_document(user)
        if document is None:
            raise ProfileNotFound(f"no interests recorded for user {user!r}")
        state: dict[str, Any] = summary(
            from_document(document), user=user, now_ms=int(time.time() * 1000)
        )
        return state

    @api.get("/health", tags=["health"])
    def get_health(response: Response) -> dict[str, Any]:
        """Elasticsearch and Redis status; 503 when either is down."""
        state = health_check()
        if state.get("status") != "ok":
            response.status_code = 503
        return state

    # --- admin --------------------------------------------------------------------------------
    admin = [Depends(require_admin)]

    @api.get("/admin/weights", tags=["admin"], dependencies=admin)
    def get_weights() -> dict[str, Any]:
        """The blend weights in force."""
        weights: dict[str, Any] = service.weights()
        return weights

    @api.put("/admin/weights", tags=["admin"], dependencies=admin)
    def put_weights(body: WeightsUpdate) -> dict[str, Any]:
        """Validate and write a new blend version; invalid input changes nothing."""
        weights: dict[str, Any] = service.set_weights(dict(body.weights), note=body.note)
        return weights

    @api.get("/admin/weights/history", tags=["admin"], dependencies=admin)
    def weights_history() -> list[dict[str, Any]]:
        """Blend versions, newest first."""
        versions: list[dict[str, Any]] = service.weights_history()
        return versions

    @api.post("/admin/weights/rollback", tags=["admin"], dependencies=admin)
    def rollback_weights(body: Rollback | None = None) -> dict[str, Any]:
        """Restore a version (default: the one before the current)."""
        weights: dict[str, Any] = service.rollback_weights(body.version if body else None)
        return weights

    @api.delete("/admin/users/{user}", tags=["admin"], dependencies=admin)
    def forget(user: str) -> dict[str, Any]:
        """Erase the user's interest document, events and logged impressions and clicks."""
        removed: dict[str, int] = dict(service.forget(user))
        user_pseudonym = pseudonym(user)
        # The service erases the default feedback log itself; another one is erased here.
        erased = "feedback" in removed and (
            getattr(feedback, "index", None) == settings.index_alias("feedback")
        )
        if feedback is not None and user_pseudonym is not None and not erased:
            removed["feedback"] = removed.get("feedback", 0) + feedback.forget(user_pseudonym)
        return {"user": user, "removed": removed}

    app.include_router(api)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Build the clients and the encoder once, then run the API until interrupted.

    Raises:
        ConfigError: ``host`` is not the loopback and no ``INTEREST_API_KEY`` is set (anyone
            who reaches the port could read any user's interests and write as any user).
    """
    import uvicorn

    check_exposure(settings, host)

    from indexer.segment import segmented  # composition root: the page's Chinese queries
    from plugin.encoder import load_encoder
    from plugin.es import make_es_client
    from plugin.service import PersonalizedSearch
    from tasks.client import TaskClient

    es = make_es_client(settings)
    tasks = TaskClient(settings)
    try:
        started = time.perf_counter()
        encoder = load_encoder(settings)  # once per process; the first query pays nothing
        logger.info("encoder %s ready in %.1fs", settings.model, time.perf_counter() - started)
        service = PersonalizedSearch(es, settings=settings, encoder=encoder, segmenter=segmented)
        app = create_app(settings, service=service, tasks=tasks)
        uvicorn.run(app, host=host, port=port or settings.api_port, log_level="info")
    finally:
        tasks.app.close()
        es.close()


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to listen beyond the loopback without an API key."""
    if host not in LOOPBACK_HOSTS and not settings.api_key:
        raise ConfigError(
            f"refusing to serve on {host}: beyond the loopback the API needs a key; "
            "set INTEREST_API_KEY (clients then send 'X-API-Key')"
        )
