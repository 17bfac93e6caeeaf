"""One-shot commands asking a running API: what they accept as an answer, and what not."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from plugin.app.remote import NO_IMPRESSION_HEADER, PREFIX_HEADER, ask_running_api
from plugin.errors import ConfigError, InputError, ProfileNotFound
from plugin.settings import Settings


class FakeApi(BaseHTTPRequestHandler):
    """Answers as the server's ``reply`` says: (status, prefix header or None, body)."""

    reply: ClassVar[tuple[int, str | None, dict[str, Any]]] = (200, "interest", {})
    seen: ClassVar[list[tuple[str, Any]]] = []

    def do_GET(self) -> None:
        status, prefix, body = self.reply
        type(self).seen.append((self.path, self.headers))  # case-insensitive names
        data = json.dumps(body).encode()
        self.send_response(status)
        if prefix is not None:
            self.send_header(PREFIX_HEADER, prefix)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[ThreadingHTTPServer]:
    FakeApi.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def settings_for(server: ThreadingHTTPServer, **changes: Any) -> Settings:
    return Settings(api_port=server.server_address[1], request_timeout_s=5.0, **changes)


def test_the_answer_of_an_api_serving_the_same_prefix_is_used(api: ThreadingHTTPServer) -> None:
    FakeApi.reply = (200, "interest", {"hits": [], "cold_start": True})
    params = {"q": "news", "user": None, "size": 5, "category": ["a", "b"], "since": ""}
    answer = ask_running_api(settings_for(api, api_key="k1"), "/api/search", params)
    assert answer == {"hits": [], "cold_start": True}
    path, headers = FakeApi.seen[0]
    assert path == "/api/search?q=news&size=5&category=a&category=b"  # empty values left out
    assert headers.get("X-API-Key") == "k1"
    assert headers.get(NO_IMPRESSION_HEADER) == "1"


@pytest.mark.parametrize("prefix", ["other", None])
def test_an_api_of_another_prefix_or_program_is_not_asked(
    api: ThreadingHTTPServer, prefix: str | None
) -> None:
    FakeApi.reply = (200, prefix, {"hits": ["not ours"]})
    assert ask_running_api(settings_for(api), "/api/recommend", {"user": "u"}) is None
    FakeApi.reply = (400, prefix, {"error": "not ours either"})
    assert ask_running_api(settings_for(api), "/api/recommend", {"user": "u"}) is None


def test_nothing_listening_means_answer_in_process() -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert ask_running_api(Settings(api_port=port), "/api/search", {"q": "x"}) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, InputError), (422, InputError), (404, ProfileNotFound), (401, ConfigError)],
)
def test_errors_of_our_api_are_raised_with_its_message(
    api: ThreadingHTTPServer, status: int, kind: type[Exception]
) -> None:
    FakeApi.reply = (status, "interest", {"error": "size: must be at most 100"})
    with pytest.raises(kind, match="size: must be at most 100"):
        ask_running_api(settings_for(api), "/api/search", {"q": "x", "size": 1000})
