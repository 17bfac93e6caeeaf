"""The catalogue calibration in Elasticsearch: sample the item vectors, fit, write ``_meta``.

The adapter around ``plugin.calibration`` (pure). A refit reads a random sample of the items'
vectors (at most ``SAMPLE_ITEMS``: the mean of ten thousand unit vectors moves by well under
a percent of its length with more), fits the centre and scale, and writes them to the items
``_meta.calibration`` with the next version, keeping the rest of ``_meta``. Readers pick it up
with the blend (``PersonalizedSearch.blend_config``, re-read every few seconds).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch

from plugin.blend import VECTOR_FIELD
from plugin.calibration import Calibration, fit_calibration
from plugin.errors import MappingError
from plugin.es import read_meta, resolve_alias

logger = logging.getLogger(__name__)

# Elasticsearch's default max_result_window: one request, no scroll.
SAMPLE_ITEMS = 10_000


def sample_vectors(es: Elasticsearch, items_index: str, *, size: int, seed: int) -> np.ndarray:
    """Up to ``size`` item vectors in a seeded random order (rows of a float array)."""
    body = {
        "size": size,
        "_source": [VECTOR_FIELD],
        "query": {
            "function_score": {
                "query": {"exists": {"field": VECTOR_FIELD}},
                "random_score": {"seed": seed, "field": "_seq_no"},
                "boost_mode": "replace",
            }
        },
    }
    hits = es.search(index=items_index, body=body)["hits"]["hits"]
    rows = [
        hit["_source"][VECTOR_FIELD] for hit in hits if hit.get("_source", {}).get(VECTOR_FIELD)
    ]
    return np.asarray(rows, dtype=np.float32)


def refit(
    es: Elasticsearch, *, items_index: str, sample_items: int = SAMPLE_ITEMS, seed: int = 0
) -> Calibration:
    """Fit the calibration of the items in ``items_index`` (an alias or an index) and record
    it in that index's ``_meta``.

    Raises:
        MappingError: the index does not exist or records no model.
        InputError: too few items with vectors (``plugin.calibration.MIN_ITEMS``).
    """
    meta = read_meta(es, items_index)
    model = (meta.get("model") or {}).get("name")
    if not model:
        raise MappingError(f"{items_index} records no model in _meta; run `interest init`")
    vectors = sample_vectors(es, items_index, size=sample_items, seed=seed)
    previous = meta.get("calibration")
    version = int(previous.get("version", 0)) + 1 if isinstance(previous, dict) else 1
    calibration = fit_calibration(
        vectors,
        model=str(model),
        version=version,
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seed=seed,
    )
    # Re-read: another writer (weights, a refit) may have changed _meta meanwhile. The name
    # may be an alias or, during a rebuild before its swap, the new index itself.
    latest = read_meta(es, items_index)
    target = resolve_alias(es, items_index) or items_index
    es.indices.put_mapping(index=target, meta={**latest, "calibration": calibration.to_meta()})
    logger.info(
        "calibration v%d of %s: %d items, scale %.3f, floor %.3f",
        version, model, calibration.items, calibration.scale, calibration.floor,
    )  # fmt: skip
    return calibration


def summary(calibration: Calibration) -> dict[str, Any]:
    """What a task or the CLI reports: everything but the centre vector."""
    return {k: v for k, v in calibration.to_meta().items() if k != "centre"}
