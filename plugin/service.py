"""PersonalizedSearch: the facade that hosts (CLI, API, tests) call; collaborators injected."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from elasticsearch import Elasticsearch, NotFoundError

from plugin.blend import FRESHNESS_FIELD, POPULARITY_FIELD
from plugin.calibration import calibration_from_meta
from plugin.encoder import Encoder, load_encoder, profile_for
from plugin.errors import InputError
from plugin.es import (
    check_model,
    check_reachable,
    ensure_indices,
    make_es_client,
    meta_version,
    read_meta,
    write_meta,
)
from plugin.es import scorer_mode as detect_scorer_mode
from plugin.neighbours import NeighbourReader, vote_scores
from plugin.privacy import forget_user, forget_users
from plugin.profiles import fit_collab, fit_dims, profile_from_document
from plugin.pseudonym import load_user_key, pseudonymize
from plugin.queries import (
    CANDIDATE_SOURCES,
    PORTABLE_SEARCH_PARAMS,
    build_cold_start_body,
    build_explain_bodies,
    build_native_params,
    build_portable_search_body,
    build_recommend_bodies,
    build_search_body,
    build_top_items_body,
    cluster_quotas,
    cold_start_config,
    merge_recommendations,
    parse_hit,
    rank_portable_hits,
    recommend_clusters,
    script_weights,
)
from plugin.settings import Settings
from plugin.types import (
    BlendConfig,
    MergedHit,
    Mode,
    Scorer,
    SearchFilters,
    SearchHit,
    SearchResult,
    UserProfile,
)
from plugin.weights import (
    blend_to_meta,
    history,
    overridden,
    parse_meta,
    rollback,
    with_new_weights,
)

logger = logging.getLogger(__name__)

# Approx recommendation also scores `settings.prior_candidates` of the most popular and of the
# newest items (measured with bench/queries.py: knn on interest vectors rarely reaches them).
PRIOR_TTL_S = 60.0
# How long a blend read from `_meta` is reused: an admin's change shows within this time.
CONFIG_TTL_S = 2.0
MAX_QUERY_CHARS = 1000
TITLE_CACHE = 50_000
HAN = re.compile(r"[\u3400-\u9fff]")
Segmenter = Callable[[str], str]


class PersonalizedSearch:
    """Query-time operations over one Elasticsearch client and one encoder."""

    def __init__(
        self,
        es: Elasticsearch,
        *,
        settings: Settings,
        encoder: Encoder | None = None,
        segmenter: Segmenter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``clock`` (seconds, monotonic) times the caches of ``_meta`` and the prior
        candidates; tests pass one they advance instead of sleeping through a TTL."""
        self.es = es
        self._clock = clock
        self.settings = settings
        self._encoder = encoder
        self._segmenter = segmenter
        self._config: tuple[float, BlendConfig] | None = None
        self._scorer: str | None = None
        self._dims = 0  # the items' vector size, known once `_meta` was read
        self._collab_version: int | None = None  # the items' factors, from `_meta.collab`
        self._neighbours_version: int | None = None  # the table, from `_meta.neighbours`
        self._neighbours = NeighbourReader(es, settings.index_alias("item_neighbours"))
        self._titles: dict[str, str] = {}  # voted items' titles, for reasons
        self._priors: tuple[float, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    # --- collaborators -----------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.settings)
        return self._encoder

    @property
    def items_alias(self) -> str:
        return self.settings.index_alias("items")

    def model_identity(self) -> dict[str, Any]:
        profile = profile_for(self.settings.model)
        if not profile.dims:  # an arbitrary sentence-transformers model: ask the model itself
            self.encoder.encode(["probe"])
            profile = self.encoder.profile
        return profile.identity()

    def init_indices(self) -> dict[str, str]:
        check_reachable(self.es, self.settings)
        return ensure_indices(self.es, self.settings, model=self.model_identity())

    def blend_config(self, *, fresh: bool = False) -> BlendConfig:
        """The blend in `_meta`, re-read at most every CONFIG_TTL_S seconds."""
        with self._lock:
            cached = self._config
            if not fresh and cached is not None and cached[0] > self._clock():
                return cached[1]
        meta = read_meta(self.es, self.items_alias)
        model = meta.get("model") or {}
        if model.get("name") != self.settings.model:
            check_model(meta, self.model_identity())
        config = replace(parse_meta(meta), similarity_floor=float(model.get("similarity_floor", 0)))
        calibration = calibration_from_meta(
            meta, model=str(model.get("name")), dims=int(model.get("dims") or 0)
        )
        if calibration is not None:
            # The catalogue's calibration replaces the model's fixed floor.
            config = replace(
                config,
                centre=calibration.centre,
                similarity_floor=calibration.floor,
                similarity_scale=calibration.scale,
            )
        with self._lock:
            self._config = (self._clock() + CONFIG_TTL_S, config)
            self._dims = int(model.get("dims") or 0)
            self._collab_version = meta_version(meta, "collab")
            self._neighbours_version = meta_version(meta, "neighbours")
        return config

    def scorer_mode(self) -> str:
        if self._scorer is None:
            self._scorer = detect_scorer_mode(self.es)
        return self._scorer

    # --- admin: blend weights in `_meta` ---------------------------------------------------
    def weights(self) -> dict[str, Any]:
        config = self.blend_config(fresh=True)
        # The admin view is the stored shape of the current version.
        return blend_to_meta(config)

    def weights_history(self) -> list[dict[str, Any]]:
        return history(read_meta(self.es, self.items_alias))

    def set_weights(self, updates: dict[str, str | float], *, note: str = "") -> dict[str, Any]:
        """Validate and write a new blend version; invalid input raises and changes nothing."""
        meta = read_meta(self.es, self.items_alias)
        write_meta(
            self.es,
            self.items_alias,
            with_new_weights(meta, updates, note=note, now_iso=_now_iso()),
        )
        return self.weights()

    def rollback_weights(self, version: int | None = None) -> dict[str, Any]:
        meta = read_meta(self.es, self.items_alias)
        write_meta(self.es, self.items_alias, rollback(meta, version, now_iso=_now_iso()))
        return self.weights()

    # --- users -------------------------------------------------------------------------------
    def pseudonym(self, user: str) -> str:
        return pseudonymize(user, load_user_key(self.settings))

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

    def profile(self, user: str | None, *, neighbours: bool = True) -> UserProfile | None:
        """``user``'s interests as the read path uses them; ``neighbours``: also what their
        item votes give other items (skipped when the blend weights that component at 0)."""
        if not user:
            return None
        profile = profile_from_document(user, self.interest_document(user))
        if profile is not None:
            profile = fit_collab(profile, self._collab_version)
            profile, dropped = fit_dims(profile, self._dims)
            if dropped:
                logger.warning(
                    "interests of user %s do not fit the items' %d dims (%s): left out",
                    self.pseudonym(user),
                    self._dims,
                    ", ".join(dropped),
                )
            if neighbours:
                profile = self._with_neighbours(profile)
        if profile is None or profile.is_empty:
            logger.info("no interests for user %s: plain ranking", self.pseudonym(user))
            return None
        return profile

    def _with_neighbours(self, profile: UserProfile) -> UserProfile:
        """The profile with what its item votes give other items (none before a refit)."""
        version = self._neighbours_version
        if version is None or not profile.item_votes:
            return profile
        rows = self._neighbours.rows(list(profile.item_votes), version)
        signal = vote_scores(profile.item_votes, rows, self._neighbours.numbers)
        if not signal.scores:
            return profile
        titles = self._item_titles(set(signal.because.values()))
        return replace(
            profile,
            neighbour_scores=signal.scores,
            neighbour_because={
                item: titles.get(source, source) for item, source in signal.because.items()
            },
        )

    def _item_titles(self, items: set[str]) -> dict[str, str]:
        """Titles of ``items`` (cached per process; an item without one keeps its id)."""
        missing = sorted(item for item in items if item not in self._titles)
        if missing:
            response = self.es.mget(index=self.items_alias, ids=missing, source_includes=["title"])
            found = {
                str(doc["_id"]): str((doc.get("_source") or {}).get("title") or doc["_id"])
                for doc in response["docs"]
                if doc.get("found")
            }
            with self._lock:
                if len(self._titles) > TITLE_CACHE:
                    self._titles = {}
                self._titles.update(found)
        return {item: self._titles[item] for item in items if item in self._titles}

    def forget(self, user: str) -> dict[str, int]:
        """Erase ``user``'s interests, events and logged impressions/clicks; counts removed."""
        return forget_user(
            self.es,
            user=self.pseudonym(user),
            interests_index=self.settings.index_alias("user_interests"),
            events_index=self.settings.index_alias("user_events"),
            feedback_index=self.settings.index_alias("feedback"),
        )

    def forget_many(self, users: Sequence[str]) -> dict[str, dict[str, int]]:
        """``forget`` for many users in a few requests; per user (the host's id), what went."""
        pseudonyms = {self.pseudonym(user): user for user in users}
        removed = forget_users(
            self.es,
            users=list(pseudonyms),
            interests_index=self.settings.index_alias("user_interests"),
            events_index=self.settings.index_alias("user_events"),
            feedback_index=self.settings.index_alias("feedback"),
        )
        return {pseudonyms[p]: counts for p, counts in removed.items()}

    # --- ranking -----------------------------------------------------------------------------
    def _scorer_for(self, requested: str | None) -> Scorer:
        if requested in (None, "", "auto"):
            return cast(Scorer, self.scorer_mode())
        if requested not in ("native", "portable"):
            raise InputError(f"scorer must be 'native' or 'portable', got {requested!r}")
        if requested == "native" and self.scorer_mode() != "native":
            raise InputError("the scoring plugin is not on every node; use --scorer portable")
        return cast(Scorer, requested)

    def _query_parts(self, query: str) -> tuple[str, list[float], str | None]:
        text = query.strip()
        if not text:
            raise InputError("query is empty")
        if len(text) > MAX_QUERY_CHARS:
            raise InputError(f"query is longer than {MAX_QUERY_CHARS} characters")
        vector = self.encoder.encode([text], kind="query")[0].tolist()
        segmented = self._segmenter(text) if self._segmenter and HAN.search(text) else None
        return text, vector, segmented

    def search(
        self,
        query: str,
        *,
        user: str | None = None,
        size: int = 10,
        mode: str = "exact",
        scorer: str | None = None,
        filters: SearchFilters | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> SearchResult:
        """Results for ``query`` ranked for ``user``; an unknown user gets plain BM25 order.
        ``weights``: per-request overrides, as for ``recommend``."""
        checked = _mode(mode)  # for every scorer, not only where a body uses it
        scorer = self._scorer_for(scorer)
        config = self.blend_config()
        if weights:
            config = overridden(config, weights)
        profile = self.profile(user, neighbours=config.weights.neighbours > 0)
        text, vector, segmented = self._query_parts(query)
        now_ms = int(time.time() * 1000)
        if scorer == "portable":
            params = build_native_params(profile, config, query_vector=vector, now_ms=now_ms)
            body = build_portable_search_body(
                text, params=params, segmented_query=segmented, filters=filters, size=size
            )
            response = self.es.search(index=self.items_alias, body=body, **PORTABLE_SEARCH_PARAMS)
            hits = rank_portable_hits(response.body, params=params, profile=profile, size=size)
        else:
            body = build_search_body(
                text,
                profile=profile,
                config=config,
                query_vector=vector,
                now_ms=now_ms,
                segmented_query=segmented,
                filters=filters,
                size=size,
                mode=checked,
            )
            response = self.es.search(index=self.items_alias, body=body)
            weights = script_weights(body)
            hits = [
                parse_hit(hit, profile=profile, weights=weights) for hit in response["hits"]["hits"]
            ]
        return SearchResult(
            hits=tuple(hits), cold_start=profile is None, mode=checked, scorer=scorer
        )

    def recommend(
        self,
        user: str,
        *,
        size: int = 10,
        mode: str = "approx",
        scorer: str | None = None,
        filters: SearchFilters | None = None,
        weights: Mapping[str, float] | None = None,
        sources: Collection[str] | None = None,
    ) -> SearchResult:
        """What ``user`` likely wants now: per-interest retrieval merged with quotas.

        ``weights`` overrides some blend weights or parameters (e.g. ``diversity``) for this
        request only (what-if comparisons, evaluation); ``_meta`` is not touched. ``sources``:
        approximate retrieval's candidate sources (default all ``CANDIDATE_SOURCES``; fewer
        to measure what each adds).
        """
        checked = _mode(mode)
        scorer = self._scorer_for(scorer)
        config = self.blend_config()
        if weights:
            config = overridden(config, weights)
        profile = self.profile(user, neighbours=config.weights.neighbours > 0)
        now_ms = int(time.time() * 1000)
        if profile is None:
            return self._cold_start(
                config, size=size, now_ms=now_ms, filters=filters, scorer=scorer
            )
        seen = tuple(profile.recent_items)
        if scorer == "portable":
            params = build_native_params(
                profile, config, query_vector=None, now_ms=now_ms, lexical=False
            )
            merged_filters = _with_excluded(filters, seen)
            body = build_portable_search_body(
                None, params=params, filters=merged_filters, size=size
            )
            response = self.es.search(index=self.items_alias, body=body, **PORTABLE_SEARCH_PARAMS)
            hits = rank_portable_hits(response.body, params=params, profile=profile, size=size)
            return SearchResult(hits=tuple(hits), cold_start=False, mode=checked, scorer=scorer)
        bodies = build_recommend_bodies(
            profile,
            config,
            size=size,
            now_ms=now_ms,
            exclude_ids=seen,
            mode=checked,
            filters=filters,
            extra_candidates=self._prior_candidates() if checked == "approx" else (),
            diversity=config.diversity,
            sources=CANDIDATE_SOURCES if sources is None else sources,
            explain=False,
        )
        responses = self._msearch(bodies)
        clusters = recommend_clusters(
            profile, diversity=config.diversity, now_share=config.now_share
        )
        quotas = cluster_quotas(
            profile, size, recent_share=config.now_share, diversity=config.diversity
        )
        merged = merge_recommendations(responses, quotas, size, clusters=clusters)
        merged = self._explained(bodies, clusters, merged)
        weights = script_weights(bodies[0]) if bodies else None
        hits = [
            parse_hit(m.hit, profile=profile, cluster=m.cluster, weights=weights) for m in merged
        ]
        return SearchResult(hits=tuple(hits), cold_start=False, mode=checked, scorer=scorer)

    def _msearch(self, bodies: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        searches: list[Mapping[str, Any]] = []
        for body in bodies:
            searches += [{"index": self.items_alias}, body]
        responses: list[Mapping[str, Any]] = self.es.msearch(searches=searches)["responses"]
        return responses

    def _explained(
        self,
        bodies: Sequence[Mapping[str, Any]],
        clusters: Sequence[int | None],
        merged: Sequence[MergedHit],
    ) -> list[MergedHit]:
        """The merged hits again with their explanations (components), asked for these hits
        only; a hit whose explanation did not come back (deleted meanwhile, or its request
        failed) is left out."""
        if not merged:
            return []
        requests = build_explain_bodies(bodies, clusters, merged)
        responses = self._msearch([body for _, body in requests])
        explained: dict[str, Mapping[str, Any]] = {}
        for response in responses:
            if "error" in response:  # as a failed body in the merge: its hits are left out
                logger.warning("explaining recommendations failed: %s", response["error"])
                continue
            for hit in response["hits"]["hits"]:
                explained[str(hit["_id"])] = hit
        return [
            replace(item, hit=explained[str(item.hit["_id"])])
            for item in merged
            if str(item.hit["_id"]) in explained
        ]

    def _prior_candidates(self) -> tuple[str, ...]:
        """The most popular and the newest items (``settings.prior_candidates`` each), re-read
        at most every ``PRIOR_TTL_S`` seconds: every approx recommendation also scores them."""
        if self.settings.prior_candidates <= 0:
            return ()
        with self._lock:
            cached = self._priors
            if cached is not None and cached[0] > self._clock():
                return cached[1]
        bodies = [
            build_top_items_body(field, self.settings.prior_candidates)
            for field in (POPULARITY_FIELD, FRESHNESS_FIELD)
        ]
        found: list[str] = []
        for response in self._msearch(bodies):
            if "error" in response:  # recommendations still come from the knn clauses
                logger.warning("popular/newest candidates failed: %s", response["error"])
                continue
            found += [str(hit["_id"]) for hit in response["hits"]["hits"] if "_id" in hit]
        priors = tuple(dict.fromkeys(found))
        with self._lock:
            self._priors = (self._clock() + PRIOR_TTL_S, priors)
        return priors

    def _cold_start(
        self,
        config: BlendConfig,
        *,
        size: int,
        now_ms: int,
        filters: SearchFilters | None,
        scorer: Scorer,
    ) -> SearchResult:
        """Popular and fresh items for a user with no interests yet."""
        if scorer == "portable":
            params = build_native_params(
                None, cold_start_config(config), query_vector=None, now_ms=now_ms, lexical=False
            )
            body = build_portable_search_body(None, params=params, filters=filters, size=size)
            response = self.es.search(index=self.items_alias, body=body, **PORTABLE_SEARCH_PARAMS)
            hits = rank_portable_hits(response.body, params=params, profile=None, size=size)
        else:
            body = build_cold_start_body(config, size, now_ms, filters=filters)
            response = self.es.search(index=self.items_alias, body=body)
            hits = [parse_hit(hit, profile=None) for hit in response["hits"]["hits"]]
        return SearchResult(hits=tuple(hits), cold_start=True, mode="exact", scorer=scorer)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _mode(mode: str) -> Mode:
    if mode not in ("exact", "approx"):
        raise InputError(f"mode must be 'exact' or 'approx', got {mode!r}")
    return cast(Mode, mode)


def _with_excluded(filters: SearchFilters | None, ids: tuple[str, ...]) -> SearchFilters:
    base = filters or SearchFilters()
    return replace(base, exclude_ids=tuple(base.exclude_ids) + ids)


def result_to_json(result: SearchResult) -> dict[str, Any]:
    """The CLI/API shape: components add up to each score."""
    return {
        "hits": [hit_to_json(hit) for hit in result.hits],
        "cold_start": result.cold_start,
        "mode": result.mode,
        "scorer": result.scorer,
    }


def hit_to_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "title": hit.title,
        "score": hit.score,
        "components": hit.components,
        "reason": hit.reason,
        "interest": hit.cluster_label,
        "category": hit.source.get("category"),
    }


@contextmanager
def open_service(
    settings: Settings, *, need_encoder: bool = True, segmenter: Segmenter | None = None
) -> Iterator[PersonalizedSearch]:
    es = make_es_client(settings)
    try:
        encoder = load_encoder(settings) if need_encoder else None
        yield PersonalizedSearch(es, settings=settings, encoder=encoder, segmenter=segmenter)
    finally:
        es.close()
