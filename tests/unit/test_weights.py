"""Blend weights in _meta: validation, parsing, versioned updates, history and rollback."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from plugin.errors import InputError, MappingError, WeightsError
from plugin.types import WEIGHT_NAMES, BlendWeights
from plugin.weights import (
    DEFAULT_PARAMS,
    DEFAULT_WEIGHTS,
    HISTORY_LIMIT,
    default_config,
    history,
    overridden,
    parse_meta,
    rollback,
    validate_params,
    validate_weights,
    with_new_weights,
)

NOW = "2026-11-28T12:00:00Z"


def _meta() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "model": {"name": "all-MiniLM-L6-v2", "dims": 384},
        "blend": {
            "version": 3,
            "weights": {"bm25": 0.5, "interest": 0.5},
            "params": {"bm25_k": 4.0},
            "updated_at": "2026-11-01T00:00:00Z",
            "note": "third",
        },
        "blend_history": [
            {
                "version": 2,
                "weights": {"bm25": 1.0},
                "params": {},
                "updated_at": "2026-10-01T00:00:00Z",
                "note": "second",
            },
            {
                "version": 1,
                "weights": {"popularity": 1.0},
                "params": {"half_life_days": 7},
                "updated_at": "2026-09-01T00:00:00Z",
                "note": "first",
            },
        ],
    }


# --- validate_weights -------------------------------------------------------------------


def test_validate_weights_defaults_sum_to_one() -> None:
    assert math.isclose(DEFAULT_WEIGHTS.total(), 1.0)
    assert DEFAULT_WEIGHTS.collaborative > 0  # chosen on MovieLens, see plugin/weights.py
    assert list(DEFAULT_WEIGHTS.as_dict()) == list(WEIGHT_NAMES)


def test_validate_weights_strings_are_parsed_and_missing_are_zero() -> None:
    weights = validate_weights({"bm25": " 0.4 ", "interest": "1e-1", "popularity": 2})
    assert weights == BlendWeights(bm25=0.4, interest=0.1, popularity=2.0)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("bm25", -0.1, "must be >= 0"),
        ("bm25", "-1", "must be >= 0"),
        ("interest", float("nan"), "finite"),
        ("interest", "nan", "finite"),
        ("query", float("inf"), "finite"),
        ("query", "-inf", "finite"),
        ("freshness", "abc", "must be a number"),
        ("freshness", True, "must be a number"),
        ("category", None, "must be a number"),
        ("category", [1], "must be a number"),
    ],
)
def test_validate_weights_bad_value_raises_naming_key(
    key: str, value: object, fragment: str
) -> None:
    with pytest.raises(WeightsError) as info:
        validate_weights({"bm25": 1.0, key: value})
    assert repr(key) in str(info.value)
    assert fragment in str(info.value)


def test_validate_weights_negative_names_the_value() -> None:
    with pytest.raises(WeightsError, match=r"'popularity'.*-2"):
        validate_weights({"bm25": 1, "popularity": "-2"})


def test_validate_weights_unknown_key_raises() -> None:
    with pytest.raises(WeightsError, match="unknown weight 'cosine'"):
        validate_weights({"bm25": 1, "cosine": 0.5})


def test_validate_weights_all_zero_raises() -> None:
    with pytest.raises(WeightsError, match="at least one weight must be positive"):
        validate_weights({"bm25": 0, "interest": "0.0"})
    with pytest.raises(WeightsError):
        validate_weights({})


def test_validate_weights_not_a_mapping_raises() -> None:
    with pytest.raises(WeightsError):
        validate_weights([("bm25", 1)])  # type: ignore[arg-type]


# --- validate_params --------------------------------------------------------------------


def test_validate_params_fills_defaults_and_parses_strings() -> None:
    params = validate_params({"bm25_k": "4", "cluster_mix": "1"})
    assert params == {**DEFAULT_PARAMS, "bm25_k": 4.0, "cluster_mix": 1.0}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bm25_k", 0),
        ("bm25_k", "-3"),
        ("half_life_days", "inf"),
        ("popularity_norm", 0.0),
        ("short_term_weight", 1.5),
        ("short_term_weight", -0.1),
        ("cluster_mix", "2"),
    ],
)
def test_validate_params_bad_value_raises(key: str, value: object) -> None:
    with pytest.raises(WeightsError, match=repr(key)):
        validate_params({key: value})


def test_validate_params_fraction_bounds_are_inclusive() -> None:
    assert validate_params({"short_term_weight": 0, "cluster_mix": 1})["short_term_weight"] == 0.0


def test_validate_params_unknown_key_raises() -> None:
    with pytest.raises(WeightsError, match="unknown parameter 'k1'"):
        validate_params({"k1": 1.2})


# --- parse_meta -------------------------------------------------------------------------


@pytest.mark.parametrize("meta", [None, {}, {"schema_version": 1}, {"blend": None}])
def test_parse_meta_without_blend_gives_defaults(meta: dict[str, Any] | None) -> None:
    config = parse_meta(meta)
    assert config == default_config()
    assert config.version == 0
    assert config.weights == DEFAULT_WEIGHTS
    assert config.bm25_k == DEFAULT_PARAMS["bm25_k"]


def test_parse_meta_reads_stored_blend() -> None:
    config = parse_meta(_meta())
    assert config.version == 3
    assert config.weights == BlendWeights(bm25=0.5, interest=0.5)
    assert config.bm25_k == 4.0
    assert config.half_life_days == DEFAULT_PARAMS["half_life_days"]
    assert config.note == "third"
    assert config.updated_at == "2026-11-01T00:00:00Z"


@pytest.mark.parametrize(
    "blend",
    [
        "v3",
        {"version": "3", "weights": {"bm25": 1}},
        {"version": True, "weights": {"bm25": 1}},
        {"version": -1, "weights": {"bm25": 1}},
        {"version": 1},
        {"version": 1, "weights": "bm25=1"},
        {"version": 1, "weights": {"bm25": -1}},
        {"version": 1, "weights": {"bm25": 1}, "params": {"bm25_k": 0}},
        {"version": 1, "weights": {"bm25": 1}, "note": 5},
        {"version": 1, "weights": {"bm25": 1}, "updated_at": 20261128},
    ],
)
def test_parse_meta_malformed_blend_raises_mapping_error(blend: object) -> None:
    with pytest.raises(MappingError):
        parse_meta({"blend": blend})


def test_parse_meta_not_a_mapping_raises() -> None:
    with pytest.raises(MappingError):
        parse_meta(["blend"])  # type: ignore[arg-type]


# --- with_new_weights -------------------------------------------------------------------


def test_with_new_weights_bumps_version_and_pushes_history() -> None:
    meta = _meta()
    before = copy.deepcopy(meta)
    new = with_new_weights(
        meta, {"interest": "0.8", "bm25_k": "6"}, note="more interest", now_iso=NOW
    )
    assert meta == before  # input untouched
    assert new["blend"]["version"] == 4
    assert new["blend"]["weights"]["interest"] == 0.8
    assert new["blend"]["weights"]["bm25"] == 0.5  # unchanged weight kept
    assert new["blend"]["params"]["bm25_k"] == 6.0
    assert new["blend"]["note"] == "more interest"
    assert new["blend"]["updated_at"] == NOW
    assert [e["version"] for e in new["blend_history"]] == [3, 2, 1]
    assert new["blend_history"][0]["weights"]["interest"] == 0.5
    assert new["schema_version"] == 1
    assert new["model"] == {"name": "all-MiniLM-L6-v2", "dims": 384}
    assert parse_meta(new).weights.interest == 0.8


def test_with_new_weights_from_defaults_records_v0() -> None:
    new = with_new_weights({"schema_version": 1}, {"bm25": 1}, note="", now_iso=NOW)
    assert new["blend"]["version"] == 1
    assert new["blend"]["weights"]["interest"] == DEFAULT_WEIGHTS.interest
    assert [e["version"] for e in new["blend_history"]] == [0]
    assert new["blend_history"][0]["note"] == "defaults"


@pytest.mark.parametrize(
    "updates",
    [
        {"bm25": "-1"},
        {"interest": "nan"},
        {"cosine": "1"},
        {"short_term_weight": "1.2"},
        {
            "bm25": "0",
            "interest": "0",
            "query": "0",
            "freshness": "0",
            "category": "0",
            "popularity": "0",
        },
        {},
    ],
)
def test_with_new_weights_invalid_raises_and_changes_nothing(updates: dict[str, str]) -> None:
    meta = _meta()
    before = copy.deepcopy(meta)
    with pytest.raises(WeightsError):
        with_new_weights(meta, updates, note="bad", now_iso=NOW)
    assert meta == before


def test_with_new_weights_history_is_bounded() -> None:
    meta: dict[str, Any] = {}
    for i in range(HISTORY_LIMIT + 5):
        meta = with_new_weights(meta, {"bm25": str(i + 1)}, note=f"n{i}", now_iso=NOW)
    assert meta["blend"]["version"] == HISTORY_LIMIT + 5
    assert len(meta["blend_history"]) == HISTORY_LIMIT
    assert meta["blend_history"][0]["version"] == HISTORY_LIMIT + 4


def test_with_new_weights_malformed_meta_raises_mapping_error() -> None:
    with pytest.raises(MappingError):
        with_new_weights({"blend": {"version": 1, "weights": {}}}, {"bm25": 1}, now_iso=NOW)


# --- history and rollback ---------------------------------------------------------------


def test_history_newest_first_with_current() -> None:
    entries = history(_meta())
    assert [e["version"] for e in entries] == [3, 2, 1]
    assert entries[0]["note"] == "third"
    assert entries[0]["params"]["bm25_k"] == 4.0


def test_history_without_blend_is_empty() -> None:
    assert history({}) == []
    assert history(None) == []


def test_history_malformed_entry_raises() -> None:
    with pytest.raises(MappingError):
        history({"blend_history": [{"weights": {}}]})
    with pytest.raises(MappingError):
        history({"blend_history": "v1"})


def test_rollback_without_version_restores_previous_as_new_version() -> None:
    new = rollback(_meta(), None, now_iso=NOW)
    assert new["blend"]["version"] == 4
    assert new["blend"]["weights"] == BlendWeights(bm25=1.0).as_dict()
    assert new["blend"]["note"] == "rollback to v2"
    assert new["blend"]["updated_at"] == NOW
    assert [e["version"] for e in new["blend_history"]] == [3, 2, 1]


def test_rollback_to_given_version_restores_its_params() -> None:
    new = rollback(_meta(), 1, now_iso=NOW)
    config = parse_meta(new)
    assert config.version == 4
    assert config.weights == BlendWeights(popularity=1.0)
    assert config.half_life_days == 7.0
    assert config.note == "rollback to v1"


def test_rollback_twice_undoes_the_rollback() -> None:
    once = rollback(_meta(), 1, now_iso=NOW)
    twice = rollback(once, None, now_iso=NOW)
    assert twice["blend"]["version"] == 5
    assert twice["blend"]["weights"] == _meta()["blend"]["weights"] | {
        name: 0.0 for name in WEIGHT_NAMES if name not in ("bm25", "interest")
    }
    assert twice["blend"]["note"] == "rollback to v3"


@pytest.mark.parametrize("version", [7, 3])
def test_rollback_unknown_or_current_version_raises(version: int) -> None:
    with pytest.raises(InputError, match=f"v{version}"):
        rollback(_meta(), version, now_iso=NOW)


def test_rollback_without_history_raises() -> None:
    with pytest.raises(InputError, match="no earlier"):
        rollback({}, None, now_iso=NOW)


def test_rollback_to_malformed_entry_raises_mapping_error() -> None:
    meta = _meta()
    meta["blend_history"][0]["weights"] = {"bm25": -5}
    with pytest.raises(MappingError):
        rollback(meta, 2, now_iso=NOW)


def test_with_new_weights_version_stays_above_every_stored_one() -> None:
    meta = _meta()
    meta["blend_history"].insert(0, {**meta["blend_history"][0], "version": 9})
    assert with_new_weights(meta, {"bm25": 1}, now_iso=NOW)["blend"]["version"] == 10
    assert rollback(meta, 9, now_iso=NOW)["blend"]["version"] == 10


def test_a_request_overrides_weights_and_params_without_a_new_version() -> None:
    config = default_config()
    changed = overridden(config, {"neighbours": "0.5", "diversity": 0.25})
    assert changed.weights.neighbours == 0.5 and changed.diversity == 0.25
    assert changed.version == config.version and changed.weights.bm25 == config.weights.bm25
    with pytest.raises(WeightsError, match="diversity"):
        overridden(config, {"diversity": 1.5})
    assert overridden(config, {"now_share": 0.3}).now_share == 0.3
    with pytest.raises(WeightsError, match="now_share"):
        overridden(config, {"now_share": -0.1})
    with pytest.raises(WeightsError, match="unknown"):
        overridden(config, {"novelty": 1.0})
