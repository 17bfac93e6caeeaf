"""The HTTP API over in-test fakes: routing, status codes, error JSON, admin auth."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plugin.app.api import create_app, scrub
from plugin.errors import (
    ConfigError,
    InputError,
    MappingError,
    ProfileNotFound,
    ServiceUnavailable,
    WeightsError,
)
from plugin.pseudonym import pseudonymize
from plugin.settings import Settings
from plugin.types import SearchHit, SearchResult

TOKEN = "s3cret-admin-token"
KEY = b"unit-test-key"


def make_result(*, cold_start: bool = False) -> SearchResult:
    hits = (
        SearchHit(
            id="a",
            title="Trail running guide",
            score=0.6,
            components={"bm25": 0.35, "interest": 0.25},
            reason="matches your interest in trail running",
            cluster_label="trail running",
            source={"category": "sports"},
        ),
        SearchHit(
            id="b",
            title="Sourdough guide",
            score=0.4,
            components={"bm25": 0.3, "freshness": 0.1},
            reason="matches the query",
            source={"category": "food"},
        ),
    )
    return SearchResult(hits=hits, cold_start=cold_start, mode="exact", scorer="native")


class FakeService:
    """The methods of PersonalizedSearch the API calls; ``fail`` makes one method raise."""

    es = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}
        self.version = 1

    def _call(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def search(self, query: str, **kwargs: Any) -> SearchResult:
        self._call("search", query, **kwargs)
        return make_result(cold_start=kwargs.get("user") is None)

    def recommend(self, user: str, **kwargs: Any) -> SearchResult:
        self._call("recommend", user, **kwargs)
        return make_result()

    def pseudonym(self, user: str) -> str:
        return pseudonymize(user, KEY)

    def blend_config(self) -> Any:
        return SimpleNamespace(version=self.version)

    def interest_document(self, user: str) -> dict[str, Any] | None:
        self._call("interest_document", user)
        return {} if user == "alice" else None

    def weights(self) -> dict[str, Any]:
        self._call("weights")
        return {"version": self.version, "weights": {"bm25": 1.0}, "updated_at": None, "note": ""}

    def set_weights(self, updates: dict[str, Any], *, note: str = "") -> dict[str, Any]:
        self._call("set_weights", updates, note=note)
        self.version += 1
        return self.weights()

    def weights_history(self) -> list[dict[str, Any]]:
        self._call("weights_history")
        return [{"version": self.version}]

    def rollback_weights(self, version: int | None = None) -> dict[str, Any]:
        self._call("rollback_weights", version)
        return self.weights()

    def forget(self, user: str) -> dict[str, int]:
        self._call("forget", user)
        return {"interests": 1, "events": 3}


class FakeTasks:
    def __init__(self, errors: list[dict[str, str]] | None = None) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []
        self.errors = errors or []

    def record_events(self, rows: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("record_events", rows, kwargs))
        applied = len(rows) - len(self.errors)
        return {"applied": applied, "duplicates": 0, "errors": self.errors, "queued": len(rows)}

    def index_items(self, rows: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("index_items", rows, kwargs))
        return {"indexed": len(rows) - len(self.errors), "errors": self.errors, "seconds": 0.1}


class FakeFeedback:
    def __init__(self, *, broken: bool = False) -> None:
        self.impressions: list[dict[str, Any]] = []
        self.clicks: list[dict[str, Any]] = []
        self.broken = broken

    def log_impression(self, payload: dict[str, Any], **kwargs: Any) -> int:
        if self.broken:
            raise RuntimeError("feedback store is down")
        self.impressions.append({"payload": payload, **kwargs})
        return len(payload["hits"])

    def log_click(self, **kwargs: Any) -> bool:
        self.clicks.append(kwargs)
        return True

    def forget(self, user: str) -> int:
        return 2


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def tasks() -> FakeTasks:
    return FakeTasks()


@pytest.fixture
def feedback() -> FakeFeedback:
    return FakeFeedback()


def client_for(
    service: FakeService,
    *,
    tasks: FakeTasks | None = None,
    feedback: FakeFeedback | None = None,
    token: str | None = TOKEN,
    health: Any = None,
    raise_server_exceptions: bool = True,
    api_key: str | None = None,
) -> TestClient:
    settings = Settings(
        admin_token=token, api_key=api_key, es_password="es-pass-word", encode_batch=7
    )
    app = create_app(
        settings,
        service=service,
        tasks=tasks,
        feedback=feedback,  # type: ignore[arg-type]
        health=health or (lambda: {"status": "ok"}),
    )
    return TestClient(app, raise_server_exceptions=raise_server_exceptions)


@pytest.fixture
def client(service: FakeService, tasks: FakeTasks, feedback: FakeFeedback) -> TestClient:
    return client_for(service, tasks=tasks, feedback=feedback)


def admin(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- ranking ---------------------------------------------------------------------------------
def test_search_returns_cli_shape_and_passes_parameters(client, service):
    response = client.get(
        "/api/search",
        params={
            "q": "guide",
            "user": "alice",
            "size": 5,
            "mode": "approx",
            "scorer": "portable",
            "category": ["sports", "food"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"hits", "cold_start", "mode", "scorer", "request_id"}
    assert body["hits"][0] == {
        "id": "a",
        "title": "Trail running guide",
        "score": 0.6,
        "components": {"bm25": 0.35, "interest": 0.25},
        "reason": "matches your interest in trail running",
        "interest": "trail running",
        "category": "sports",
    }
    assert response.headers["X-Request-ID"] == body["request_id"]
    name, args, kwargs = service.calls[0]
    assert (name, args) == ("search", ("guide",))
    assert kwargs["user"] == "alice" and kwargs["size"] == 5
    assert kwargs["mode"] == "approx" and kwargs["scorer"] == "portable"
    assert kwargs["filters"].categories == ("sports", "food")


def test_search_logs_an_impression_with_the_pseudonym(client, feedback):
    body = client.get("/api/search", params={"q": "guide", "user": "alice"}).json()
    [logged] = feedback.impressions
    assert logged["request_id"] == body["request_id"]
    assert logged["endpoint"] == "search" and logged["query"] == "guide"
    assert logged["user"] == pseudonymize("alice", KEY) != "alice"
    assert logged["weights_version"] == 1
    assert [hit["id"] for hit in logged["payload"]["hits"]] == ["a", "b"]


def test_search_without_user_is_anonymous(client, service, feedback):
    response = client.get("/api/search", params={"q": "guide", "user": "  "})
    assert response.status_code == 200 and response.json()["cold_start"] is True
    assert service.calls[0][2]["user"] is None
    assert feedback.impressions[0]["user"] is None


def test_search_survives_a_broken_feedback_log(service):
    client = client_for(service, feedback=FakeFeedback(broken=True))
    response = client.get("/api/search", params={"q": "guide", "user": "alice"})
    assert response.status_code == 200 and len(response.json()["hits"]) == 2


def test_recommend_returns_hits_and_logs(client, service, feedback):
    response = client.get("/api/recommend", params={"user": "alice"})
    assert response.status_code == 200
    assert [h["id"] for h in response.json()["hits"]] == ["a", "b"]
    assert service.calls[0][2]["mode"] == "approx"
    assert feedback.impressions[0]["endpoint"] == "recommend"
    assert feedback.impressions[0]["query"] is None


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "x", "size": 0}, {"q": "x", "size": 1000}, {"q": "x", "mode": "fuzzy"}],
)
def test_search_invalid_parameters_answer_422_with_error(client, params):
    response = client.get("/api/search", params=params)
    assert response.status_code == 422
    assert response.json()["error"].startswith("invalid request:")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("query is empty"), 400),
        (WeightsError("bm25 must be finite"), 400),
        (ProfileNotFound("no such user"), 404),
        (MappingError("index interest-items does not exist; run `interest init`"), 409),
        (ServiceUnavailable("Elasticsearch is not reachable"), 503),
    ],
)
def test_search_service_errors_map_to_status_and_json(service, error, status):
    service.fail["search"] = error
    response = client_for(service).get("/api/search", params={"q": "x"})
    assert response.status_code == status
    assert response.json() == {"error": str(error)}


def test_unexpected_error_is_500_without_details(service):
    service.fail["search"] = RuntimeError(f"boom {TOKEN} at http://user:pw@es:9200")
    client = client_for(service, raise_server_exceptions=False)
    response = client.get("/api/search", params={"q": "x"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; the server log has the details"}
    assert "Traceback" not in response.text and TOKEN not in response.text


def test_error_messages_never_carry_secrets(service):
    service.fail["search"] = ServiceUnavailable(
        f"cannot reach http://elastic:es-pass-word@es:9200 with {TOKEN}"
    )
    response = client_for(service).get("/api/search", params={"q": "x"})
    assert response.status_code == 503
    text = response.json()["error"]
    assert "es-pass-word" not in text and TOKEN not in text and "elastic:" not in text
    assert "es:9200" in text


def test_scrub_hides_url_credentials_and_configured_secrets():
    settings = Settings(admin_token="tok", es_api_key="key123")
    assert scrub("redis://:pw@h:1 key123 tok", settings) == "redis://***@h:1 *** ***"


def test_unknown_route_is_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


# --- users -----------------------------------------------------------------------------------
def test_interests_of_a_known_user_have_the_cli_shape(client):
    response = client.get("/api/users/alice/interests")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == "alice"
    assert set(body) == {"user", "clusters", "categories", "keywords", "events", "updated_at"}


def test_interests_of_an_unknown_user_are_404(client):
    response = client.get("/api/users/nobody/interests")
    assert response.status_code == 404
    assert "nobody" in response.json()["error"]


# --- events, items, clicks -------------------------------------------------------------------
def test_one_event_is_forwarded_and_waits_by_default(client, tasks):
    event = {"user": "alice", "type": "post", "text": "I love trail running"}
    response = client.post("/api/events", json=event)
    assert response.status_code == 200 and response.json()["applied"] == 1
    name, rows, kwargs = tasks.calls[0]
    assert name == "record_events" and rows == [event] and kwargs["wait"] is True


def test_a_list_of_events_can_skip_waiting(client, tasks):
    events = [
        {"user": "alice", "type": "like", "item": 7},
        {"user": 42, "type": "click", "item": "x"},
    ]
    response = client.post("/api/events", params={"wait": "false"}, json=events)
    assert response.status_code == 200
    _, rows, kwargs = tasks.calls[0]
    assert kwargs["wait"] is False
    assert rows == events


def test_a_failing_single_event_is_400(service):
    tasks = FakeTasks(errors=[{"id": "#0", "error": "event type 'tweet' is not one of post"}])
    client = client_for(service, tasks=tasks)
    response = client.post("/api/events", json={"user": "alice", "type": "tweet", "text": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "event type 'tweet' is not one of post"}


def test_errors_in_a_batch_are_listed_and_the_rest_applied(service):
    tasks = FakeTasks(errors=[{"id": "#1", "error": "user id is empty"}])
    client = client_for(service, tasks=tasks)
    events = [{"user": "a", "type": "post", "text": "x"}, {"user": "", "type": "post", "text": "y"}]
    response = client.post("/api/events", json=events)
    assert response.status_code == 200
    assert response.json()["applied"] == 1
    assert response.json()["errors"] == [{"id": "#1", "error": "user id is empty"}]


@pytest.mark.parametrize(
    "body",
    [{"type": "post"}, {"user": "a", "type": "post", "txt": "typo"}, "just text", None],
)
def test_malformed_events_are_422(client, body):
    response = client.post("/api/events", json=body)
    assert response.status_code == 422
    assert "error" in response.json()


def test_an_empty_event_list_is_400(client):
    response = client.post("/api/events", json=[])
    assert response.status_code == 400 and response.json() == {"error": "the list is empty"}


def test_events_without_a_task_queue_are_503(service):
    response = client_for(service).post("/api/events", json={"user": "a", "type": "post"})
    assert response.status_code == 503
    assert "task queue" in response.json()["error"]


def test_items_are_indexed_in_batches_of_the_configured_size(client, tasks):
    items = [{"id": "i1", "title": "One"}, {"id": 2, "title": "Two", "tags": ["x", "y"]}]
    response = client.post("/api/items", json=items)
    assert response.status_code == 200 and response.json()["indexed"] == 2
    name, rows, kwargs = tasks.calls[0]
    assert name == "index_items" and rows == items
    assert kwargs == {"batch_size": 7, "progress": False}


def test_one_item_is_accepted_too(client, tasks):
    response = client.post("/api/items", json={"id": "i1", "title": "One"})
    assert response.status_code == 200
    assert tasks.calls[0][1] == [{"id": "i1", "title": "One"}]


def test_click_is_logged_and_recorded_as_an_event(client, tasks, feedback):
    body = {"user": "alice", "item": "a", "query": "guide", "request_id": "r1", "rank": 1}
    response = client.post("/api/click", json=body)
    assert response.status_code == 200
    assert response.json() == {"logged": True, "queued": 1}
    assert feedback.clicks == [
        {
            "user": pseudonymize("alice", KEY),
            "item": "a",
            "request_id": "r1",
            "query": "guide",
            "rank": 1,
        }
    ]
    _, rows, kwargs = tasks.calls[0]
    assert rows == [{"user": "alice", "type": "click", "item": "a"}]
    assert kwargs["wait"] is False


def test_click_with_an_empty_user_is_400(client, tasks):
    response = client.post("/api/click", json={"user": " ", "item": "a"})
    assert response.status_code == 400
    assert response.json() == {"error": "user id is empty"}
    assert tasks.calls == []


# --- admin -----------------------------------------------------------------------------------
ADMIN_CALLS = [
    ("get", "/api/admin/weights", None),
    ("put", "/api/admin/weights", {"weights": {"bm25": 0.5}}),
    ("get", "/api/admin/weights/history", None),
    ("post", "/api/admin/weights/rollback", {"version": 1}),
    ("delete", "/api/admin/users/alice", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_routes_are_403_without_a_configured_token(service, method, path, body):
    client = client_for(service, token=None)
    response = client.request(method, path, json=body, headers=admin("anything"))
    assert response.status_code == 403
    assert response.json() == {"error": "admin routes are disabled: set INTEREST_ADMIN_TOKEN"}
    assert service.calls == []


@pytest.mark.parametrize("headers", [{}, admin("wrong"), {"Authorization": TOKEN}])
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_routes_are_401_without_the_right_token(client, service, method, path, body, headers):
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["error"]
    assert TOKEN not in response.text
    assert service.calls == []


def test_admin_set_weights_bumps_the_version(client, service):
    before = client.get("/api/admin/weights", headers=admin()).json()["version"]
    response = client.put(
        "/api/admin/weights",
        json={"weights": {"bm25": 0.5, "interest": "0.3"}, "note": "try"},
        headers=admin(),
    )
    assert response.status_code == 200 and response.json()["version"] == before + 1
    assert ("set_weights", ({"bm25": 0.5, "interest": "0.3"},), {"note": "try"}) in service.calls


def test_admin_invalid_weights_are_400(client, service):
    service.fail["set_weights"] = WeightsError("weight 'bm25' must be non-negative, got -1")
    response = client.put("/api/admin/weights", json={"weights": {"bm25": -1}}, headers=admin())
    assert response.status_code == 400
    assert response.json() == {"error": "weight 'bm25' must be non-negative, got -1"}


def test_admin_history_and_rollback(client, service):
    assert client.get("/api/admin/weights/history", headers=admin()).json() == [{"version": 1}]
    assert client.post("/api/admin/weights/rollback", headers=admin()).status_code == 200
    assert client.post(
        "/api/admin/weights/rollback", json={"version": None}, headers=admin()
    ).status_code == 200  # fmt: skip
    client.post("/api/admin/weights/rollback", json={"version": 3}, headers=admin())
    versions = [args[0] for name, args, _ in service.calls if name == "rollback_weights"]
    assert versions == [None, None, 3]


def test_admin_forget_reports_what_was_removed(client, service):
    response = client.delete("/api/admin/users/alice", headers=admin())
    assert response.status_code == 200
    assert response.json() == {
        "user": "alice",
        "removed": {"interests": 1, "events": 3, "feedback": 2},
    }


# --- health, page, docs ----------------------------------------------------------------------
def test_health_is_503_when_degraded(service):
    state = {"status": "degraded", "elasticsearch": {"status": "down"}, "redis": {"ok": True}}
    response = client_for(service, health=lambda: state).get("/api/health")
    assert response.status_code == 503 and response.json() == state
    assert client_for(service).get("/api/health").status_code == 200


def test_the_search_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for user in ("xiaoming", "alice", "bob"):
        assert f'<option value="{user}">' in page.text
    assert 'id="recommend-button"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "/api/click" in script.text
    assert client.get("/static/style.css").status_code == 200


def test_openapi_lists_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/search",
        "/api/recommend",
        "/api/events",
        "/api/items",
        "/api/click",
        "/api/health",
        "/api/users/{user}/interests",
        "/api/admin/weights",
        "/api/admin/weights/history",
        "/api/admin/weights/rollback",
        "/api/admin/users/{user}",
    ):
        assert path in paths
    assert client.get("/docs").status_code == 200


# --- API key ---------------------------------------------------------------------------------
API_KEY = "k3y-for-every-route"


def test_with_an_api_key_every_api_route_needs_it(service, tasks, feedback):
    client = client_for(service, tasks=tasks, feedback=feedback, api_key=API_KEY)
    routes = [
        ("GET", "/api/search?q=films&user=u1"),
        ("GET", "/api/recommend?user=u1"),
        ("GET", "/api/users/u1/interests"),
        ("GET", "/api/health"),
        ("POST", "/api/events"),
        ("POST", "/api/click"),
        ("GET", "/api/admin/weights"),
    ]
    for method, path in routes:
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": API_KEY[:-1]}):
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert "X-API-Key" in response.json()["error"]
            assert API_KEY not in response.text
    assert service.calls == [] and tasks.calls == []
    ok = client.get("/api/search", params={"q": "films", "user": "u1"}, headers=key())
    assert ok.status_code == 200 and ok.json()["hits"]
    assert client.get("/api/health", headers=key()).status_code == 200


def test_admin_routes_need_the_api_key_and_the_admin_token(service):
    client = client_for(service, api_key=API_KEY)
    assert client.get("/api/admin/weights", headers=admin()).status_code == 401
    assert client.get("/api/admin/weights", headers=key()).status_code == 401
    assert client.get("/api/admin/weights", headers={**key(), **admin()}).status_code == 200


def test_the_page_and_its_files_stay_open_with_an_api_key(service):
    client = client_for(service, api_key=API_KEY)
    assert client.get("/").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_without_an_api_key_the_api_is_open_as_before(client):
    assert client.get("/api/search", params={"q": "films"}).status_code == 200


def test_serve_refuses_to_listen_beyond_the_loopback_without_a_key():
    from plugin.app.api import check_exposure

    with pytest.raises(ConfigError, match="INTEREST_API_KEY"):
        check_exposure(Settings(), "0.0.0.0")
    check_exposure(Settings(), "127.0.0.1")
    check_exposure(Settings(api_key=API_KEY), "0.0.0.0")


def key() -> dict[str, str]:
    return {"X-API-Key": API_KEY}
