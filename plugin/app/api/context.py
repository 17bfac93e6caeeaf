"""What the routes share: the injected collaborators and the impression log around answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import BackgroundTasks, Response

from plugin.errors import ServiceUnavailable
from plugin.feedback import FeedbackLog, new_request_id
from plugin.service import result_to_json
from plugin.settings import Settings

logger = logging.getLogger(__name__)

NO_TASKS = "this server has no task queue (Redis and a worker); start it with `interest serve`"


@dataclass(frozen=True)
class ApiContext:
    """``service`` is a ``PersonalizedSearch`` (or anything with its methods), ``tasks`` a
    ``TaskClient`` (None: the write routes answer 503), ``feedback`` the impression log."""

    settings: Settings
    service: Any
    tasks: Any | None
    feedback: FeedbackLog | None

    def require_tasks(self) -> Any:
        if self.tasks is None:
            raise ServiceUnavailable(NO_TASKS)
        return self.tasks

    def pseudonym(self, user: str | None) -> str | None:
        return self.service.pseudonym(user) if user else None

    def answer(
        self,
        result: Any,
        response: Response,
        background: BackgroundTasks,
        *,
        endpoint: str,
        user: str | None,
        query: str | None,
        log: bool = True,
    ) -> dict[str, Any]:
        """The hits as JSON with a request id; the impression (unless ``log`` is false) is
        logged after the response is sent, so the log costs the client nothing."""
        payload = result_to_json(result)
        payload["request_id"] = new_request_id()
        response.headers["X-Request-ID"] = payload["request_id"]
        if log:
            background.add_task(self.log_impression, dict(payload), endpoint, user, query)
        return payload

    def log_impression(
        self, payload: dict[str, Any], endpoint: str, user: str | None, query: str | None
    ) -> None:
        if self.feedback is None:
            return
        try:
            version = getattr(self.service.blend_config(), "version", None)
        except Exception:
            version = None
        try:
            self.feedback.log_impression(
                payload,
                request_id=payload["request_id"],
                endpoint=endpoint,
                user=self.pseudonym(user),
                query=query,
                weights_version=version,
            )
        except Exception as exc:  # logging must never fail a search
            logger.warning("feedback: impression not logged (%s)", type(exc).__name__)
