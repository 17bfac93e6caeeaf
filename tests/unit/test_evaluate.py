"""`interest eval` input checks: the data folder may be the dataset's folder or its parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.evaluate import check_inputs
from bench.movielens import FILES, FOLDER_NAME
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
