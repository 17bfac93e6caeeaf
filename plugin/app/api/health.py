"""Health of what the API depends on: Elasticsearch and Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response

HealthCheck = Callable[[], dict[str, Any]]


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


def router(health_check: HealthCheck) -> APIRouter:
    api = APIRouter()

    @api.get("/health", tags=["health"])
    def get_health(response: Response) -> dict[str, Any]:
        """Elasticsearch and Redis status; 503 when either is down."""
        state = health_check()
        if state.get("status") != "ok":
            response.status_code = 503
        return state

    return api
