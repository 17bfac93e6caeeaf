"""The strong baselines of `interest eval`: their maths on toy matrices, and fair tuning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from plugin.app.evaluation import strong
from plugin.app.evaluation.movielens import Interaction, build_split, load_movielens


def toy_matrix(seed: int = 3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((40, 12)) < 0.35).astype(np.float64))


def two_groups() -> sp.csr_matrix:
    """Users 0-9 like only items 0-5, users 10-19 only items 6-11 (each a random subset)."""
    rng = np.random.default_rng(5)
    dense = np.zeros((20, 12))
    for user in range(20):
        items = np.arange(6) if user < 10 else np.arange(6, 12)
        dense[user, rng.choice(items, size=4, replace=False)] = 1.0
    return sp.csr_matrix(dense)


def test_ease_closed_form_equals_one_ridge_regression_per_item() -> None:
    x = toy_matrix()
    lam = 3.0
    scores = strong.fit_ease(x, lam)(np.arange(x.shape[0]))
    dense = x.toarray()
    weights = np.zeros((12, 12))
    for j in range(12):  # item j regressed on the other items, with the diagonal fixed at 0
        others = [i for i in range(12) if i != j]
        inputs = dense[:, others]
        solved = np.linalg.solve(inputs.T @ inputs + lam * np.eye(11), inputs.T @ dense[:, j])
        weights[others, j] = solved
    np.testing.assert_allclose(scores, dense @ weights, atol=1e-9)


def test_ease_leaves_items_without_positives_at_zero_exactly() -> None:
    x = toy_matrix().tolil()
    x[:, 4] = 0.0
    x = x.tocsr()
    x.eliminate_zeros()
    scores = strong.fit_ease(x, 2.0)(np.arange(x.shape[0]))
    assert np.all(scores[:, 4] == 0.0)
    assert np.count_nonzero(scores[:, 5]) > 0


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("ease", {"lambda": 1.0}),
        ("rp3beta", {"alpha": 0.5, "beta": 0.3, "k": 3}),
        ("itemknn", {"k": 3}),
    ],
)
def test_neighbour_methods_stay_inside_a_users_group(method: str, params: dict) -> None:
    x = two_groups()
    scores = strong.fit(method, x, params)(np.arange(20))
    assert np.all(scores[:10, 6:] == 0.0) and np.all(scores[10:, :6] == 0.0)
    assert np.all(scores[:10, :6].sum(axis=1) > 0)


def test_ials_ranks_a_users_own_group_first() -> None:
    x = two_groups()
    scores = strong.fit("ials", x, {"factors": 2, "lambda": 0.1, "alpha": 10.0})(np.arange(20))
    assert np.all(scores[:10, :6].min(axis=1) > scores[:10, 6:].max(axis=1))
    assert np.all(scores[10:, 6:].min(axis=1) > scores[10:, :6].max(axis=1))


def test_rp3beta_keeps_at_most_k_neighbours_per_item() -> None:
    kept = strong.keep_top(sp.csr_matrix(np.arange(1.0, 26.0).reshape(5, 5)), 2)
    assert np.diff(kept.indptr).tolist() == [2] * 5
    assert kept.toarray()[0].tolist() == [0.0, 0.0, 0.0, 4.0, 5.0]


def test_puresvd_at_full_rank_reproduces_the_matrix() -> None:
    x = toy_matrix()
    full = min(x.shape) - 1
    path = strong.puresvd_path(x, [2, full])
    low, high = path[2](np.arange(40)), path[full](np.arange(40))
    assert np.linalg.norm(high - x.toarray()) < np.linalg.norm(low - x.toarray())


def history(user: str, items: list[str], start: int = 0) -> list[Interaction]:
    return [Interaction(user, item, start + t, "like", rating=5.0) for t, item in enumerate(items)]


def toy_split():
    events = []
    for u in range(12):
        group = [f"a{i}" for i in range(8)] if u % 2 else [f"b{i}" for i in range(8)]
        order = group[u % 8 :] + group[: u % 8]
        events += history(str(u), order, start=100 * u)
    return build_split(events)


def test_validation_targets_come_from_training_and_never_touch_the_test_part() -> None:
    split = toy_split()
    valid = strong.validation_split(split)
    assert valid.users
    for user, part in valid.users.items():
        outer = split.users[user]
        assert part.test <= outer.train_items  # targets are training positives
        assert not (part.test | part.train_items) & outer.test
        assert part.cutoff <= outer.cutoff


def test_tuning_is_stored_by_fingerprint_and_reused(tmp_path: Path, monkeypatch) -> None:
    split = toy_split()
    items = sorted(
        {e.item for u in split.users.values() for e in u.train}
        | {i for u in split.users.values() for i in u.test}
    )
    position = {item: i for i, item in enumerate(items)}
    small = {
        "ease": [{"lambda": 0.5}, {"lambda": 5.0}],
        "rp3beta": [{"alpha": 1.0, "beta": 0.0, "k": 4}],
        "itemknn": [{"k": 2}, {"k": 4}],
        "puresvd": [{"k": 2}, {"k": 4}],
        "ials": [{"factors": 2, "lambda": 1.0, "alpha": 5.0}],
    }
    monkeypatch.setattr(strong, "GRIDS", small)
    store = strong.TunedStore(tmp_path / "eval")
    tuned = strong.tuned_for(store, "abc123", split, position, len(items))
    assert set(tuned) == set(small)
    for method, result in tuned.items():
        assert result["params"] in small[method]
        assert len(result["grid"]) == len(small[method])
        assert result["validation_ndcg@10"] == max(p["ndcg@10"] for p in result["grid"])
    assert store.path("abc123").is_file()

    def no_tuning(*args, **kwargs):
        raise AssertionError("a stored tuning must be reused")

    monkeypatch.setattr(strong, "tune", no_tuning)
    assert strong.tuned_for(store, "abc123", split, position, len(items)) == tuned
    with pytest.raises(AssertionError, match="reused"):
        strong.tuned_for(store, "abc123", split, position, len(items), retune=True)


def test_dataset_fingerprint_follows_the_bytes(tmp_path: Path) -> None:
    first = tmp_path / "ratings.csv"
    first.write_text("userId,movieId,rating,timestamp\n1,1,4,10\n")
    before = strong.dataset_fingerprint([first])
    first.write_text("userId,movieId,rating,timestamp\n1,1,5,10\n")
    assert strong.dataset_fingerprint([first]) != before


def write_movielens(folder: Path, *, tags: bool, ratings_header: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n"
    )
    header = ratings_header or "userId,movieId,rating,timestamp"
    (folder / "ratings.csv").write_text(f"{header}\n1,1,4.5,100\n1,2,2.0,200\n")
    if tags:
        (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,pixar,150\n")


def test_a_movielens_folder_without_tags_is_valid(tmp_path: Path) -> None:
    write_movielens(tmp_path, tags=False)
    data = load_movielens(tmp_path)
    assert {e.kind for e in data.events} == {"like", "dislike"}
    write_movielens(tmp_path / "with", tags=True)
    assert "post" in {e.kind for e in load_movielens(tmp_path / "with").events}


def test_missing_columns_and_bad_numbers_are_named(tmp_path: Path) -> None:
    from plugin.errors import InputError

    write_movielens(tmp_path, tags=False, ratings_header="userId,movieId,stars,timestamp")
    with pytest.raises(InputError, match=r"lacks the column\(s\) rating"):
        load_movielens(tmp_path)
    write_movielens(tmp_path, tags=False)
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,good,100\n")
    with pytest.raises(InputError, match="line 2: 'good' is not a number"):
        load_movielens(tmp_path)
