"""Credentials and TLS reach the client and nowhere else; user input reaches the scorer only as
script params. No server is contacted (dead local ports at most)."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders
from elasticsearch import NotFoundError

from plugin.encoder import KNOWN_MODELS
from plugin.errors import ServiceUnavailable
from plugin.es import check_reachable, make_es_client
from plugin.service import PersonalizedSearch
from plugin.settings import DEFAULT_MODEL, Settings
from plugin.weights import blend_to_meta, default_config

API_KEY = "VnVhQ2ZHY0JDZGJrU:secret-api-key-4711"
PASSWORD = "hunter2-es-password"
REDIS_PASSWORD = "redis-pass-0815"
ADMIN_TOKEN = "admin-token-42"
USER_KEY = "user-hmac-key-99"
SECRETS = (API_KEY, PASSWORD, REDIS_PASSWORD, ADMIN_TOKEN, USER_KEY)
# Ports nothing listens on: connections are refused at once.
DEAD_ES = "https://127.0.0.1:1"
DEAD_REDIS = "redis://:" + REDIS_PASSWORD + "@127.0.0.1:2/0"


def secret_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "INTEREST_ES_URL": DEAD_ES.replace("://", f"://elastic:{PASSWORD}@"),
        "INTEREST_ES_API_KEY": API_KEY,
        "INTEREST_REDIS_URL": DEAD_REDIS,
        "INTEREST_ADMIN_TOKEN": ADMIN_TOKEN,
        "INTEREST_USER_KEY": USER_KEY,
        "INTEREST_STATE_DIR": str(tmp_path),
        "INTEREST_REQUEST_TIMEOUT_S": "2",
    }
    env.update(extra)
    return env


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


# --- the client's transport configuration ------------------------------------------------------


def test_make_es_client_sends_the_api_key_as_an_authorization_header():
    es = make_es_client(Settings(es_url="https://es.example:9243", es_api_key=API_KEY))
    assert es._headers["authorization"] == f"ApiKey {API_KEY}"
    [node] = es.transport.node_pool.all()
    assert (node.config.scheme, node.config.host, node.config.port) == ("https", "es.example", 9243)
    assert node.config.verify_certs is True


def test_make_es_client_sends_user_and_password_as_basic_auth():
    es = make_es_client(
        Settings(es_url="https://es.example:9200", es_username="elastic", es_password=PASSWORD)
    )
    expected = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    assert es._headers["authorization"] == f"Basic {expected}"


def test_an_api_key_wins_over_user_and_password():
    es = make_es_client(
        Settings(
            es_url="https://es.example:9200",
            es_api_key=API_KEY,
            es_username="elastic",
            es_password=PASSWORD,
        )
    )
    assert es._headers["authorization"].startswith("ApiKey ")


def test_make_es_client_verifies_tls_with_the_configured_ca(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env(
        {"INTEREST_ES_URL": "https://es.example:9200", "INTEREST_ES_CA_PATH": str(ca)}
    )
    [node] = make_es_client(settings).transport.node_pool.all()
    assert node.config.ca_certs == str(ca)
    assert node.config.verify_certs is True


def test_make_es_client_knows_every_node_of_a_url_list():
    settings = Settings.from_env(
        {"INTEREST_ES_URL": "https://es1:9200, https://es2:9200/,https://es3:9200"}
    )
    hosts = sorted(n.config.host for n in make_es_client(settings).transport.node_pool.all())
    assert hosts == ["es1", "es2", "es3"]


def test_plain_http_without_credentials_sends_no_authorization():
    es = make_es_client(Settings(es_url="http://127.0.0.1:9200"))
    assert "authorization" not in es._headers


# --- secrets stay out of repr, messages, logs and `status` -------------------------------------


def test_settings_repr_hides_keys_passwords_and_url_credentials(tmp_path: Path):
    settings = Settings.from_env(secret_env(tmp_path))
    text = repr(settings)
    assert leaks(text) == []
    assert "elastic:***@127.0.0.1:1" in text and "redis://:***@127.0.0.1:2/0" in text


def test_unreachable_https_elasticsearch_error_names_host_not_password(tmp_path, caplog):
    settings = Settings.from_env(secret_env(tmp_path))
    caplog.set_level(logging.DEBUG)
    es = make_es_client(settings)
    with pytest.raises(ServiceUnavailable) as info:
        check_reachable(es, settings)
    message = str(info.value)
    assert "https://elastic:***@127.0.0.1:1 is not reachable" in message
    assert leaks(message) == []
    assert leaks(caplog.text) == [], "a secret reached the logs"


def test_status_output_carries_no_secret(tmp_path, caplog):
    from stack.control import status

    caplog.set_level(logging.DEBUG)
    state = status(Settings.from_env(secret_env(tmp_path)))
    text = json.dumps(state)
    assert state["elasticsearch"]["status"] == "down" and state["redis"]["ok"] is False
    assert leaks(text) == [] and leaks(caplog.text) == []


def test_cli_status_json_and_its_error_path_carry_no_secret(tmp_path, monkeypatch, capsys):
    from plugin.app.cli import main

    for key, value in secret_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    assert main(["status", "--json"]) == 1  # nothing is up
    out, err = capsys.readouterr()
    assert json.loads(out)["elasticsearch"]["status"] == "down"
    assert leaks(out + err) == []
    assert main(["weights", "show", "--json"]) == 1
    out, err = capsys.readouterr()
    assert "error:" in err and leaks(out + err) == []


def test_celery_app_logs_masked_broker_urls(tmp_path):
    from tasks.app import create_app

    app = create_app(Settings.from_env(secret_env(tmp_path)))
    try:
        assert REDIS_PASSWORD not in app.connection_for_write().as_uri()
    finally:
        app.close()


# --- user input only ever reaches the scorer as params -----------------------------------------


def _meta(status: int) -> Any:
    return ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=None
    )


class Answer(dict):
    """A response that reads like the client's: ``answer["hits"]`` and ``answer.body``."""

    @property
    def body(self) -> dict[str, Any]:
        return dict(self)


class RecordingEs:
    """Answers what PersonalizedSearch asks and records every request body."""

    def __init__(self, profile: dict[str, Any] | None) -> None:
        self.profile = profile
        self.bodies: list[dict[str, Any]] = []
        meta = blend_to_meta(default_config())
        meta_doc = {"model": KNOWN_MODELS[DEFAULT_MODEL].identity(), **meta}
        mapping = {"t-items-v1": {"mappings": {"_meta": meta_doc}}}
        plugins = {"nodes": {"n1": {"plugins": [{"name": "interest-scoring"}]}}}
        self.indices = type("I", (), {"get_mapping": lambda _s, index: Answer(mapping)})()
        self.nodes = type("N", (), {"info": lambda _s, metric: Answer(plugins)})()

    def get(self, index: str, id: str) -> dict[str, Any]:
        if self.profile is None:
            raise NotFoundError("missing", meta=_meta(404), body={})
        return {"_source": self.profile}

    def search(self, index: str, body: dict[str, Any], **_: Any) -> Answer:
        self.bodies.append(body)
        return Answer({"hits": {"hits": []}})

    def msearch(self, searches: list[dict[str, Any]]) -> Answer:
        bodies = searches[1::2]
        self.bodies.extend(bodies)
        return Answer({"responses": [{"hits": {"hits": []}} for _ in bodies]})


class TinyEncoder:
    profile = KNOWN_MODELS[DEFAULT_MODEL]

    def encode(self, texts: list[str], *, kind: str = "passage") -> np.ndarray:
        vectors = np.ones((len(texts), self.profile.dims), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def scripts(node: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("script"), dict):
            found.append(node["script"])
        for value in node.values():
            found.extend(scripts(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(scripts(value))
    return found


HOSTILE = [
    "plain words",
    '"; System.exit(0); //',
    "doc['embedding'].value + params.weights",
    "blend\nreturn 1e9;",
    "<script>alert(1)</script>",
    "a:b AND (c OR",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ 中文查询",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_script_source_is_always_the_constant_blend(text: str, tmp_path: Path):
    dims = KNOWN_MODELS[DEFAULT_MODEL].dims
    profile = {
        "long_term": [1.0] * dims,
        "short_term": [0.5] * dims,
        "clusters": [{"vector": [1.0] * dims, "weight": 1.0, "label": text}],
        "categories": {text: 0.9},
        "keywords": {text: 1.0},
        "recent_items": [text],
    }
    user = " ".join(text.split())  # user ids may not hold control characters
    for stored in (profile, None):  # a known user, then an unknown one
        es = RecordingEs(stored)
        settings = Settings(index_prefix="t", state_dir=tmp_path, user_key=USER_KEY)
        service = PersonalizedSearch(es, settings=settings, encoder=TinyEncoder())  # type: ignore[arg-type]
        service.search(text, user=user)
        service.search(text, user=user, mode="approx")
        service.recommend(user)
        found = [s for body in es.bodies for s in scripts(body)]
        assert found, "no script_score was built"
        assert {(s["source"], s["lang"]) for s in found} == {("blend", "interest")}
        for script in found:
            assert text not in script["source"]
            assert set(script) == {"source", "lang", "params"}
