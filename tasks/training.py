"""Scheduled retraining: the category model, and a blend-weights proposal (never applied).

Run the scheduler next to the workers: ``celery -A tasks.app beat`` (see ``BEAT_SCHEDULE`` in
``tasks/app.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery.utils.log import get_task_logger

from indexer.training import retrain_categories as run_retrain_categories
from plugin.errors import InputError
from plugin.service import PersonalizedSearch
from plugin.weight_fit import fit_from_log, save_proposal
from tasks.app import app, retry_options, settings
from tasks.resources import get_es, get_settings
from tasks.retries import RETRY_ON, retry_transient

logger = get_task_logger(__name__)


@app.task(name="tasks.training.retrain_categories", **retry_options(settings, RETRY_ON))
@retry_transient
def retrain_categories() -> dict[str, Any]:
    """Fit a new category model on items with a given category; workers pick it up."""
    current = get_settings()
    return run_retrain_categories(
        get_es(), items_index=current.index_alias("items"), state_dir=current.state_dir
    )


@app.task(name="tasks.training.propose_weights", **retry_options(settings, RETRY_ON))
@retry_transient
def propose_weights() -> dict[str, Any]:
    """Fit blend weights from the feedback log and store them for review (not applied)."""
    current = get_settings()
    service = PersonalizedSearch(get_es(), settings=current)
    try:
        result = fit_from_log(service, apply=False)
    except InputError as exc:  # too few clicks yet: nothing to propose, nothing to retry
        logger.info("no weights proposal: %s", exc)
        return {"proposal": None, "skipped": str(exc)}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = save_proposal(result, current.state_dir, stamp=stamp)
    logger.info("weights proposal written to %s", path)
    return {"proposal": str(path), "proposed": result["proposed"], "metrics": result["metrics"]}
