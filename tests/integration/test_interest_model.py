"""The scikit-learn interest model on the real stack.

* ``weights fit`` without ``--apply`` changes nothing; with it a new version appears in the
  history and can be rolled back (the functions behind the CLI, and the CLI itself).
* The category model is retrained by the worker from labelled items; the worker then labels an
  item indexed without a category (``category_source: "model"``) and a new user's first post
  seeds that user's category affinity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from plugin.feedback import FeedbackLog
from plugin.service import PersonalizedSearch
from plugin.weight_fit import fit_from_log
from tests.unit.test_categories import SAMPLE
from tests.unit.test_learning import LOGGED_WEIGHTS, synthetic_log

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
TASK_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def admin(settings: Any, es: Any) -> PersonalizedSearch:
    search = PersonalizedSearch(es, settings=settings)
    search.init_indices()
    return search


@pytest.fixture(scope="module")
def logged_version(admin: PersonalizedSearch) -> int:
    """A blend version with the default weights, the ones the synthetic log was ranked by
    (other files change the weights and may push version 1 out of the bounded history)."""
    return int(admin.set_weights(dict(LOGGED_WEIGHTS), note=f"logged {RUN}")["version"])


@pytest.fixture()
def log_file(tmp_path: Path, logged_version: int) -> Path:
    docs = synthetic_log(requests=200, weights_version=logged_version)
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(doc) for doc in docs) + "\n")
    return path


def test_weights_fit_without_apply_changes_nothing(admin: PersonalizedSearch, log_file: Path):
    before = admin.weights()
    history_before = admin.weights_history()
    result = fit_from_log(admin, source=str(log_file), apply=False)
    assert result["applied"] is False
    assert result["proposed"]["freshness"] >= 0.5
    assert result["metrics"]["proposed"]["ndcg@10"] > result["metrics"]["current"]["ndcg@10"]
    assert admin.weights() == before
    assert admin.weights_history() == history_before


def test_weights_fit_apply_adds_version_that_rolls_back(admin: PersonalizedSearch, log_file: Path):
    before = admin.weights()
    result = fit_from_log(admin, source=str(log_file), apply=True, note=f"fit {RUN}")
    after = admin.weights()
    assert result["applied"] is True and result["new_version"] == after["version"]
    assert after["version"] > before["version"]
    assert after["note"] == f"fit {RUN}"
    assert after["weights"]["freshness"] == pytest.approx(result["proposed"]["freshness"])
    versions = [entry["version"] for entry in admin.weights_history()]
    assert versions[0] == after["version"] and before["version"] in versions
    restored = admin.rollback_weights(before["version"])
    assert restored["weights"] == pytest.approx(before["weights"])
    assert restored["version"] > after["version"]


def test_weights_fit_cli_json_without_apply_keeps_version(
    admin: PersonalizedSearch, log_file: Path, tmp_path: Path
):
    before = admin.weights()["version"]
    command = [sys.executable, "-m", "plugin.app.cli", "weights", "fit", "--json"]
    done = subprocess.run(
        [*command, "--from-log", str(log_file)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) >= {"current", "proposed", "metrics", "applied", "version"}
    assert payload["applied"] is False and payload["version"] == before
    assert admin.weights()["version"] == before
    bad = subprocess.run(
        [*command, "--from-log", str(tmp_path / "missing.jsonl")],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert bad.returncode == 1 and "not found" in bad.stderr and bad.stdout == ""


def test_weights_fit_from_feedback_index_does_not_apply(
    admin: PersonalizedSearch, es: Any, logged_version: int
):
    log = FeedbackLog(es, index=admin.settings.index_alias("feedback"))
    docs = [
        {**doc, "request_id": f"{RUN}-{doc['request_id']}"}
        for doc in synthetic_log(requests=120, seed=5, weights_version=logged_version)
    ]
    assert log.write(docs) == len(docs)
    before = admin.weights()["version"]
    result = fit_from_log(admin, source="feedback")
    assert result["split"]["fit_impressions"] + result["split"]["test_impressions"] >= 1200
    assert result["applied"] is False and admin.weights()["version"] == before


def _categories(document: dict[str, Any] | None) -> dict[str, float]:
    raw = (document or {}).get("categories") or {}
    return dict(raw) if isinstance(raw, list) else raw


def test_worker_retrains_categories_and_labels_items_and_posts(
    admin: PersonalizedSearch, tasks: Any, es: Any, settings: Any
):
    labelled = [
        {"id": f"cat-{RUN}-{label}-{n}", "title": text, "category": label}
        for label, texts in SAMPLE.items()
        for n, text in enumerate(texts)
    ]
    assert tasks.index_items(labelled, batch_size=16, progress=False)["errors"] == []
    outcome = tasks.send("tasks.training.retrain_categories").get(timeout=TASK_TIMEOUT_S)
    assert outcome["version"] is not None and outcome["categories"] >= 3, outcome
    model_dir = settings.prefix_state_dir / "models" / "categories" / f"v{outcome['version']}"
    assert (model_dir / "model.joblib").is_file()

    unlabelled = {
        "id": f"cat-{RUN}-new",
        "title": "The football team won the league final with a goal",
    }
    assert tasks.index_items([unlabelled], batch_size=1, progress=False)["errors"] == []
    source = es.get(index=admin.items_alias, id=unlabelled["id"])["_source"]
    assert source["category"] == "sports" and source["category_source"] == "model"

    user = f"newbie-{RUN}"
    post = {"user": user, "type": "post", "text": "昨晚的足球联赛决赛太精彩了，冠军实至名归"}
    assert tasks.record_events([post], wait=True)["errors"] == []
    categories = _categories(admin.interest_document(user))
    assert max(categories, key=lambda name: categories[name]) == "sports", categories

    proposal = tasks.send("tasks.training.propose_weights").get(timeout=TASK_TIMEOUT_S)
    assert "proposal" in proposal
    if proposal["proposal"]:
        assert Path(proposal["proposal"]).is_file()
