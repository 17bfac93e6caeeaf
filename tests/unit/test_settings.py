from __future__ import annotations

from pathlib import Path

import pytest

from plugin.errors import ConfigError
from plugin.settings import DEFAULT_MODEL, Settings


def test_defaults_use_the_embedded_stack():
    settings = Settings.from_env({"HOME": "/home/someone"})
    assert settings.embedded_es and settings.embedded_redis
    assert settings.effective_es_url == "http://127.0.0.1:9200"
    assert settings.effective_redis_url == "redis://127.0.0.1:6379/0"
    assert settings.model == DEFAULT_MODEL
    assert settings.index_alias("user_interests") == "interest-user-interests"


def test_reads_every_prefixed_variable(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = Settings.from_env(
        {
            "INTEREST_ES_URL": "https://es.example:9243/",
            "INTEREST_ES_API_KEY": "secret-key",
            "INTEREST_ES_CA_PATH": str(ca),
            "INTEREST_REDIS_URL": "redis://:pw@cache:6380/2",
            "INTEREST_MODEL": "all-MiniLM-L6-v2",
            "INTEREST_DEVICE": "CPU",
            "INTEREST_INDEX_PREFIX": "shop",
            "INTEREST_STATE_DIR": str(tmp_path),
            "INTEREST_ENCODE_BATCH": "64",
        }
    )
    assert settings.es_url == "https://es.example:9243"
    assert not settings.embedded_es and not settings.embedded_redis
    assert settings.device == "cpu"
    assert settings.index_alias("items") == "shop-items"
    assert settings.state_dir == tmp_path
    assert settings.encode_batch == 64
    assert settings.es_ca_path == ca


def test_secrets_stay_out_of_repr():
    settings = Settings.from_env(
        {
            "INTEREST_ES_API_KEY": "k-123",
            "INTEREST_ES_USERNAME": "u",
            "INTEREST_ES_PASSWORD": "p-456",
        }
    )
    text = repr(settings)
    assert "k-123" not in text and "p-456" not in text


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"INTEREST_ES_URL": "ftp://x"}, "INTEREST_ES_URL"),
        ({"INTEREST_REDIS_URL": "http://x"}, "INTEREST_REDIS_URL"),
        ({"INTEREST_DEVICE": "tpu"}, "INTEREST_DEVICE"),
        ({"INTEREST_ES_HTTP_PORT": "many"}, "INTEREST_ES_HTTP_PORT"),
        ({"INTEREST_ES_HTTP_PORT": "70000"}, "INTEREST_ES_HTTP_PORT"),
        ({"INTEREST_INDEX_PREFIX": "Bad Prefix"}, "INTEREST_INDEX_PREFIX"),
        ({"INTEREST_ES_CA_PATH": "/nonexistent/ca.pem"}, "INTEREST_ES_CA_PATH"),
        ({"INTEREST_ES_USERNAME": "only-user"}, "INTEREST_ES_USERNAME"),
    ],
)
def test_bad_values_name_the_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_redis_url_error_does_not_echo_credentials():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"INTEREST_REDIS_URL": "http://user:hunter2@host"})
    assert "hunter2" not in str(info.value)


def test_encoder_backend_and_model_path(tmp_path: Path):
    settings = Settings.from_env(
        {"INTEREST_ENCODER_BACKEND": "sentence-transformers", "INTEREST_MODEL_PATH": str(tmp_path)}
    )
    assert settings.encoder_backend == "sentence-transformers"
    assert settings.model_path == tmp_path
    with pytest.raises(ConfigError, match="INTEREST_ENCODER_BACKEND"):
        Settings.from_env({"INTEREST_ENCODER_BACKEND": "onnx"})


def test_e5_through_sentence_transformers_needs_its_weights():
    from plugin.encoder import SentenceTransformerEncoder, load_encoder

    settings = Settings.from_env(
        {
            "INTEREST_ENCODER_BACKEND": "sentence-transformers",
            "INTEREST_MODEL": "multilingual-e5-small",
        }
    )
    with pytest.raises(ConfigError, match="INTEREST_MODEL_PATH"):
        load_encoder(settings)
    settings = settings.with_overrides(model_path=Path("/models/e5"))
    encoder = load_encoder(settings)  # weights load lazily: nothing is read yet
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert encoder.profile.name == "multilingual-e5-small"
    assert encoder.profile.query_prefix == "query: "


def test_prior_candidates_default_env_and_bounds() -> None:
    assert Settings.from_env({}).prior_candidates == 100
    assert Settings.from_env({"INTEREST_PRIOR_CANDIDATES": "0"}).prior_candidates == 0
    assert Settings.from_env({"INTEREST_PRIOR_CANDIDATES": "1000"}).prior_candidates == 1000
    with pytest.raises(ConfigError, match="INTEREST_PRIOR_CANDIDATES"):
        Settings.from_env({"INTEREST_PRIOR_CANDIDATES": "-5"})
