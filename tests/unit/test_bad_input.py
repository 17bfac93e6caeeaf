"""Bad input, one case at a time: each gets a clear error naming what is wrong, and the valid
rest of its batch or file goes through. No services (the real-stack half is in
tests/integration/test_bad_input.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.documents import prepare_item
from indexer.events import prepare_event
from indexer.sources import read_rows
from plugin.encoder import _check_output
from plugin.errors import ConfigError, EncoderError, InputError, MappingError, WeightsError
from plugin.es import check_model
from plugin.profiles import fit_dims, profile_from_document
from plugin.settings import Settings
from plugin.types import WEIGHT_NAMES
from plugin.weights import validate_weights, with_new_weights

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY = b"unit-test-key"
MEGABYTE = "长" * 1_000_000


def item(**fields: Any) -> dict[str, Any]:
    return {"id": "i1", "title": "A fine title", "body": "A fine body.", **fields}


# --- items ------------------------------------------------------------------------------------
ITEM_CASES = [
    ({"title": "no id here"}, "item has no id"),
    (item(id="a\x00b"), "too long or has control characters"),
    (item(id="x" * 201), "too long or has control characters"),
    (item(id=True), "item has no id"),
    (item(title="", body=""), "title and body are both empty"),
    (item(title=" \t\n\u3000 ", body="   "), "title and body are both empty"),
    (item(title="\x00\x01\x1b[0m", body=None), "title and body are both empty"),
    (item(body=MEGABYTE), "body has 1,000,000 characters; at most 200,000"),
    (item(title=MEGABYTE), "title has 1,000,000 characters; at most 10,000"),
    (item(title={"nested": 1}), "title must be a string, got dict"),
    (item(created_at="2999-01-01"), "is more than a day in the future"),
    (item(created_at="1800-01-01"), "is before 1990-01-01"),
    (item(created_at=-1e20), "out of range"),
    (item(created_at="yesterday"), "'yesterday' is not an ISO 8601 date"),
    (item(popularity="lots"), "popularity must be a number"),
    (item(tags={"a": 1}), "tags must be a list of strings"),
    (item(lang="klingon!!"), "lang must be a language code"),
    ("just a string", "item must be a JSON object"),
]


@pytest.mark.parametrize(("raw", "message"), ITEM_CASES)
def test_bad_item_is_refused_with_a_clear_error(raw: Any, message: str):
    with pytest.raises(InputError) as info:
        prepare_item(raw, now=NOW)
    assert message in str(info.value)


def test_an_unreadable_title_does_not_lose_a_good_body():
    prepared = prepare_item(item(title="\x00\x01\x02", body="Sourdough at home"), now=NOW)
    assert prepared.source["title"] == "" and prepared.source["body"] == "Sourdough at home"


def test_invalid_utf8_bytes_are_replaced_not_fatal():
    raw = "caf\udcc3 \udcff au lait".encode("utf-8", "surrogateescape")  # not valid UTF-8
    prepared = prepare_item(item(title=raw.decode("utf-8", "replace")), now=NOW)
    assert "au lait" in prepared.source["title"]
    event = prepare_event({"user": "u", "type": "post", "text": raw}, key=KEY, now=NOW)
    assert event.text is not None and "au lait" in event.text


# --- events -----------------------------------------------------------------------------------
def event(**fields: Any) -> dict[str, Any]:
    return {"user": "alice", "type": "post", "text": "a fine post", **fields}


EVENT_CASES = [
    ({"type": "post", "text": "x"}, "user id must be a string"),
    (event(user=""), "user id is empty"),
    (event(user="al\nice"), "control characters"),
    (event(user=["alice"]), "user id must be a string"),
    (event(type="tweet"), "event type 'tweet' is not one of post, like, click, search, dislike"),
    (event(text=""), "text is empty and the post event names no item"),
    (event(text=" \t\n "), "text is empty after cleaning"),
    (event(text=MEGABYTE), "text has 1,000,000 characters; at most 100,000"),
    (event(text="\x00\x1b\ud800\udcff"), "text is empty after cleaning"),
    (event(text=42), "text must be str or bytes, got int"),
    (event(time="2999-12-31T00:00:00Z"), "is more than a day in the future"),
    (event(time="1970-01-02T00:00:00Z"), "is before 1990-01-01"),
    (event(time=True), "got a boolean"),
    (event(time=1e30), "out of range"),
    ({"user": "alice", "type": "click"}, "a click event needs a text or an item id"),
]


@pytest.mark.parametrize(("raw", "message"), EVENT_CASES)
def test_bad_event_is_refused_with_a_clear_error(raw: dict[str, Any], message: str):
    with pytest.raises(InputError) as info:
        prepare_event(raw, key=KEY, now=NOW)
    assert message in str(info.value)


# --- blend weights ----------------------------------------------------------------------------
WEIGHT_CASES = [
    ({"bm25": -0.5}, "weight 'bm25' must be >= 0"),
    ({"bm25": float("nan")}, "weight 'bm25' must be finite"),
    ({"interest": "inf"}, "weight 'interest' must be finite"),
    ({"bm25": "abc"}, "weight 'bm25' must be a number"),
    ({"bm25": True}, "weight 'bm25' must be a number"),
    ({"relevance": 1.0}, "unknown weight 'relevance'"),
    (dict.fromkeys(WEIGHT_NAMES, 0), "at least one weight must be positive"),
]


@pytest.mark.parametrize(("weights", "message"), WEIGHT_CASES)
def test_bad_weights_are_refused_and_change_nothing(weights: dict[str, Any], message: str):
    with pytest.raises(WeightsError) as info:
        validate_weights(weights)
    assert message in str(info.value)
    before: dict[str, Any] = {"blend": None, "blend_history": []}
    with pytest.raises(WeightsError):
        with_new_weights(before, weights, note="bad", now_iso="2026-06-01T00:00:00Z")
    assert before == {"blend": None, "blend_history": []}


# --- files ------------------------------------------------------------------------------------
def test_jsonl_with_malformed_lines_reports_them_and_keeps_the_rest(tmp_path: Path):
    path = tmp_path / "items.jsonl"
    path.write_bytes(
        b'{"id": "ok-1", "title": "first"}\n'
        b'{"id": "broken", "title": \n'
        b"[1, 2, 3]\n"
        b'{"id": "ok-2", "title": "caf\xc3 \xff bytes"}\n'
        b"\n"
        b'{"id": "ok-3", "title": "third"}\n'
    )
    rows, errors = read_rows(path)
    assert [row["id"] for row in rows] == ["ok-1", "ok-2", "ok-3"]
    assert errors == [
        {"id": "line 2", "error": "malformed JSON: Expecting value"},
        {"id": "line 3", "error": "expected a JSON object"},
    ]
    assert "\ufffd" in rows[1]["title"]  # invalid UTF-8 became a replacement character


def test_csv_row_with_more_fields_than_the_header_is_reported(tmp_path: Path):
    path = tmp_path / "items.csv"
    path.write_text("id,title\na,first\nb,second,surplus\nc,third\n")
    rows, errors = read_rows(path)
    assert [row["id"] for row in rows] == ["a", "c"]
    assert errors == [{"id": "line 3", "error": "more fields than the header"}]


@pytest.mark.parametrize(
    ("name", "message"),
    [("items.xlsx", "expected a .jsonl or .csv file"), ("missing.jsonl", "no such file")],
)
def test_unusable_files_are_refused(tmp_path: Path, name: str, message: str):
    if name.endswith(".xlsx"):
        (tmp_path / name).write_text("x")
    with pytest.raises(InputError, match=message):
        read_rows(tmp_path / name)


# --- vectors and models -----------------------------------------------------------------------
def test_a_model_whose_dimension_differs_from_the_index_is_refused():
    meta = {"model": {"name": "multilingual-e5-small", "dims": 384}}
    with pytest.raises(MappingError) as info:
        check_model(meta, {"name": "bge-base", "dims": 768})
    message = str(info.value)
    assert "'multilingual-e5-small' (384 dims)" in message and "'bge-base' (768 dims)" in message


@pytest.mark.parametrize(
    "vectors",
    [np.ones((2, 3), dtype=np.float32), np.array([[1.0, np.nan, 0.0, 0.0]] * 2)],
    ids=["wrong-size", "nan"],
)
def test_encoder_output_of_the_wrong_size_or_with_nan_is_an_encoder_error(vectors):
    with pytest.raises(EncoderError, match=r"expected \(2, 4\)"):
        _check_output(vectors, 2, 4)


def test_interest_vectors_of_another_size_are_left_out_not_sent_to_the_scorer():
    document = {
        "long_term": [0.5] * 768,  # written with another model
        "short_term": [0.5] * 384,
        "clusters": [{"vector": [1.0] * 768, "weight": 1}, {"vector": [1.0] * 384, "weight": 1}],
        "categories": {"sports": 0.5},
    }
    profile = profile_from_document("u", document)
    assert profile is not None
    fitted, dropped = fit_dims(profile, 384)
    assert dropped == ["long_term", "clusters"]
    assert fitted.long_term is None and fitted.short_term is not None
    assert [len(c.vector) for c in fitted.clusters] == [384]
    assert fit_dims(fitted, 384) == (fitted, [])


def test_non_finite_interest_vectors_are_ignored():
    profile = profile_from_document("u", {"long_term": [float("nan"), 1.0], "short_term": [1, 2]})
    assert profile is not None and profile.long_term is None and profile.short_term == (1.0, 2.0)


# --- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INTEREST_VISIBILITY_TIMEOUT_S": "soon"}, "INTEREST_VISIBILITY_TIMEOUT_S must be an int"),
        ({"INTEREST_VISIBILITY_TIMEOUT_S": "0"}, "INTEREST_VISIBILITY_TIMEOUT_S must be in"),
        ({"INTEREST_ES_REPLICAS": "-1"}, "INTEREST_ES_REPLICAS must be in [0, 10]"),
        ({"INTEREST_ES_URL": "https://a:9200,ftp://b"}, "INTEREST_ES_URL must be a URL"),
    ],
)
def test_bad_reliability_settings_name_the_variable(env: dict[str, str], message: str):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert message in str(info.value)
