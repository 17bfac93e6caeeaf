"""Per-method metrics from every evaluated user's lists (pure).

``recall@10``, ``recall@20``, ``ndcg@10`` and ``mrr`` (within the 20 listed) are means over
users; ``coverage`` is the share of the catalogue in at least one user's top 10;
``diversity`` is the mean over users of ``1 − mean pairwise cosine`` of the top 10's item
vectors (embedding-based; lists with fewer than two items are left out of that mean).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from plugin.app.evaluation.ranking import (
    catalogue_coverage,
    intra_list_diversity,
    mean,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

METRIC_NAMES = ("recall@10", "recall@20", "ndcg@10", "mrr", "coverage", "diversity")
TOP = 10
LIST_SIZE = 20


@dataclass(frozen=True)
class UserLists:
    """One evaluated user: their test items and each method's list (best first)."""

    user: str
    test: frozenset[str]
    lists: Mapping[str, Sequence[str]]
    cold_start: bool = False


def method_metrics(
    users: Sequence[UserLists],
    method: str,
    *,
    catalogue_size: int,
    vectors_of: Callable[[Sequence[str]], np.ndarray],
) -> dict[str, float]:
    """The six metrics of ``method`` over ``users`` (see the module docstring)."""
    lists = [u.lists.get(method, ()) for u in users]
    return {
        "recall@10": mean(recall_at_k(r, u.test, TOP) for r, u in zip(lists, users, strict=True)),
        "recall@20": mean(
            recall_at_k(r, u.test, LIST_SIZE) for r, u in zip(lists, users, strict=True)
        ),
        "ndcg@10": mean(ndcg_at_k(r, u.test, TOP) for r, u in zip(lists, users, strict=True)),
        "mrr": mean(
            reciprocal_rank(r, u.test, LIST_SIZE) for r, u in zip(lists, users, strict=True)
        ),
        "coverage": catalogue_coverage(lists, catalogue_size, TOP) if users else 0.0,
        "diversity": mean(_diversity(r[:TOP], vectors_of) for r in lists),
    }


def _diversity(
    ranked: Sequence[str], vectors_of: Callable[[Sequence[str]], np.ndarray]
) -> float | None:
    return intra_list_diversity(vectors_of(ranked)) if len(ranked) >= 2 else None


def all_metrics(
    users: Sequence[UserLists],
    methods: Sequence[str],
    *,
    catalogue_size: int,
    vectors_of: Callable[[Sequence[str]], np.ndarray],
) -> dict[str, dict[str, float]]:
    """``{method: metrics}``, values rounded to 4 decimals."""
    return {
        method: {
            name: round(value, 4)
            for name, value in method_metrics(
                users, method, catalogue_size=catalogue_size, vectors_of=vectors_of
            ).items()
        }
        for method in methods
    }


def list_sizes(users: Sequence[UserLists], method: str) -> float:
    """Mean length of ``method``'s lists (short lists mean the method ran out of evidence)."""
    return mean(float(len(u.lists.get(method, ()))) for u in users)


def subset(users: Sequence[UserLists], keep: Collection[str]) -> list[UserLists]:
    return [u for u in users if u.user in keep]
