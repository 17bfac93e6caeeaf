"""MovieLens as items and timed events, and the per-user time split (pure apart from reading).

Items are movies with text = title + genres. User tags are *not* put into the item text:
an item document is shared by every user, so tags written after some user's cutoff would
leak that user's future into the catalogue. Tags are events of their own (a post with the
tag text, on the movie).

Events: ratings ≥ 4 are ``like``, ≤ 2 ``dislike``, in between ``click``; tags are ``post``.

The split (``build_split``): each user's positive ratings (≥ 4) sorted by time; the last
``test_share`` of them (at least 1) are the test set, and the user's cutoff is the time of
the first test positive. Positives rated in the same second as the cutoff join the test set
too (they cannot be told apart from it in time). The user's training events are exactly
their events strictly before the cutoff; test items the user already tagged or rated before
the cutoff are dropped from the test set (they are excluded from every list, so no method
could find them). Users without a positive rating are not evaluated and replay nothing.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from plugin.errors import InputError

FOLDER_NAME = "movielens-ml-latest-small"
FILES = ("ratings.csv", "movies.csv")  # required; tags.csv is optional
TAGS_FILE = "tags.csv"
COLUMNS = {
    "movies.csv": ("movieId", "title", "genres"),
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
    TAGS_FILE: ("userId", "movieId", "tag", "timestamp"),
}
LIKE_MIN = 4.0
DISLIKE_MAX = 2.0
TEST_SHARE = 0.2
NO_GENRE = "(no genres listed)"
ITEM_PREFIX = "ml-"
USER_PREFIX = "movielens-"
Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class Movie:
    id: str
    title: str
    genres: tuple[str, ...]


@dataclass(frozen=True)
class Interaction:
    """One rating or tag; ``time`` in unix seconds, ``item`` the movie id (no prefix)."""

    user: str
    item: str
    time: int
    kind: str
    rating: float | None = None
    text: str | None = None

    @property
    def positive(self) -> bool:
        return self.rating is not None and self.rating >= LIKE_MIN


@dataclass(frozen=True)
class MovieLens:
    movies: dict[str, Movie]
    events: tuple[Interaction, ...]


@dataclass(frozen=True)
class UserSplit:
    """One user's training events (time order) and test items, around their cutoff."""

    user: str
    cutoff: int
    train: tuple[Interaction, ...]
    test: frozenset[str]

    @property
    def train_items(self) -> frozenset[str]:
        return frozenset(e.item for e in self.train)


@dataclass(frozen=True)
class Split:
    users: dict[str, UserSplit]
    test_share: float

    def training_events(self, users: Iterable[str] | None = None) -> list[Interaction]:
        """The training events of ``users`` (default: all), each user's in time order."""
        chosen = self.users if users is None else users
        return [event for user in chosen for event in self.users[user].train]

    def describe(self) -> str:
        return (
            f"per-user time split: last {self.test_share:.0%} of each user's positive ratings "
            "(>= 4 stars, at least 1, plus ties at the cutoff second) are the test set; "
            "training = the user's ratings and tags strictly before the first test positive"
        )


def rating_kind(rating: float) -> str:
    """``like`` (≥ 4), ``dislike`` (≤ 2) or ``click`` (in between)."""
    if rating >= LIKE_MIN:
        return "like"
    if rating <= DISLIKE_MAX:
        return "dislike"
    return "click"


def dataset_folder(data_dir: str | Path) -> Path:
    """The MovieLens folder: ``data_dir`` itself or its ``movielens-ml-latest-small`` child.

    Raises:
        InputError: neither holds ratings.csv and movies.csv.
    """
    base = Path(data_dir).expanduser()
    for folder in (base, base / FOLDER_NAME):
        if all((folder / name).is_file() for name in FILES):
            return folder
    raise InputError(f"no MovieLens files ({', '.join(FILES)}) in {base} or {base / FOLDER_NAME}")


def load_movielens(data_dir: str | Path) -> MovieLens:
    """Movies, ratings and (when ``tags.csv`` is there) tags, read in place (CRLF-safe).

    Raises:
        InputError: a missing file or column, or a malformed row.
    """
    folder = dataset_folder(data_dir)
    movies = {}
    for row in _rows(folder / "movies.csv"):
        genres = tuple(g for g in row["genres"].split("|") if g and g != NO_GENRE)
        movies[row["movieId"]] = Movie(row["movieId"], row["title"].strip(), genres)
    events = []
    for line, row in enumerate(_rows(folder / "ratings.csv"), start=2):
        rating = _number(float, row["rating"], folder / "ratings.csv", line)
        moment = _number(int, row["timestamp"], folder / "ratings.csv", line)
        kind = rating_kind(rating)
        events.append(Interaction(row["userId"], row["movieId"], moment, kind, rating=rating))
    tags = folder / TAGS_FILE
    for line, row in enumerate(_rows(tags) if tags.is_file() else [], start=2):
        text = " ".join((row["tag"] or "").split())
        if text:
            moment = _number(int, row["timestamp"], tags, line)
            events.append(Interaction(row["userId"], row["movieId"], moment, "post", text=text))
    return MovieLens(movies=movies, events=tuple(events))


def _number(kind: Callable[[str], Number], text: str | None, path: Path, line: int) -> Number:
    try:
        return kind(text or "")
    except ValueError:
        raise InputError(f"{path}, line {line}: {text!r} is not a number") from None


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS[path.name] if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"{path} lacks the column(s) {', '.join(missing)}; the MovieLens layout has "
                f"{', '.join(COLUMNS[path.name])}"
            )
        rows = list(reader)
    if not rows and path.name != TAGS_FILE:
        raise InputError(f"{path} has no rows")
    return rows


def build_split(events: Iterable[Interaction], *, test_share: float = TEST_SHARE) -> Split:
    """Split every user's events at their own cutoff (see the module docstring).

    Raises:
        InputError: ``test_share`` not in (0, 1).
    """
    if not 0.0 < test_share < 1.0:
        raise InputError(f"test_share must be in (0, 1), got {test_share}")
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for event in events:
        by_user[event.user].append(event)
    users = {}
    for user, own in by_user.items():
        own.sort(key=_order)
        positives = [e for e in own if e.positive]
        if not positives:
            continue
        n_test = max(1, int(len(positives) * test_share))
        cutoff = positives[-n_test].time
        train = tuple(e for e in own if e.time < cutoff)
        seen = {e.item for e in train}
        test = frozenset(e.item for e in positives if e.time >= cutoff and e.item not in seen)
        if test:
            users[user] = UserSplit(user=user, cutoff=cutoff, train=train, test=test)
    return Split(users=users, test_share=test_share)


def _order(event: Interaction) -> tuple[int, str, str]:
    return (event.time, event.item, event.kind)


def item_rows(movies: Mapping[str, Movie]) -> list[dict[str, Any]]:
    """Rows for ``TaskClient.index_items``: title + genres as text, one genre as category.

    The category is the movie's rarest genre in the catalogue (MovieLens lists genres
    alphabetically, so the first would favour "Action" and "Adventure"; the rarest, e.g.
    "Animation" rather than "Comedy" for Toy Story, says most about the movie). The body is
    the bare genre list: a label such as "Genres:" would become a keyword of every item, and
    a keyword shared by all items makes every event "share a topic" with every cluster.
    """
    counts = Counter(genre for movie in movies.values() for genre in movie.genres)
    rows = []
    for movie in movies.values():
        rarest = min(movie.genres, key=lambda g: (counts[g], g)) if movie.genres else None
        rows.append(
            {
                "id": ITEM_PREFIX + movie.id,
                "title": movie.title,
                "body": ", ".join(movie.genres),
                "category": rarest,
                "tags": list(movie.genres),
                "lang": "en",
            }
        )
    return rows


def task_events(user_split: UserSplit, *, anchor: datetime) -> list[dict[str, Any]]:
    """The user's training events as ``record_events`` rows, their clock moved to ``anchor``.

    Every time is shifted by ``anchor − cutoff`` (one constant per user), so gaps between
    the user's events are kept and the cutoff falls on ``anchor``: the service, which
    ranks at wall-clock time, is asked right at the user's cutoff.
    """
    shift = anchor.timestamp() - user_split.cutoff
    rows = []
    for event in user_split.train:
        moment = datetime.fromtimestamp(event.time + shift, UTC)
        row: dict[str, Any] = {
            "user": USER_PREFIX + event.user,
            "type": event.kind,
            "item": ITEM_PREFIX + event.item,
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if event.text:
            row["text"] = event.text
        rows.append(row)
    return rows


def leaks(split: Split, replayed: Sequence[Interaction]) -> list[Interaction]:
    """Replayed events at or after their user's cutoff, or on one of the user's test items.

    An evaluation is valid only when this is empty.
    """
    bad = []
    for event in replayed:
        user = split.users.get(event.user)
        if user is None or event.time >= user.cutoff or event.item in user.test:
            bad.append(event)
    return bad
