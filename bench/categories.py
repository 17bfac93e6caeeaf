"""Category model quality on Chinese headlines (THUCNews, Toutiao) against a majority baseline.

    python -m bench.categories --data-dir ../shared/data [--seed 7] [--test-size 0.2]

Prints one JSON document: per dataset the split, accuracy and macro-F1 of the TF-IDF +
logistic regression model (``indexer.categories``) and of the majority class.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from indexer.categories import train
from plugin.app.evaluation.datasets import HEADLINE_SETS, load_headlines

DEFAULT_SEED = 7
DEFAULT_TEST_SIZE = 0.2


def evaluate(
    rows: Sequence[tuple[str, str]],
    *,
    seed: int = DEFAULT_SEED,
    test_size: float = DEFAULT_TEST_SIZE,
) -> dict[str, Any]:
    """Stratified split, fit on one part, score the rest; model and majority baseline."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    texts = [text for text, _ in rows]
    labels = [label for _, label in rows]
    fit_x, test_x, fit_y, test_y = train_test_split(
        texts, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    started = time.perf_counter()
    model = train(fit_x, fit_y)
    fit_s = time.perf_counter() - started
    predicted = [label for label, _ in model.predict(test_x)]
    majority = Counter(fit_y).most_common(1)[0][0]
    baseline = [majority] * len(test_y)
    return {
        "split": {
            "seed": seed,
            "test_size": test_size,
            "stratified": True,
            "fit": len(fit_x),
            "test": len(test_x),
            "classes": len(set(labels)),
        },
        "model": {
            "accuracy": round(float(accuracy_score(test_y, predicted)), 4),
            "macro_f1": round(float(f1_score(test_y, predicted, average="macro")), 4),
            "fit_s": round(fit_s, 2),
        },
        "majority": {
            "label": majority,
            "accuracy": round(float(accuracy_score(test_y, baseline)), 4),
            "macro_f1": round(float(f1_score(test_y, baseline, average="macro")), 4),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.categories", description=__doc__)
    parser.add_argument("--data-dir", required=True, help="the shared data folder (read in place)")
    parser.add_argument("--datasets", default=",".join(HEADLINE_SETS))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--test-size", type=float, default=DEFAULT_TEST_SIZE)
    args = parser.parse_args(argv)
    results = {}
    for name in [n.strip() for n in args.datasets.split(",") if n.strip()]:
        rows = load_headlines(name, args.data_dir)
        results[name] = evaluate(rows, seed=args.seed, test_size=args.test_size)
        print(f"{name}: {json.dumps(results[name]['model'])}", file=sys.stderr)
    print(json.dumps({"model": "tfidf-jieba+logreg", "datasets": results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
