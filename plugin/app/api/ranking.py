"""``/api/search`` and ``/api/recommend``: ranked hits, the `interest search --json` shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response

from plugin.app.api.context import ApiContext
from plugin.app.api.models import Categories, ScorerParam, Since, Size, Until
from plugin.app.remote import NO_IMPRESSION_HEADER
from plugin.types import SearchFilters


def _filters(
    categories: list[str] | None, since: str | None, until: str | None
) -> SearchFilters | None:
    chosen = tuple(c for c in (categories or []) if c.strip())
    if not chosen and not since and not until:
        return None
    return SearchFilters(categories=chosen, created_from=since, created_to=until)


# The CLI's queries (``plugin.app.remote``) are not a user's impressions.
NoImpression = Annotated[str | None, Header(alias=NO_IMPRESSION_HEADER, include_in_schema=False)]


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["ranking"])

    @api.get("/search")
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
        no_impression: NoImpression = None,
    ) -> dict[str, Any]:
        """Personalised search: hits with score, components (adding up to it) and reason."""
        user = user.strip() if user and user.strip() else None
        result = ctx.service.search(
            q,
            user=user,
            size=size,
            mode=mode,
            scorer=scorer,
            filters=_filters(category, since, until),
        )
        return ctx.answer(
            result,
            response,
            background,
            endpoint="search",
            user=user,
            query=q,
            log=not no_impression,
        )

    @api.get("/recommend")
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
        no_impression: NoImpression = None,
    ) -> dict[str, Any]:
        """What the user likely wants now; popular and fresh items for a new user."""
        result = ctx.service.recommend(
            user, size=size, mode=mode, scorer=scorer, filters=_filters(category, since, until)
        )
        return ctx.answer(
            result,
            response,
            background,
            endpoint="recommend",
            user=user,
            query=None,
            log=not no_impression,
        )

    return api
