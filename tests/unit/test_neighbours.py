"""Sparse EASE neighbours on toy interactions with known structure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from indexer.collab import Interaction
from indexer.neighbours import fit_neighbour_table, fit_sparse_ease, out_neighbours
from plugin.app.evaluation.strong import fit_ease
from plugin.errors import InputError
from plugin.neighbours import (
    ItemNumbers,
    NeighbourReader,
    neighbour_document,
    parse_row,
    vote_scores,
)
from tests.unit.test_strong_baselines import two_groups


def test_neighbours_stay_in_their_group_and_keep_is_a_bound() -> None:
    weights = fit_sparse_ease(two_groups(), lam=1.0, candidates=50, keep=2).toarray()
    assert np.all(weights[:6, 6:] == 0.0) and np.all(weights[6:, :6] == 0.0)
    assert np.all(np.diag(weights) == 0.0)
    assert np.count_nonzero(weights, axis=0).max() <= 2


def test_with_every_item_a_candidate_it_is_dense_ease() -> None:
    rng = np.random.default_rng(1)
    x = sp.csr_matrix((rng.random((50, 10)) < 0.4).astype(float))
    sparse = fit_sparse_ease(x, lam=2.0, candidates=50, keep=50)
    rows = np.arange(50)
    np.testing.assert_allclose((x @ sparse).toarray(), fit_ease(x, 2.0)(rows), atol=1e-9)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="lambda"):
        fit_sparse_ease(two_groups(), lam=0.0)


def _interactions(x: sp.csr_matrix, kind: str = "like") -> list[Interaction]:
    rows, cols = x.nonzero()
    return [
        Interaction(user=f"u{r}", item=f"i{c}", kind=kind) for r, c in zip(rows, cols, strict=True)
    ]


def test_a_table_keeps_each_item_in_its_group_strongest_first_within_keep_out() -> None:
    table = fit_neighbour_table(
        _interactions(two_groups()), kinds=["like"], lam=1.0, candidates=50, keep_out=3
    )
    first = {f"i{n}" for n in range(6)}
    assert set(table.out) == {f"i{n}" for n in range(12)}
    for source, row in table.out.items():
        assert 0 < len(row) <= 3
        assert all((target in first) == (source in first) for target, _ in row)
        weights = [weight for _, weight in row]
        assert weights == sorted(weights, reverse=True)
    assert table.users == 20 and table.pairs == sum(len(r) for r in table.out.values())


def test_only_the_voting_kinds_are_learnt_from() -> None:
    events = _interactions(two_groups(), kind="dislike")
    with pytest.raises(InputError, match="like"):
        fit_neighbour_table(events, kinds=["like"])


def test_out_neighbours_keep_the_largest_magnitudes() -> None:
    weights = sp.csr_matrix(np.array([[0.0, 0.5, -0.9, 0.1], [0.0, 0.0, 0.0, 0.0]]))
    (targets, values), (empty, _) = out_neighbours(weights, 2)
    assert targets.tolist() == [1, 2] and values.tolist() == [0.5, -0.9]
    assert empty.size == 0


def _packed(rows: dict[str, tuple[tuple[str, float], ...]]) -> tuple[dict, ItemNumbers]:
    numbers = ItemNumbers()
    return {item: numbers.pack(row) for item, row in rows.items()}, numbers


def test_votes_sum_over_rows_scaled_by_the_best_and_name_the_strongest_voter() -> None:
    rows, numbers = _packed(
        {"a": (("x", 0.5), ("y", 0.2), ("b", 0.9)), "b": (("x", 0.1), ("z", 0.4))}
    )
    signal = vote_scores({"a": 1.0, "b": 0.5}, rows, numbers)
    # x = 0.5 + 0.05, y = 0.2, z = 0.2; b is itself voted for, so it is not scored.
    assert signal.scores == pytest.approx({"x": 1.0, "y": 0.2 / 0.55, "z": 0.2 / 0.55})
    assert signal.because == {"x": "a", "y": "a", "z": "b"}
    assert list(vote_scores({"a": 1.0, "b": 0.5}, rows, numbers, limit=1).scores) == ["x"]


def test_a_dislike_pushes_its_neighbours_out() -> None:
    rows, numbers = _packed({"a": (("x", 0.5), ("y", 0.5)), "d": (("y", 1.0),)})
    signal = vote_scores({"a": 1.0, "d": -0.3}, rows, numbers)
    assert set(signal.scores) == {"x", "y"} and signal.scores["y"] < signal.scores["x"]
    assert vote_scores({"d": -1.0}, rows, numbers).scores == {}
    assert vote_scores({"unknown": 1.0}, rows, numbers).scores == {}


def test_the_stored_document_reads_back() -> None:
    doc = neighbour_document("a", [("x", 0.1234567891), ("y", -0.5)], version=7)
    assert doc["version"] == 7 and parse_row(doc) == (("x", 0.123457), ("y", -0.5))
    assert parse_row({"neighbours": {"ids": ["x"], "weights": []}}) == ()


class _Docs:
    """Answers ``mget`` from a dict of stored documents (the reader's only call)."""

    def __init__(self, docs: dict[str, dict]) -> None:
        self.docs = docs
        self.asked: list[list[str]] = []

    def mget(self, *, index: str, ids: list[str], source_includes: list[str]) -> dict:
        self.asked.append(list(ids))
        return {
            "docs": [
                {"_id": i, "found": True, "_source": self.docs[i]}
                if i in self.docs
                else {"_id": i, "found": False}
                for i in ids
            ]
        }


def test_the_reader_keeps_to_one_table_version_and_caches_it() -> None:
    docs = _Docs(
        {
            "a": neighbour_document("a", [("x", 0.5)], version=2),
            "b": neighbour_document("b", [("y", 0.5)], version=1),  # not yet rewritten
        }
    )
    reader = NeighbourReader(docs, "alias")  # type: ignore[arg-type]
    rows = reader.rows(["a", "b", "c"], version=2)
    assert set(rows) == {"a"}  # b is of another version, c has no row
    assert reader.rows(["a", "c"], version=2).keys() == {"a"} and len(docs.asked) == 1
    reader.rows(["b"], version=2)  # another version's row is not cached: asked again
    assert docs.asked[-1] == ["b"]
    docs.docs["a"] = neighbour_document("a", [("z", 0.5)], version=3)
    fresh = reader.rows(["a"], version=3)  # a new version starts an empty cache
    assert reader.numbers.ids[int(fresh["a"].targets[0])] == "z"
