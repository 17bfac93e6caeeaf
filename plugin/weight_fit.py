"""`interest weights fit`: read the impression/click log, propose weights, apply on request.

The fitting itself is ``plugin.learning`` (pure); this module only reads the log (the
feedback index or a JSONL file) and writes an applied proposal through
``PersonalizedSearch.set_weights``, so history and rollback cover it like any other change.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import scan

from plugin.errors import InputError
from plugin.learning import DEFAULT_SEED, impressions_from_log, propose_weights

if TYPE_CHECKING:
    from plugin.service import PersonalizedSearch

logger = logging.getLogger(__name__)

FEEDBACK_SOURCE = "feedback"
DEFAULT_NOTE = "learned from clicks"


def read_feedback_index(es: Elasticsearch, index: str) -> Iterator[dict[str, Any]]:
    """Every impression and click document of the feedback index (scan; empty when missing)."""
    try:
        es.indices.refresh(index=index)
        for hit in scan(es, index=index, query={"query": {"match_all": {}}}, size=2000):
            yield hit["_source"]
    except NotFoundError:
        return


def read_log_file(path: str | Path) -> Iterator[dict[str, Any]]:
    """Feedback documents from a JSONL file (one impression or click per line).

    Raises:
        InputError: the file is missing or a line is not a JSON object.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"log file not found: {file}")
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{file}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(doc, dict):
                raise InputError(f"{file}:{number}: expected a JSON object")
            yield doc


def weights_by_version(entries: list[dict[str, Any]]) -> dict[int, Mapping[str, float]]:
    return {int(entry["version"]): entry.get("weights") or {} for entry in entries}


def fit_from_log(
    service: PersonalizedSearch,
    *,
    source: str = FEEDBACK_SOURCE,
    apply: bool = False,
    note: str = "",
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Propose weights from the log and, with ``apply``, write them as a new version.

    Args:
        service: the facade (its Elasticsearch client and settings).
        source: ``feedback`` (the feedback index) or a JSONL file path.
        apply: write the proposal to ``_meta`` (a new version with ``note``).
        note: kept in the weights history (default ``"learned from clicks"``).
        seed: the request-id split's seed.

    Returns:
        ``plugin.learning.propose_weights``'s result plus ``version`` (current before),
        ``applied`` and, when applied, ``new_version``.
    """
    current = service.weights()
    if source == FEEDBACK_SOURCE:
        docs = read_feedback_index(service.es, service.settings.index_alias("feedback"))
    else:
        docs = read_log_file(source)
    skipped: Counter[int] = Counter()
    impressions = impressions_from_log(
        docs,
        weights_by_version=weights_by_version(service.weights_history()),
        current=current["weights"],
        skipped=skipped,
    )
    if skipped:
        logger.warning(
            "left out %d impressions ranked by blend versions no longer in the history: %s",
            sum(skipped.values()),
            sorted(skipped),
        )
    result = propose_weights(impressions, current["weights"], seed=seed)
    result.update(
        {
            "source": source,
            "version": current["version"],
            "applied": False,
            "skipped_impressions": sum(skipped.values()),
        }
    )
    if apply:
        metrics = result["metrics"]["proposed"]
        text = note or f"{DEFAULT_NOTE} (held-out ndcg@10 {metrics['ndcg@10']})"
        written = service.set_weights(dict(result["proposed"]), note=text)
        result.update({"applied": True, "new_version": written["version"]})
        logger.info("applied learned weights as v%d", written["version"])
    return result


def save_proposal(result: Mapping[str, Any], state_dir: Path, *, stamp: str) -> Path:
    """Write a proposal for an admin to review: ``models/weights/proposal-{stamp}.json``
    and ``latest.json``; nothing is applied."""
    folder = Path(state_dir) / "models" / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dict(result), indent=2, ensure_ascii=False, default=str)
    path = folder / f"proposal-{stamp}.json"
    path.write_text(text)
    (folder / "latest.json").write_text(text)
    return path
