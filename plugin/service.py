"""PersonalizedSearch: the facade that hosts (CLI, API, tests) call; collaborators injected."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from plugin.encoder import Encoder, load_encoder, profile_for
from plugin.es import check_reachable, ensure_indices, make_es_client
from plugin.privacy import forget_user
from plugin.pseudonym import load_user_key, pseudonymize
from plugin.settings import Settings

logger = logging.getLogger(__name__)


class PersonalizedSearch:
    """Query-time operations over one Elasticsearch client and one encoder."""

    def __init__(self, es: Elasticsearch, *, settings: Settings, encoder: Encoder | None = None):
        self.es = es
        self.settings = settings
        self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.settings)
        return self._encoder

    def model_identity(self) -> dict[str, Any]:
        profile = profile_for(self.settings.model)
        if not profile.dims:  # an arbitrary sentence-transformers model: ask the model itself
            self.encoder.encode(["probe"])
            profile = self.encoder.profile
        return profile.identity()

    def init_indices(self) -> dict[str, str]:
        check_reachable(self.es, self.settings)
        return ensure_indices(self.es, self.settings, model=self.model_identity())

    @property
    def user_key(self) -> bytes:
        return load_user_key(self.settings)

    def pseudonym(self, user: str) -> str:
        return pseudonymize(user, self.user_key)

    def interest_document(self, user: str) -> dict[str, Any] | None:
        """The stored interest document of ``user`` (the host's id), or None."""
        try:
            found = self.es.get(
                index=self.settings.index_alias("user_interests"), id=self.pseudonym(user)
            )
        except NotFoundError:
            return None
        source: dict[str, Any] = found["_source"]
        return source

    def interest_summary(self, user: str) -> dict[str, Any]:
        """The CLI/API shape of a user's interests; an unknown user gets an empty state."""
        from indexer.interests import from_document, summary

        document = self.interest_document(user) or {}
        now_ms = int(time.time() * 1000)
        return summary(from_document(document), user=user, now_ms=now_ms)

    def forget(self, user: str) -> dict[str, int]:
        return forget_user(
            self.es,
            user=self.pseudonym(user),
            interests_index=self.settings.index_alias("user_interests"),
            events_index=self.settings.index_alias("user_events"),
        )


@contextmanager
def open_service(settings: Settings, *, need_encoder: bool = True) -> Iterator[PersonalizedSearch]:
    es = make_es_client(settings)
    try:
        encoder = load_encoder(settings) if need_encoder else None
        yield PersonalizedSearch(es, settings=settings, encoder=encoder)
    finally:
        es.close()
