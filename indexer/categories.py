"""Category model: TF-IDF over jieba/word tokens + calibrated logistic regression, versioned.

Artifacts live in ``{state_dir}/models/categories/v{N}/`` (``model.joblib`` and ``meta.json``),
``state_dir`` being an index prefix's own (``Settings.prefix_state_dir``), with a ``current``
file naming the version in use. ``CategoryCache`` re-reads ``current`` when its mtime changes,
so a worker picks up a retrained model without a restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer import segment
from plugin.errors import InputError

logger = logging.getLogger(__name__)

# Below this probability a prediction is not trusted enough to become an item's category.
DEFAULT_THRESHOLD = 0.5
MIN_TRAIN_TEXTS = 10
MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
CURRENT_FILE = "current"
# A word must appear in two texts to become a feature: drops typos and one-off names.
MIN_DF = 2
MAX_FEATURES = 200_000
# Inverse regularisation strength; 10 suits short headlines (few words each, so a weaker
# penalty lets single strong words count).
DEFAULT_C = 10.0


def analyzer(text: str) -> list[str]:
    """Tokens for TF-IDF: jieba words for Chinese, letters/digits for others (no stopwords)."""
    return segment.tokens(text)


@dataclass
class CategoryModel:
    """A fitted pipeline and its labels; ``predict`` gives the top label and its probability."""

    pipeline: Any
    labels: tuple[str, ...]
    version: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, probability) of the most likely category of each text."""
        if not texts:
            return []
        probs = self.pipeline.predict_proba(list(texts))
        classes = self.pipeline.classes_
        best = probs.argmax(axis=1)
        return [(str(classes[i]), float(probs[row, i])) for row, i in enumerate(best)]


def build_pipeline(*, min_df: int = MIN_DF, c: float = DEFAULT_C) -> Any:
    """An unfitted TF-IDF + logistic regression pipeline (probabilities from softmax)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer=analyzer,
                    min_df=min_df,
                    sublinear_tf=True,
                    max_features=MAX_FEATURES,
                ),
            ),
            ("clf", LogisticRegression(C=c, max_iter=2000)),
        ]
    )


def train(
    texts: Sequence[str], labels: Sequence[str], *, min_df: int = MIN_DF, c: float = DEFAULT_C
) -> CategoryModel:
    """Fit a category model.

    Args:
        texts: titles/bodies/posts.
        labels: one category per text.
        min_df: minimum number of texts a token must appear in (1 for tiny samples).
        c: inverse regularisation strength of the logistic regression.

    Raises:
        InputError: lengths differ, too few texts, or fewer than two categories.
    """
    if len(texts) != len(labels):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels")
    if len(texts) < MIN_TRAIN_TEXTS:
        raise InputError(f"need at least {MIN_TRAIN_TEXTS} labelled texts, got {len(texts)}")
    counts = Counter(labels)
    if len(counts) < 2:
        raise InputError("need at least two categories to train a classifier")
    pipeline = build_pipeline(min_df=min_df if len(texts) >= 200 else 1, c=c)
    pipeline.fit(list(texts), list(labels))
    meta = {
        "trained_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "texts": len(texts),
        "counts": dict(counts),
    }
    return CategoryModel(pipeline=pipeline, labels=tuple(sorted(counts)), meta=meta)


# --- artifacts --------------------------------------------------------------------------------


def models_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "models" / "categories"


def _versions(root: Path) -> list[int]:
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        if child.is_dir() and child.name.startswith("v") and child.name[1:].isdigit():
            found.append(int(child.name[1:]))
    return sorted(found)


def save(model: CategoryModel, state_dir: Path, *, make_current: bool = True) -> int:
    """Write ``model`` as the next version (and point ``current`` at it); return the version."""
    import joblib

    root = models_dir(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = max(_versions(root), default=0) + 1
    folder = root / f"v{version}"
    folder.mkdir()
    joblib.dump({"pipeline": model.pipeline, "labels": list(model.labels)}, folder / MODEL_FILE)
    (folder / META_FILE).write_text(json.dumps({**model.meta, "version": version}, indent=2))
    model.version = version
    if make_current:
        set_current(state_dir, version)
    logger.info("saved category model v%d (%d labels)", version, len(model.labels))
    return version


def set_current(state_dir: Path, version: int) -> None:
    """Point ``current`` at ``version`` atomically (rename), so readers never see half a file."""
    root = models_dir(state_dir)
    if version not in _versions(root):
        raise InputError(f"no category model v{version} under {root}")
    tmp = root / f".{CURRENT_FILE}.{os.getpid()}"
    tmp.write_text(f"{version}\n")
    os.replace(tmp, root / CURRENT_FILE)


def current_version(state_dir: Path) -> int | None:
    path = models_dir(state_dir) / CURRENT_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def load(state_dir: Path, version: int | None = None) -> CategoryModel | None:
    """Load ``version`` (default: ``current``); None when no model has been saved."""
    import joblib

    version = current_version(state_dir) if version is None else version
    if version is None:
        return None
    folder = models_dir(state_dir) / f"v{version}"
    if not (folder / MODEL_FILE).is_file():
        raise InputError(f"category model v{version} is missing under {folder}")
    data = joblib.load(folder / MODEL_FILE)
    meta_path = folder / META_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return CategoryModel(
        pipeline=data["pipeline"], labels=tuple(data["labels"]), version=version, meta=meta
    )


class CategoryCache:
    """The serving side: the current model, reloaded when ``current`` changes on disk."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self._stamp: tuple[float, int | None] | None = None
        self._model: CategoryModel | None = None
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple[float, int | None]:
        path = models_dir(self.state_dir) / CURRENT_FILE
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return (0.0, None)
        return (mtime, current_version(self.state_dir))

    def get(self) -> CategoryModel | None:
        stamp = self._current_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._model = load(self.state_dir, stamp[1]) if stamp[1] is not None else None
                self._stamp = stamp
                if self._model is not None:
                    logger.info("category model v%d in use", self._model.version)
            return self._model


def predict_categories(
    model: CategoryModel | None, texts: Sequence[str], *, threshold: float = DEFAULT_THRESHOLD
) -> list[str | None]:
    """The predicted category of each text, or None when no model or below ``threshold``."""
    if model is None or not texts:
        return [None] * len(texts)
    return [label if prob >= threshold else None for label, prob in model.predict(texts)]


def label_items(
    sources: Sequence[dict[str, Any]],
    texts: Sequence[str],
    model: CategoryModel | None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> int:
    """Give items without a category the model's one (``category_source: "model"``).

    Args:
        sources: item sources (changed in place); those with a category are left alone.
        texts: the text of each source (title and body start), same order.
        model: the current model, or None (then nothing changes).
        threshold: the lowest probability that becomes a category.

    Returns:
        How many items got a predicted category.
    """
    todo = [i for i, source in enumerate(sources) if not source.get("category")]
    if model is None or not todo:
        return 0
    predicted = predict_categories(model, [texts[i] for i in todo], threshold=threshold)
    labelled = 0
    for i, label in zip(todo, predicted, strict=True):
        if label is not None:
            sources[i]["category"] = label
            sources[i]["category_source"] = "model"
            labelled += 1
    return labelled
