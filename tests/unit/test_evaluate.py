"""`interest eval` input checks: the data folder may be the dataset's folder or its parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.app.evaluation.evaluate import check_inputs
from plugin.app.evaluation.movielens import FILES, FOLDER_NAME
from plugin.errors import InputError


def test_check_inputs_movielens_accepts_folder_or_parent(tmp_path: Path) -> None:
    folder = tmp_path / FOLDER_NAME
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text("x\n")
    assert check_inputs("movielens", tmp_path) == folder
    assert check_inputs("movielens", folder) == folder


def test_check_inputs_missing_files_raise(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no MovieLens files"):
        check_inputs("movielens", tmp_path)
    with pytest.raises(InputError, match="thucnews-titles-subset"):
        check_inputs("thucnews", tmp_path)


def test_check_inputs_unknown_dataset_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown dataset"):
        check_inputs("imdb", tmp_path)


def test_replay_feedback_joins_into_labelled_impressions_for_weights_fit() -> None:
    from plugin.app.evaluation.eval_movielens import feedback_docs
    from plugin.learning import impressions_from_log
    from plugin.types import SearchHit

    hits = [
        SearchHit(id=f"ml-{n}", title="", score=1.0 / n, components={"popularity": 0.05 / n},
                  reason="")
        for n in (1, 2, 3)
    ]  # fmt: skip
    docs = feedback_docs("7", hits, frozenset({"ml-2"}), weights_version=4)
    assert [d["kind"] for d in docs] == ["impression", "impression", "click", "impression"]
    assert [d["rank"] for d in docs if d["kind"] == "impression"] == [1, 2, 3]
    impressions = impressions_from_log(
        docs, weights_by_version={4: {"popularity": 0.05}}, current={}
    )
    assert [imp.clicked for imp in impressions] == [False, True, False]
    assert impressions[1].raw["popularity"] == pytest.approx(0.5)
