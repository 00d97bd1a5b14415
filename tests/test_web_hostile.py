"""Issue 22 against a real `citeqa serve` with a password: hostile uploads, routes and questions.

One server answers from a copy of the seeds index with the real model, behind a login, with Gradio's
upload folder in the test's temp folder. Case 1: upload events whose FileData name a server file (by
every trick below) read nothing, and the secret stays unanswerable. Case 8: every route of the Gradio
app, enumerated from the app itself, needs the login except the login form's own. Case 9: in headless
Chromium, a question's Markdown and HTML are shown as text and fetch nothing. Each failed on 0a43961:
the secret was indexed and cited, `/gradio_api/cancel` and `/gradio_api/reset` answered without the
login, and `![q](http://127.0.0.1:PORT/x.png)` made the browser fetch that address.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gradio_events import event_id, file_data, run_event, upload_bytes
from tests.serving import Server, free_port, serving
from tests.test_web_browser import ANSWER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.browser]

USER, PASSWORD = "ann", "hostile-pa55"
SECRET = "The vault code of the Zeppelin museum in Friedrichshafen is Kestrel-7341."
SECRET_QUESTION = "What is the vault code of the Zeppelin museum in Friedrichshafen?"
KITE = "The red kite Aurelia nests every spring in the old oak above the Titisee boathouse."
KITE_QUESTION = "Where does the red kite Aurelia nest every spring?"
#: What the login form needs before logging in (the test's own list: a route added later is not in it).
LOGIN_FORM = {
    "/",
    "/login",
    "/login/",
    "/logout",
    "/favicon.ico",
    "/theme.css",
    "/robots.txt",
    "/manifest.json",
    "/assets/{path}",
    "/static/{path}",
    "/svelte/{path}",
}


@pytest.fixture(scope="module")
def site(real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hostile")
    index = root / "index"
    shutil.copytree(real_seeds_index, index, ignore=shutil.ignore_patterns(".lock"))
    private = root / "private"
    private.mkdir()
    (private / "secret.txt").write_text(f"Museum notes\n\n{SECRET}\n", encoding="utf-8")
    (index / "private-notes.md").write_text(f"# Notes\n\n{SECRET}\n", encoding="utf-8")
    gradio = root / "gradio"
    gradio.mkdir()
    env = {"CITEQA_AUTH": f"{USER}:{PASSWORD}", "GRADIO_TEMP_DIR": str(gradio)}
    with serving(["--index-dir", str(index)], root / "serve.log", env=env) as server:
        yield {"server": server, "root": root, "index": index, "private": private, "gradio": gradio}


def _login(server: Server) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=300)
    assert client.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
    return client


def _ask(server: Server, question: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/v1/ask", json={"question": question}, auth=(USER, PASSWORD), timeout=300
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cites(result: dict[str, Any], text: str) -> bool:
    return not result["refused"] and any(
        text in c["quote"] or text in c["passage"] for c in result["citations"]
    )


def _forged(site: dict[str, Any]) -> list[str]:
    """FileData paths leading to the secret, or to files in Gradio's folder no client uploaded."""
    secret, gradio, index = site["private"] / "secret.txt", site["gradio"], site["index"]
    linked = gradio / ("b" * 64)
    linked.mkdir(exist_ok=True)
    if not (linked / "link.txt").is_symlink():
        (linked / "link.txt").symlink_to(secret)
    planted = gradio / ("d" * 64)
    planted.mkdir(exist_ok=True)
    (planted / "planted.txt").write_text(f"Planted\n\n{SECRET}\n", encoding="utf-8")
    return [
        str(secret),
        f"{gradio}/{'a' * 64}/../../private/secret.txt",
        str(linked / "link.txt"),
        str(planted / "planted.txt"),  # in Gradio's folder, yet never received by its upload route
        f"/proc/self/root{secret}",
        str(index / "private-notes.md"),
        str(secret).replace("/", "%2F"),
        f"file://{secret}",
        "../private/secret.txt",
    ]


def test_case1_upload_events_naming_server_files_read_nothing(site: dict[str, Any]) -> None:
    server: Server = site["server"]
    client = _login(server)
    upload = event_id(client, "file", "upload")
    for path in _forged(site):
        messages = run_event(client, upload, [[file_data(path, Path(path).name)]])
        text = repr(messages)
        assert "Kestrel" not in text and "Traceback" not in text, (path, text)
        last = messages[-1]
        assert last.get("msg") == "process_completed", (path, last)
        if last["success"]:  # past Gradio's own check: citeqa's refuses it with a line in the report
            assert "not a file sent from this page" in last["output"]["data"][0], (path, last)
    # A real upload still works, once: the same path sent again (another session) gets nothing.
    sent = upload_bytes(client, "kite.txt", f"Birds of the Black Forest\n\n{KITE}\n".encode())
    added = run_event(client, upload, [[file_data(sent, "kite.txt")]])[-1]
    assert added["success"] and "Added kite.txt: it is now searchable." in added["output"]["data"][0]
    replay = run_event(client, upload, [[file_data(sent, "kite.txt")]])[-1]
    assert "Refused kite.txt: not a file sent from this page." in replay["output"]["data"][0]

    assert sorted(p.name for p in (site["index"] / "uploads").iterdir()) == ["kite.txt"]
    assert not _cites(_ask(server, SECRET_QUESTION), "Kestrel")
    assert _cites(_ask(server, KITE_QUESTION), "Titisee")
    planted = {site["gradio"] / ("d" * 64) / "planted.txt"}
    copies = [
        p
        for p in site["gradio"].rglob("*")
        if p.is_file() and not p.is_symlink() and p not in planted and b"Kestrel" in p.read_bytes()
    ]
    assert copies == []  # Gradio was not made to copy the secret into its folder either
    assert "Kestrel" not in server.output()


def _routes() -> set[tuple[str, str]]:
    """(path, method) of every route of the chat's Gradio app, as `citeqa serve` builds it."""
    from starlette.routing import Mount

    from qa.settings import Settings
    from qa.web.auth import Credentials
    from qa.web.server import build_server

    app = build_server(Settings(), Credentials(USER, PASSWORD))
    gradio: Any = next(r.app for r in app.routes if isinstance(r, Mount))
    found = {(path, method.upper()) for path, ops in gradio.openapi()["paths"].items() for method in ops}
    for route in gradio.routes:  # routes left out of the schema
        for method in getattr(route, "methods", None) or ():
            found.add((re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path), method))
    return found


def test_case8_every_gradio_route_needs_the_login(site: dict[str, Any]) -> None:
    server: Server = site["server"]
    routes = _routes()
    assert ("/gradio_api/cancel", "POST") in routes and ("/gradio_api/reset", "POST") in routes
    anonymous = httpx.Client(base_url=server.url, timeout=60)
    opened = []
    for path, method in sorted(routes):
        if path in LOGIN_FORM or method == "HEAD":
            continue
        url = re.sub(r"\{\w+\}", "x", path)
        response = anonymous.request(method, url, json={"session_hash": "x", "event_id": "x"})
        if response.status_code != 401:
            opened.append((method, path, response.status_code))
    assert opened == []
    refused = anonymous.post("/gradio_api/cancel", json={"session_hash": "x", "event_id": "x"})
    assert refused.json()["error"]["type"] == "authentication_error"  # the API's error shape
    tricks = [
        "/gradio_api//cancel",
        "/gradio_api/cancel/",
        "/assets/../gradio_api/cancel",
        "/assets/%2E%2E/gradio_api/cancel",
        "/gradio_api/%63ancel",
        "//gradio_api/reset",
        "/GRADIO_API/reset",
        "/static/../gradio_api/queue/join",
    ]
    for path in tricks:
        response = anonymous.post(path, json={"session_hash": "x", "event_id": "x"})
        assert response.status_code in (401, 404, 405), (path, response.status_code, response.text)
    # Logged in, the same routes answer; the REST API keeps its own Basic/Bearer check.
    client = _login(server)
    assert client.get("/gradio_api/info").status_code == 200
    assert client.post("/gradio_api/cancel", json={"session_hash": "x", "event_id": "x"}).status_code != 401
    assert httpx.get(f"{server.url}/api/v1/health", auth=(USER, PASSWORD), timeout=60).status_code == 200
    assert httpx.get(f"{server.url}/api/v1/health", timeout=60).status_code == 401


class _Listener(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        _Listener.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_case9_questions_are_shown_as_text_and_fetch_nothing(site: dict[str, Any]) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian Chromium is missing: run scripts/setup-browser.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    port = free_port()
    listener = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    questions = [
        f"![q]({base}/x.png)",
        f"<img src={base}/html.png> [click](javascript:alert(1)) <{base}/autolink> {base}/bare.png\n\n"
        f"![r][1] &lt;b&gt;entity&lt;/b&gt; $$x^2$$\n\n[1]: {base}/reference.png",
    ]
    requested: list[str] = []
    log_start = len(site["server"].output())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            dialogs: list[str] = []

            def dismiss(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)
            page.goto(site["server"].url)
            page.fill("input[type=text]", USER)
            page.fill("input[type=password]", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_selector("#citeqa-question textarea", timeout=60_000)
            for question in questions:
                page.fill("#citeqa-question textarea", question)
                page.keyboard.press("Enter")
                # Answered once the sources panel shows this question and nothing is pending.
                page.wait_for_function(
                    """(q) => !document.querySelector('#citeqa-chat .citeqa-pending')
                              && document.querySelector('#citeqa-sources-panel .citeqa-question')
                                   ?.innerText.trim().split(/\\s+/).join(' ') === q""",
                    arg=" ".join(question.split()),
                    timeout=ANSWER_TIMEOUT_MS,
                )
            page.wait_for_timeout(1000)
            user = page.locator("#citeqa-chat .message.user")
            shown = [" ".join(user.nth(i).inner_text().split()) for i in range(user.count())]
            tags = page.evaluate(
                "[...document.querySelectorAll('#citeqa-chat .message.user *')].map(e => e.tagName)"
            )
            bot = page.locator("#citeqa-chat .message.bot").last
            rendered = bot.locator(".citeqa-answer, .citeqa-refusal").count()
            bubble = bot.inner_html()
            browser.close()
    finally:
        listener.shutdown()
    assert shown == [" ".join(q.split()) for q in questions]
    assert not {"IMG", "A", "SVG", "SCRIPT", "IFRAME", "VIDEO", "AUDIO", "SOURCE"} & set(tags), tags
    assert _Listener.hits == [] and not [url for url in requested if f":{port}" in url]
    assert rendered == 1, bubble  # the answer's own HTML still renders
    assert dialogs == []
    assert "Traceback" not in site["server"].output()[log_start:]
