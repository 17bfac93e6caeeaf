"""The HTTP API and the search page, over PersonalizedSearch and TaskClient.

    GET  /                                 the search page (plugin/app/static)
    GET  /api/search, /api/recommend        ranked hits, the `interest search --json` shape
    POST /api/events, /api/items, /api/click
    GET  /api/users/{user}/interests        the `interest interests --json` shape
    GET  /api/health
    *    /api/admin/...                     blend weights and forgetting users (bearer token)

Modules: ``app`` (create_app, serve), one router per topic (``ranking``, ``writes``,
``health``, ``admin``), ``models`` (bodies and parameters), ``errors`` (JSON errors, secrets
scrubbed), ``security`` (API key, admin token, exposure), ``context`` (what routes share).

With ``INTEREST_API_KEY`` set, every ``/api`` route needs the header ``X-API-Key`` (compared in
constant time; 401 as JSON otherwise), admin routes the admin token on top. The page, its
static files and the OpenAPI description stay open: they hold no user's data.
"""

from __future__ import annotations

from plugin.app.api.app import create_app, serve
from plugin.app.api.errors import scrub, status_for
from plugin.app.api.security import check_exposure

__all__ = ["check_exposure", "create_app", "scrub", "serve", "status_for"]
