"""``/api/admin/...``: blend weights and forgetting users, behind the admin token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from plugin.app.api.context import ApiContext
from plugin.app.api.models import Rollback, WeightsUpdate
from plugin.app.api.security import admin_check


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(
        prefix="/admin", tags=["admin"], dependencies=[Depends(admin_check(ctx.settings))]
    )
    service, settings, feedback = ctx.service, ctx.settings, ctx.feedback

    @api.get("/weights")
    def get_weights() -> dict[str, Any]:
        """The blend weights in force."""
        weights: dict[str, Any] = service.weights()
        return weights

    @api.put("/weights")
    def put_weights(body: WeightsUpdate) -> dict[str, Any]:
        """Validate and write a new blend version; invalid input changes nothing."""
        weights: dict[str, Any] = service.set_weights(dict(body.weights), note=body.note)
        return weights

    @api.get("/weights/history")
    def weights_history() -> list[dict[str, Any]]:
        """Blend versions, newest first."""
        versions: list[dict[str, Any]] = service.weights_history()
        return versions

    @api.post("/weights/rollback")
    def rollback_weights(body: Rollback | None = None) -> dict[str, Any]:
        """Restore a version (default: the one before the current)."""
        weights: dict[str, Any] = service.rollback_weights(body.version if body else None)
        return weights

    @api.delete("/users/{user}")
    def forget(user: str) -> dict[str, Any]:
        """Erase the user's interest document, events and logged impressions and clicks."""
        removed: dict[str, int] = dict(service.forget(user))
        user_pseudonym = ctx.pseudonym(user)
        # The service erases the default feedback log itself; another one is erased here.
        erased = "feedback" in removed and (
            getattr(feedback, "index", None) == settings.index_alias("feedback")
        )
        if feedback is not None and user_pseudonym is not None and not erased:
            removed["feedback"] = removed.get("feedback", 0) + feedback.forget(user_pseudonym)
        return {"user": user, "removed": removed}

    return api
