"""The evaluation's dataset loaders on tiny folders written here in the shared formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.app.evaluation.datasets import load_dataset, load_headlines, load_movielens_titles
from plugin.errors import InputError


def write(path: Path, text: str, *, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline=newline) as handle:
        handle.write(text)


def test_load_headlines_thucnews_maps_label_ids_to_class_names(tmp_path):
    folder = tmp_path / "thucnews-titles-subset"
    write(folder / "class.txt", "finance\nsports")  # no newline after the last, as shipped
    write(folder / "dev.txt", "股市大涨三百点\t0\n国足晋级世界杯\t1\n\n央行降息\t0\n")
    rows = load_headlines("thucnews", tmp_path, min_rows=1)
    assert rows == [
        ("股市大涨三百点", "finance"),
        ("国足晋级世界杯", "sports"),
        ("央行降息", "finance"),
    ]


def test_load_headlines_thucnews_bad_label_raises(tmp_path):
    folder = tmp_path / "thucnews-titles-subset"
    write(folder / "class.txt", "finance")
    write(folder / "dev.txt", "股市大涨\t3\n")
    with pytest.raises(InputError, match="line 1"):
        load_headlines("thucnews", tmp_path, min_rows=1)


def test_load_headlines_toutiao_splits_fields_and_drops_small_classes(tmp_path):
    lines = [f"{i}_!_109_!_news_tech_!_芯片新品发布第{i}代_!_芯片,发布" for i in range(50)]
    lines += [f"{100 + i}_!_114_!_stock_!_个股异动{i}_!_" for i in range(8)]
    write(tmp_path / "toutiao-news-cat-subset" / "toutiao_cat_data.dev.txt", "\n".join(lines))
    rows = load_headlines("toutiao", tmp_path)
    assert len(rows) == 50
    assert rows[0] == ("芯片新品发布第0代", "news_tech")
    assert {label for _, label in rows} == {"news_tech"}


def test_load_headlines_toutiao_wrong_field_count_raises(tmp_path):
    write(tmp_path / "toutiao-news-cat-subset" / "toutiao_cat_data.dev.txt", "1_!_109_!_x\n")
    with pytest.raises(InputError, match="5 fields"):
        load_headlines("toutiao", tmp_path)


def test_load_movielens_titles_joins_genres_and_tags(tmp_path):
    folder = tmp_path / "movielens-ml-latest-small"
    write(
        folder / "movies.csv",
        "movieId,title,genres\r\n"
        '1,"American President, The (1995)",Comedy|Drama|Romance\r\n'
        "2,Heat (1995),Action|Crime|Thriller\r\n"
        "3,Nothing (2000),(no genres listed)\r\n",
        newline="",
    )
    write(
        folder / "tags.csv",
        "userId,movieId,tag,timestamp\r\n5,2,heist,1\r\n7,2,Al Pacino,2\r\n9,2,heist,3\r\n",
        newline="",
    )
    rows = load_movielens_titles(tmp_path, min_rows=1)
    assert rows == [
        ("American President, The (1995). Comedy, Drama, Romance.", "Comedy"),
        ("Heat (1995). Action, Crime, Thriller. Tags: heist, al pacino", "Action"),
    ]


def test_load_dataset_missing_folder_names_the_path(tmp_path):
    with pytest.raises(InputError, match=r"dataset folder not found: .*thucnews-titles-subset"):
        load_dataset("thucnews", tmp_path)


def test_load_dataset_missing_file_names_the_file(tmp_path):
    (tmp_path / "movielens-ml-latest-small").mkdir()
    with pytest.raises(InputError, match=r"tags\.csv"):
        load_dataset("movielens", tmp_path)


def test_load_dataset_unknown_name_raises(tmp_path):
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("imdb", tmp_path)
