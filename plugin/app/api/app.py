"""The application over injected collaborators, and ``serve`` for a long-lived process."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from plugin.app.api import admin, ranking, writes
from plugin.app.api.context import ApiContext
from plugin.app.api.errors import install_error_handlers
from plugin.app.api.health import HealthCheck, check_health
from plugin.app.api.health import router as health_router
from plugin.app.api.security import api_key_check, check_exposure
from plugin.app.remote import PREFIX_HEADER
from plugin.feedback import FeedbackLog
from plugin.settings import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(
    settings: Settings,
    *,
    service: Any,
    tasks: Any | None = None,
    feedback: FeedbackLog | None = None,
    health: HealthCheck | None = None,
) -> FastAPI:
    """Build the API over injected collaborators (the app holds no globals: tests inject fakes).

    Args:
        settings: the process's settings (admin token, API key, index names, encode batch).
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
    ctx = ApiContext(settings=settings, service=service, tasks=tasks, feedback=feedback)

    def default_health() -> dict[str, Any]:
        return check_health(service.es, settings.effective_redis_url)

    app = FastAPI(
        title="dynamic-interest",
        version="0.1.0",
        description="Personalised search and recommendation inside Elasticsearch.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app, settings)

    @app.middleware("http")
    async def name_the_prefix(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers[PREFIX_HEADER] = settings.index_prefix
        return response

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    api = APIRouter(prefix="/api", dependencies=[Depends(api_key_check(settings))])
    api.include_router(ranking.router(ctx))
    api.include_router(writes.router(ctx))
    api.include_router(health_router(health or default_health))
    api.include_router(admin.router(ctx))
    app.include_router(api)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Build the clients and the encoder once, then run the API until interrupted.

    Raises:
        ConfigError: ``host`` is not the loopback and no ``INTEREST_API_KEY`` is set (anyone
            who reaches the port could read any user's interests and write as any user).
    """
    import uvicorn

    from indexer.segment import segmented
    from plugin.encoder import load_encoder
    from plugin.es import make_es_client
    from plugin.service import PersonalizedSearch
    from tasks.client import TaskClient

    check_exposure(settings, host)
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
