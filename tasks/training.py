"""Scheduled retraining: the category model, collaborative item factors, item neighbours, the
similarity calibration, and a blend-weights proposal (never applied).

Run the scheduler next to the workers: ``celery -A tasks.app beat`` (see ``BEAT_SCHEDULE`` in
``tasks/app.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery.utils.log import get_task_logger

from indexer import calibration_store, collab_store, neighbours_store
from indexer.interests import InterestParams
from indexer.training import retrain_categories as run_retrain_categories
from plugin.errors import InputError
from plugin.es import read_meta, write_meta
from plugin.service import PersonalizedSearch
from plugin.weight_fit import fit_from_log, save_proposal
from tasks.app import app, retry_options, settings
from tasks.resources import get_es, get_settings
from tasks.retries import RETRY_ON, retry_transient

logger = get_task_logger(__name__)

# Users rebuilt per task after a refit: small enough to spread over the workers.
RECOMPUTE_CHUNK = 200


def _meta_recorder(es: Any, items: str, section: str) -> Callable[[dict[str, Any]], None]:
    """Writes a refit's summary to the items ``_meta[section]``, keeping the rest."""

    def record(summary: dict[str, Any]) -> None:
        write_meta(es, items, {**read_meta(es, items), section: summary})

    return record


@app.task(name="tasks.training.retrain_categories", **retry_options(settings, RETRY_ON))
@retry_transient
def retrain_categories(prefix: str | None = None) -> dict[str, Any]:
    """Fit a new category model on items with a given category; workers pick it up."""
    current = get_settings(prefix)
    return run_retrain_categories(
        get_es(), items_index=current.index_alias("items"), state_dir=current.prefix_state_dir
    )


@app.task(name="tasks.training.calibrate", **retry_options(settings, RETRY_ON))
@retry_transient
def calibrate(prefix: str | None = None) -> dict[str, Any]:
    """Fit the catalogue's similarity calibration (centre and scale) into ``_meta``.

    Returns:
        the ``_meta.calibration`` summary without the centre; with too few items,
        ``{"skipped": reason}`` and the current calibration (or none) stays.
    """
    current = get_settings(prefix)
    try:
        fitted = calibration_store.refit(get_es(), items_index=current.index_alias("items"))
    except InputError as exc:
        logger.info("no calibration: %s", exc)
        return {"skipped": str(exc)}
    return calibration_store.summary(fitted)


@app.task(name="tasks.training.propose_weights", **retry_options(settings, RETRY_ON))
@retry_transient
def propose_weights(prefix: str | None = None) -> dict[str, Any]:
    """Fit blend weights from the feedback log and store them for review (not applied)."""
    current = get_settings(prefix)
    service = PersonalizedSearch(get_es(), settings=current)
    try:
        result = fit_from_log(service, apply=False)
    except InputError as exc:  # too few clicks yet: nothing to propose, nothing to retry
        logger.info("no weights proposal: %s", exc)
        return {"proposal": None, "skipped": str(exc)}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = save_proposal(result, current.prefix_state_dir, stamp=stamp)
    logger.info("weights proposal written to %s", path)
    return {"proposal": str(path), "proposed": result["proposed"], "metrics": result["metrics"]}


@app.task(name="tasks.training.refit_collab", **retry_options(settings, RETRY_ON))
@retry_transient
def refit_collab(prefix: str | None = None) -> dict[str, Any]:
    """Fit collaborative item factors from the stored events, write them on the items, then
    rebuild every user's collaborative vector with them (one task per chunk of users).

    Returns:
        the ``_meta.collab`` summary plus ``recompute_tasks`` (the ids to wait for); with too
        few interactions, ``{"skipped": reason}`` and nothing changes.
    """
    current = get_settings(prefix)
    es = get_es()
    items = current.index_alias("items")
    events = current.index_alias("user_events")

    from tasks.events import get_processor

    try:
        summary, users = collab_store.refit(
            es,
            items_index=items,
            events_index=events,
            write_meta_fn=_meta_recorder(es, items, "collab"),
            weights=get_processor(prefix).params.vote_weights,
        )
    except InputError as exc:
        logger.info("no collab refit: %s", exc)
        return {"skipped": str(exc)}
    pending = [
        recompute_collab.delay(
            users[start : start + RECOMPUTE_CHUNK], summary["version"], prefix=prefix
        ).id
        for start in range(0, len(users), RECOMPUTE_CHUNK)
    ]
    return {**summary, "recompute_users": len(users), "recompute_tasks": pending}


@app.task(name="tasks.training.refit_neighbours", **retry_options(settings, RETRY_ON))
@retry_transient
def refit_neighbours(prefix: str | None = None) -> dict[str, Any]:
    """Fit the item neighbours from the stored events into a new index and swap to it.

    Returns:
        the ``_meta.neighbours`` summary; with too few interactions ``{"skipped": reason}``
        and the current table stays.
    """
    from tasks.events import get_processor

    current = get_settings(prefix)
    es = get_es()
    items = current.index_alias("items")

    try:
        return neighbours_store.refit(
            es,
            events_index=current.index_alias("user_events"),
            neighbours_alias=current.index_alias("item_neighbours"),
            vote_weights=get_processor(prefix).params.vote_weights,
            write_meta_fn=_meta_recorder(es, items, "neighbours"),
            replicas=current.es_replicas,
        )
    except InputError as exc:
        logger.info("no neighbours refit: %s", exc)
        return {"skipped": str(exc)}


@app.task(name="tasks.training.recompute_collab", **retry_options(settings, RETRY_ON))
@retry_transient
def recompute_collab(users: list[str], version: int, prefix: str | None = None) -> dict[str, Any]:
    """Rebuild these (pseudonymous) users' collaborative vectors with factors ``version``."""
    from tasks.events import get_processor

    current = get_settings(prefix)
    params: InterestParams = get_processor(prefix).params
    rebuilt = 0
    for user in users:
        rebuilt += collab_store.recompute_user(
            get_es(),
            user,
            version=version,
            items_index=current.index_alias("items"),
            events_index=current.index_alias("user_events"),
            interests_index=current.index_alias("user_interests"),
            params=params,
        )
    return {"users": len(users), "rebuilt": rebuilt, "version": version}
