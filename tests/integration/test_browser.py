"""The search page in headless Chromium, driven over the DevTools protocol, on the real stack.

The API runs under uvicorn in a thread on a free port; Chromium (Debian's package, no browser
download) loads the page, a user and a query are typed and the Search button clicked with real
input events, and the rendered results are read back from the DOM. A screenshot is written to
``$INTEREST_SCREENSHOT_DIR`` when set (else the test's tmp folder).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from base64 import b64decode
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plugin.app.api import create_app
from tests.integration.sample_data import QUERY, RUNNER_EVENTS, make_items

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-allow-origins=*",
    "--remote-debugging-port=0",
    "--window-size=1280,1000",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class Cdp:
    """A minimal DevTools protocol client: one page target, one request at a time."""

    def __init__(self, url: str):
        import websocket  # websocket-client (dev dependency)

        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:  # events (no id) are ignored
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element."""
        box = self.eval(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def type_into(self, selector: str, text: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait until the new page (not the old one) has run its script."""
        self.eval("window.__stale = true")
        self.send("Page.navigate", url=url)
        wait_for(
            lambda: self.eval(
                "!window.__stale && document.readyState === 'complete' && "
                "document.body !== null && document.body.dataset.ready === 'true'"
            ),
            timeout=20,
            what=f"{url} to load",
        )

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def api_url(settings, service, tasks) -> Iterator[str]:
    import uvicorn

    app = create_app(settings, service=service, tasks=tasks)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Cdp]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail(
            "Chromium is missing: apt-get install -y chromium (the Makefile's prereqs do this)",
            pytrace=False,
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helper processes share our group id: stopped together
    )
    client = None
    try:
        port_file = profile / "DevToolsActivePort"
        wait_for(port_file.exists, timeout=30, what="Chromium's DevTools port")
        port = int(wait_for(lambda: port_file.read_text().split("\n")[0], timeout=5, what="port"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            targets = json.load(reply)
        page = next(t for t in targets if t["type"] == "page")
        client = Cdp(page["webSocketDebuggerUrl"])
        client.send("Page.enable")
        client.send("Runtime.enable")
        client.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )
        yield client
    finally:
        if client is not None:
            client.close()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def reader(tasks) -> tuple[str, dict[str, dict[str, Any]]]:
    items = make_items(f"web-{RUN}")
    result = tasks.index_items(list(items.values()), batch_size=8, progress=False)
    assert result["indexed"] == 3, result
    user = f"web-runner-{RUN}"
    events = [{"user": user, **event} for event in RUNNER_EVENTS]
    outcome = tasks.record_events(events, batch_size=8, wait=True)
    assert outcome["applied"] == len(events), outcome
    return user, items


HITS_JS = """JSON.stringify([...document.querySelectorAll('#results .hit')].map(li => ({
  id: li.dataset.id,
  title: li.querySelector('.title').textContent,
  reason: li.querySelector('.reason').textContent,
  score: li.querySelector('.score').textContent,
  components: [...li.querySelectorAll('.component')].map(c => c.dataset.name),
  segments: li.querySelectorAll('.bar .segment').length,
})))"""


def screenshot(browser: Cdp, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("INTEREST_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    path.write_bytes(b64decode(shot["data"]))
    return path


def test_search_page_shows_personalised_results_and_records_a_click(
    browser, api_url, reader, es, settings, tmp_path
):
    user, items = reader
    browser.navigate(f"{api_url}/")
    options = browser.eval("[...document.querySelectorAll('#users option')].map(o => o.value)")
    assert options == ["xiaoming", "alice", "bob"]

    browser.type_into("#user", user)
    browser.type_into("#query", QUERY)
    browser.click("#search-button")
    state = wait_for(
        lambda: browser.eval("['done', 'error'].includes(document.body.dataset.state) && "
                             "document.body.dataset.state"),
        timeout=60,
        what="search results",
    )  # fmt: skip
    status = browser.eval("document.getElementById('status').textContent")
    assert state == "done", status
    assert f"personalised for {user}" in status

    hits = json.loads(browser.eval(HITS_JS))
    ours = [hit for hit in hits if hit["id"].startswith(f"web-{RUN}-")]
    assert ours[0]["id"] == items["run"]["id"]
    assert ours[0]["title"] == items["run"]["title"]
    for hit in hits:
        assert hit["reason"].strip(), hit
        assert hit["components"] and hit["segments"] == len(hit["components"])
        assert float(hit["score"]) > 0
    assert "interest" in ours[0]["components"]
    wait_for(
        lambda: browser.eval("document.querySelectorAll('#interests .cluster').length"),
        timeout=10,
        what="the interests panel",
    )
    assert browser.eval("new URL(location.href).searchParams.get('user')") == user

    path = screenshot(browser, tmp_path, "search-page.png")
    assert path.stat().st_size > 10_000

    request_id = browser.eval("state.requestId")
    first = f"#results .hit[data-id='{ours[0]['id']}'] .title"
    browser.click(first)
    wait_for(
        lambda: browser.eval(
            f"document.querySelector(\"#results .hit[data-id='{ours[0]['id']}']\")"
            ".classList.contains('clicked')"
        ),
        timeout=30,
        what="the click to be recorded",
    )
    index = settings.index_alias("feedback")
    es.indices.refresh(index=index)
    clicks = es.search(
        index=index,
        query={
            "bool": {"filter": [{"term": {"kind": "click"}}, {"term": {"request_id": request_id}}]}
        },
    )["hits"]["hits"]
    assert [c["_source"]["item"] for c in clicks] == [ours[0]["id"]]


def test_recommend_button_and_a_new_user(browser, api_url, reader, tmp_path):
    user, _ = reader
    browser.navigate(f"{api_url}/?user={user}&action=recommend")
    wait_for(
        lambda: browser.eval("document.body.dataset.state === 'done'"),
        timeout=60,
        what="recommendations from the deep link",
    )
    assert json.loads(browser.eval(HITS_JS))
    assert "recommended" in browser.eval("document.getElementById('status').textContent")

    browser.eval("document.getElementById('user').value = ''")
    browser.type_into("#user", f"nobody-{RUN}")
    browser.click("#recommend-button")
    wait_for(
        lambda: browser.eval(
            "document.getElementById('status').textContent.includes('no interests for')"
        ),
        timeout=60,
        what="the cold-start answer",
    )
    assert "No interests recorded" in browser.eval(
        "document.getElementById('interests').textContent"
    )
    screenshot(browser, tmp_path, "recommend-cold-start.png")
