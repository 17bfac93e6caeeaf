"""Retrain the category model from items whose category was given (not predicted)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from indexer.categories import save, train
from indexer.documents import EMBED_BODY_CHARS
from plugin.pit import scan_pit

logger = logging.getLogger(__name__)

# Categories with fewer labelled items are left out: too few to learn, and they would be
# predicted almost never anyway.
MIN_PER_CATEGORY = 5
# Only labels a person or a source gave: training on the model's own predictions would
# reinforce its mistakes.
LABELLED_QUERY: dict[str, Any] = {
    "bool": {
        "filter": [{"exists": {"field": "category"}}],
        "must_not": [{"term": {"category_source": "model"}}],
    }
}


def labelled_items(es: Elasticsearch, index: str) -> tuple[list[str], list[str]]:
    """Texts (title and body start) and categories of every item with a given category."""
    texts: list[str] = []
    labels: list[str] = []
    for page in scan_pit(es, index, query=LABELLED_QUERY, include=["title", "body", "category"]):
        for hit in page:
            source = hit["_source"]
            text = f"{source.get('title') or ''}\n{(source.get('body') or '')[:EMBED_BODY_CHARS]}"
            if text.strip() and source.get("category"):
                texts.append(text.strip())
                labels.append(str(source["category"]))
    return texts, labels


def retrain_categories(
    es: Elasticsearch,
    *,
    items_index: str,
    state_dir: Path,
    min_per_category: int = MIN_PER_CATEGORY,
) -> dict[str, Any]:
    """Train on the labelled items and save a new current model version.

    Returns:
        ``{"version", "texts", "categories"}``, or ``{"version": None, "skipped": reason}``
        when there is too little to learn from (the current model stays).
    """
    texts, labels = labelled_items(es, items_index)
    counts = Counter(labels)
    keep = {label for label, n in counts.items() if n >= min_per_category}
    pairs = [(t, y) for t, y in zip(texts, labels, strict=True) if y in keep]
    if len(keep) < 2:
        reason = f"{len(keep)} categories with at least {min_per_category} labelled items"
        logger.info("category model not retrained: %s", reason)
        return {"version": None, "skipped": reason, "texts": len(texts)}
    model = train([t for t, _ in pairs], [y for _, y in pairs])
    version = save(model, state_dir)
    return {"version": version, "texts": len(pairs), "categories": len(keep)}
