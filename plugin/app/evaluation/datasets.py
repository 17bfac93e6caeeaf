"""Labelled texts from the shared datasets, read in place from a data directory.

Each loader returns ``(text, label)`` pairs in file order. Nothing is copied: the data
directory is a parameter (``shared/data`` beside the checkout in CI).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from plugin.errors import InputError

Labelled = list[tuple[str, str]]

THUCNEWS_DIR = "thucnews-titles-subset"
TOUTIAO_DIR = "toutiao-news-cat-subset"
MOVIELENS_DIR = "movielens-ml-latest-small"
HEADLINE_SETS = ("thucnews", "toutiao")
DATASETS = (*HEADLINE_SETS, "movielens", "movielens-tags")
# Classes with fewer rows cannot fill a fit/test split (Toutiao's `stock` has 8).
MIN_CLASS_ROWS = 50
TOUTIAO_SEPARATOR = "_!_"
NO_GENRE = "(no genres listed)"
MAX_TAGS_PER_MOVIE = 10


def load_dataset(name: str, data_dir: str | Path) -> Labelled:
    """Any dataset of ``DATASETS`` by name.

    Raises:
        InputError: an unknown name, or a missing folder or file.
    """
    if name in HEADLINE_SETS:
        return load_headlines(name, data_dir)
    if name == "movielens":
        return load_movielens_titles(data_dir)
    if name == "movielens-tags":
        return load_movielens_titles(data_dir, with_genres=False)
    raise InputError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


def load_headlines(name: str, data_dir: str | Path, *, min_rows: int = MIN_CLASS_ROWS) -> Labelled:
    """Chinese headlines with their class name: ``thucnews`` or ``toutiao``.

    THUCNews lines are ``title<TAB>label_id`` with class names in ``class.txt``; Toutiao
    lines are ``id_!_code_!_name_!_title_!_keywords``. Classes with fewer than
    ``min_rows`` rows are dropped.

    Raises:
        InputError: an unknown name, a missing folder or file, or a malformed line.
    """
    if name == "thucnews":
        folder = _folder(data_dir, THUCNEWS_DIR)
        classes = _read(folder / "class.txt").split()
        rows = [_thucnews_row(line, classes, n) for n, line in _lines(folder / "dev.txt")]
    elif name == "toutiao":
        folder = _folder(data_dir, TOUTIAO_DIR)
        path = folder / "toutiao_cat_data.dev.txt"
        rows = [_toutiao_row(line, n) for n, line in _lines(path)]
    else:
        raise InputError(f"unknown headline set {name!r}; expected one of {HEADLINE_SETS}")
    return drop_small_classes(rows, min_rows)


def load_movielens_titles(
    data_dir: str | Path, *, min_rows: int = MIN_CLASS_ROWS, with_genres: bool = True
) -> Labelled:
    """MovieLens movies as ``"Title (year). Genre, Genre. Tags: a, b"`` with the first genre.

    Without ``with_genres`` only tagged movies are kept, as ``"Title (year). Tags: a, b"``:
    the English check of what an encoder understands, since no genre word is in the text.

    Tags are the distinct user tags of the movie, most used first (at most
    ``MAX_TAGS_PER_MOVIE``). Movies without a genre and classes with fewer than
    ``min_rows`` movies are dropped. The label's genre is part of the text, so this
    set measures how well an encoder matches English genre words, not plot understanding.

    Raises:
        InputError: a missing folder or file.
    """
    folder = _folder(data_dir, MOVIELENS_DIR)
    tags = _movie_tags(folder / "tags.csv")
    rows: Labelled = []
    for movie in _csv_rows(folder / "movies.csv"):
        genres = [g for g in movie["genres"].split("|") if g and g != NO_GENRE]
        if not genres:
            continue
        movie_tags = tags.get(movie["movieId"])
        if not with_genres and not movie_tags:
            continue
        text = f"{movie['title'].strip()}."
        if with_genres:
            text += f" {', '.join(genres)}."
        if movie_tags:
            text += f" Tags: {', '.join(movie_tags)}"
        rows.append((text, genres[0]))
    return drop_small_classes(rows, min_rows)


def drop_small_classes(rows: Sequence[tuple[str, str]], minimum: int = MIN_CLASS_ROWS) -> Labelled:
    """Keep rows whose label has at least ``minimum`` rows; order is kept."""
    counts = Counter(label for _, label in rows)
    return [(text, label) for text, label in rows if counts[label] >= minimum]


def _thucnews_row(line: str, classes: Sequence[str], number: int) -> tuple[str, str]:
    title, sep, label = line.rpartition("\t")
    if not sep or not title.strip() or not label.strip().isdigit():
        raise InputError(f"thucnews dev.txt line {number}: expected 'title<TAB>label_id'")
    index = int(label)
    if index >= len(classes):
        raise InputError(f"thucnews dev.txt line {number}: label {index} not in class.txt")
    return title.strip(), classes[index]


def _toutiao_row(line: str, number: int) -> tuple[str, str]:
    fields = line.split(TOUTIAO_SEPARATOR)
    if len(fields) != 5 or not fields[3].strip() or not fields[2].strip():
        raise InputError(f"toutiao line {number}: expected 5 fields separated by '_!_'")
    return fields[3].strip(), fields[2].strip()


def _movie_tags(path: Path) -> dict[str, list[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _csv_rows(path):
        tag = " ".join(row["tag"].split())
        if tag:
            counts[row["movieId"]][tag.lower()] += 1
    return {
        movie: [tag for tag, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))][
            :MAX_TAGS_PER_MOVIE
        ]
        for movie, c in counts.items()
    }


def _folder(data_dir: str | Path, name: str) -> Path:
    folder = Path(data_dir).expanduser() / name
    if not folder.is_dir():
        raise InputError(f"dataset folder not found: {folder} (pass the shared data directory)")
    return folder


def _read(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"dataset file not found: {path}")
    return path.read_text(encoding="utf-8")


def _lines(path: Path) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(_read(path).splitlines(), start=1) if line.strip()]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"dataset file not found: {path}")
    # newline="" lets the csv module handle the CRLF line endings of MovieLens.
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
