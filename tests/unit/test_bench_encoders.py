"""The evaluation's metrics and encoder comparison with fake encoders: accuracies by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from plugin.app.evaluation.encoders import (
    DEFAULT_SIDES,
    FusedEncoder,
    compare,
    compare_rows,
    interchangeability,
    parse_encoder_names,
    split_rows,
)
from plugin.app.evaluation.metrics import centroid_accuracy, knn_accuracy, knn_vote
from plugin.errors import InputError


def at(*degrees: float) -> np.ndarray:
    """Unit vectors at these angles: the cosine of two of them is cos(difference)."""
    radians = np.radians(degrees)
    return np.column_stack([np.cos(radians), np.sin(radians)])


# A at 0, 10, 80 degrees; B at 60, 70, 90. Centroid directions: A 28.2, B 73.3 degrees.
FIT = at(0, 10, 80, 60, 70, 90)
FIT_LABELS = ["A", "A", "A", "B", "B", "B"]
# All three are A. 5: both right. 65: both wrong (B is nearer in every sense).
# 45: centroid right (A is 16.8 degrees away, B 28.3); its 3 nearest are 60 B, 70 B, then
# 80 A / 10 A at 35 degrees: B wins 2 to 1, so kNN is wrong.
TEST = at(5, 65, 45)
TEST_LABELS = ["A", "A", "A"]


def test_centroid_accuracy_hand_checked():
    assert centroid_accuracy(FIT, FIT_LABELS, TEST, TEST_LABELS) == pytest.approx(2 / 3)


def test_knn_accuracy_hand_checked():
    assert knn_accuracy(FIT, FIT_LABELS, TEST, TEST_LABELS, k=3) == pytest.approx(1 / 3)


def test_accuracies_same_on_sparse_rows():
    fit, test = scipy.sparse.csr_matrix(FIT), scipy.sparse.csr_matrix(TEST)
    assert centroid_accuracy(fit, FIT_LABELS, test, TEST_LABELS) == pytest.approx(2 / 3)
    assert knn_accuracy(fit, FIT_LABELS, test, TEST_LABELS, k=3) == pytest.approx(1 / 3)


def test_knn_accuracy_k_above_fit_size_uses_all_rows():
    # All six vote, 3 to 3, so the nearest neighbour's class wins: A for 5 degrees,
    # B (60 degrees) for 65 and for 45.
    assert knn_accuracy(FIT, FIT_LABELS, TEST, TEST_LABELS, k=10) == pytest.approx(1 / 3)


def test_knn_vote_tie_goes_to_the_nearest():
    assert knn_vote(["B", "A", "A", "B"]) == "B"
    assert knn_vote(["B", "A", "A"]) == "A"


def test_accuracy_label_count_mismatch_raises():
    with pytest.raises(InputError, match="one label"):
        centroid_accuracy(FIT, FIT_LABELS[:-1], TEST, TEST_LABELS)


class AngleEncoder:
    """Texts are "label:degrees"; records which kind each text was encoded as."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        for text in texts:
            self.kinds[text] = kind
        return at(*(float(text.split(":")[1]) for text in texts)).reshape(len(texts), 2)


class FittedEncoder(AngleEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.fitted: list[str] = []

    def fit(self, texts: Sequence[str]) -> FittedEncoder:
        self.fitted = list(texts)
        return self


ROWS = [(f"A:{d}", "A") for d in (0, 5, 10, 15, 20, 25)] + [
    (f"B:{d}", "B") for d in (70, 75, 80, 85, 90, 60)
]


def test_split_rows_is_seeded_and_sized():
    fit, test = split_rows(ROWS, n=10, fit=6, seed=13)
    assert (len(fit), len(test)) == (6, 4)
    assert (fit, test) == split_rows(ROWS, n=10, fit=6, seed=13)
    assert not set(fit) & set(test)
    assert split_rows(ROWS, n=10, fit=6, seed=14) != (fit, test)


def test_split_rows_fit_too_large_raises():
    with pytest.raises(InputError, match="fit must be"):
        split_rows(ROWS, n=100, fit=12, seed=1)


def test_compare_rows_separable_topics_score_one_and_report_the_split():
    plain, fitted = AngleEncoder(), FittedEncoder()
    result = compare_rows(ROWS, {"plain": plain, "fitted": fitted}, n=12, fit=8, seed=3)
    assert result["split"] == {
        "seed": 3,
        "shuffle": "numpy.random.default_rng(seed).permutation",
        "rows": 12,
        "n": 12,
        "fit": 8,
        "test": 4,
        "classes": 2,
    }
    for name in ("plain", "fitted"):
        scores = result["encoders"][name]
        assert scores["centroid_acc"] == 1.0 and scores["knn10_acc"] == 1.0
        assert scores["texts_per_s"] > 0
    fit_rows, test_rows = split_rows(ROWS, n=12, fit=8, seed=3)
    assert fitted.fitted == [text for text, _ in fit_rows]  # fitted on the fit part only
    assert {fitted.kinds[t] for t, _ in fit_rows} == {DEFAULT_SIDES.fit}
    assert {fitted.kinds[t] for t, _ in test_rows} == {DEFAULT_SIDES.test}
    assert result["prefixes"]["test"] == "query" and result["prefixes"]["fit"] == "passage"


def test_compare_rows_matches_the_metrics_on_the_same_split():
    rows = [(f"A:{d}", "A") for d in (0, 10, 80, 5, 65, 45)] + [
        (f"B:{d}", "B") for d in (60, 70, 90, 62, 88)
    ]
    result = compare_rows(rows, {"fake": AngleEncoder()}, n=11, fit=6, seed=5)
    fit_rows, test_rows = split_rows(rows, n=11, fit=6, seed=5)
    fit_x = AngleEncoder().encode([t for t, _ in fit_rows])
    test_x = AngleEncoder().encode([t for t, _ in test_rows])
    fit_y, test_y = [y for _, y in fit_rows], [y for _, y in test_rows]
    expected_centroid = centroid_accuracy(fit_x, fit_y, test_x, test_y)
    assert result["encoders"]["fake"]["centroid_acc"] == round(expected_centroid, 4)
    expected_knn = knn_accuracy(fit_x, fit_y, test_x, test_y, k=10)
    assert result["encoders"]["fake"]["knn10_acc"] == round(expected_knn, 4)


def test_compare_reads_the_folder_and_builds_encoders_by_name(tmp_path: Path):
    folder = tmp_path / "thucnews-titles-subset"
    folder.mkdir()
    (folder / "class.txt").write_text("a\nb", encoding="utf-8")
    lines = [f"A:{d % 30}\t0" for d in range(60)] + [f"B:{60 + d % 30}\t1" for d in range(60)]
    (folder / "dev.txt").write_text("\n".join(lines), encoding="utf-8")
    built: list[tuple[str, int]] = []

    def make(name: str, *, threads: int = 0) -> AngleEncoder:
        built.append((name, threads))
        return AngleEncoder()

    result = compare("thucnews", tmp_path, ["x"], n=100, fit=70, seed=1, threads=2, make=make)
    assert built == [("x", 2)]
    assert result["dataset"] == "thucnews"
    assert result["split"]["n"] == 100 and result["split"]["test"] == 30
    assert set(result["encoders"]["x"]) == {"centroid_acc", "knn10_acc", "texts_per_s"}


def test_parse_encoder_names_defaults_and_rejects_unknown():
    assert parse_encoder_names(None) == [
        "multilingual-e5-small",
        "bge-small-zh-v1.5-q",
        "bge-small-zh-v1.5",
        "use-multilingual-v3",
        "all-MiniLM-L6-v2",
        "tfidf-jieba",
    ]
    assert parse_encoder_names("tfidf-jieba, tfidf-jieba") == ["tfidf-jieba"]
    assert parse_encoder_names("use-multilingual-v3+tfidf-jieba") == [
        "use-multilingual-v3+tfidf-jieba"
    ]
    for unknown in ("bert", "bert+tfidf-jieba", "tfidf-jieba+tfidf-jieba"):
        with pytest.raises(InputError, match=r"bert|tfidf-jieba"):
            parse_encoder_names(unknown)


def test_fused_rows_give_the_weighted_sum_of_both_cosines():
    dense = FixedEncoder([[1.0, 0.0], [0.6, 0.8]])
    fused = FusedEncoder(dense, weight=0.7).fit(["篮球 比赛", "篮球 新闻"])
    rows = fused.encode(["篮球 比赛", "篮球 新闻"]).toarray()
    sparse = fused.tfidf.encode(["篮球 比赛", "篮球 新闻"]).toarray()
    expected = 0.7 * 0.6 + 0.3 * float(sparse[0] @ sparse[1])
    assert float(rows[0] @ rows[1]) == pytest.approx(expected)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)


class FixedEncoder:
    def __init__(self, rows: list[list[float]]):
        self.rows = np.asarray(rows, dtype=np.float32)

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        return self.rows[: len(texts)]


def test_interchangeability_hand_checked():
    a = FixedEncoder([[1, 0], [0, 1]])
    # cosines 1.0 and 0.8: mean 0.9, below both tolerances
    result = interchangeability(a, FixedEncoder([[2, 0], [0.6, 0.8]]), ["x", "y"])
    assert result == {"mean_cos": 0.9, "min_cos": 0.8, "ok": False}
    # cosines 1.0 and 0.98/sqrt(1.0004) = 0.9798: min >= 0.95, mean >= 0.98
    close = interchangeability(a, FixedEncoder([[1, 0], [0.2, 0.98]]), ["x", "y"])
    assert close["ok"] is True
    assert math.isclose(close["min_cos"], 0.9798, abs_tol=1e-4)
    assert math.isclose(close["mean_cos"], 0.9899, abs_tol=1e-4)


def test_interchangeability_one_bad_text_fails_on_min():
    base = [[1.0, 0.0, 0.0]] * 9 + [[0.0, 1.0, 0.0]]
    other = [[1.0, 0.0, 0.0]] * 9 + [[0.0, 0.9, 0.436]]  # cos 0.9 for the last text
    result = interchangeability(FixedEncoder(base), FixedEncoder(other), ["t"] * 10)
    assert result["mean_cos"] >= 0.98 and result["min_cos"] < 0.95 and not result["ok"]


def test_interchangeability_shape_mismatch_and_empty_raise():
    with pytest.raises(InputError, match="shape"):
        interchangeability(FixedEncoder([[1, 0]]), FixedEncoder([[1, 0, 0]]), ["x"])
    with pytest.raises(InputError, match="at least one"):
        interchangeability(FixedEncoder([[1, 0]]), FixedEncoder([[1, 0]]), [])


def test_drift_simulation_short_term_follows_long_term_stays():
    from bench.drift import build_corpus, params_for, simulate

    pool = np.vstack([at(0)] * 10 + [at(90)] * 10)
    labels = ["old"] * 10 + ["new"] * 10
    old_posts = [(at(0)[0], {"股票": 1.0})] * 50
    new_posts = [(at(90)[0], {"足球": 1.0})] * 5
    result = simulate(
        pool, labels, old_posts, new_posts, old="old", new="new", params=params_for("x")
    )
    # Short-term (3-event half-life): old mass 4.85 * 2^(-k/3) against new 1, 1.79, 2.42,
    # 3.04, 3.53 after k new posts: the direction passes 45 degrees at the third post.
    assert result["short_top10_old_before"] == 10
    by_post = result["short_top10_new_by_post"]
    assert by_post[:2] == [0, 0] and by_post[3:] == [10, 10]
    assert result["short_top10_new"] == 10
    assert result["long_top10_new"] == 0  # 200-event half-life: still the old topic
    assert result["best_cluster_top10_new"] == 10  # a new interest cluster formed

    corpus = build_corpus([(f"a{i}", "a") for i in range(5)] + [("b0", "b")], per_class=2, seed=1)
    assert corpus.pool_labels == ["a", "a", "b"]
    assert len(corpus.posts["a"]) == 3 and corpus.posts["b"] == []


def test_cli_encoders_compare_missing_folder_is_one_clear_error(tmp_path, capsys):
    from plugin.app.cli import main

    code = main(["encoders", "compare", "--dataset", "toutiao", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: dataset folder not found" in err and "toutiao-news-cat-subset" in err


def test_cli_encoders_compare_prints_the_contract_json(tmp_path, capsys, monkeypatch):
    import json

    from plugin.app.cli import main
    from plugin.app.evaluation import encoders as bench_encoders

    folder = tmp_path / "thucnews-titles-subset"
    folder.mkdir()
    (folder / "class.txt").write_text("a\nb", encoding="utf-8")
    lines = [f"A:{d % 30}\t0" for d in range(60)] + [f"B:{60 + d % 30}\t1" for d in range(60)]
    (folder / "dev.txt").write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setattr(
        bench_encoders, "make_encoder", lambda name, threads=0, settings=None: AngleEncoder()
    )
    args = ["encoders", "compare", "--dataset", "thucnews", "--data-dir", str(tmp_path)]
    code = main(
        [
            *args,
            "--encoders",
            "tfidf-jieba",
            "--n",
            "100",
            "--fit",
            "60",
            "--json",
            "--same-process",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["dataset"] == "thucnews"
    assert payload["split"]["seed"] == 13 and payload["split"]["test"] == 40
    assert payload["encoders"]["tfidf-jieba"] == {
        "centroid_acc": 1.0,
        "knn10_acc": 1.0,
        "texts_per_s": payload["encoders"]["tfidf-jieba"]["texts_per_s"],
    }
