"""Real clients against `citeqa serve` with the real model: httpx for REST, the official `openai` client.

One server answers from the seeds index behind a login read from CITEQA_AUTH; another runs without
credentials on an empty index folder. The tests marked "issue 13, case 9" failed on commit 13a9015:
there was no warning, no CITEQA_AUTH or --auth-file, no slowing of wrong passwords, and Gradio's
share-link hint was printed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving import Server, serving

pytestmark = pytest.mark.integration

USER, PASSWORD = "ann", "pa55:word-in-env"
KEY = f"{USER}:{PASSWORD}"
KUJAT = "000_d6b9d14a00a44e16.txt"
ISTANBUL = "What was offered at Istanbul?"


@pytest.fixture(scope="module")
def server(real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("http-api") / "serve.log"
    with serving(["--index-dir", str(real_seeds_index)], log, env={"CITEQA_AUTH": KEY}) as running:
        yield running


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No credentials, and an index folder with nothing in it (the page would build it on first load)."""
    folder = tmp_path_factory.mktemp("http-api-open")
    with serving(["--index-dir", str(folder / "index")], folder / "serve.log") as running:
        yield running


def _get(server: Server, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", timeout=60, **kw)


def _ask(server: Server, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/ask", json=body, timeout=300, **kw)


def test_rest_ask_returns_the_cli_object_citing_the_kujat_interview(server: Server) -> None:
    response = _ask(server, {"question": ISTANBUL, "k": 5}, auth=(USER, PASSWORD))
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == ISTANBUL and body["refused"] is False and body["mode"] == "extractive"
    assert "[1]" in body["answer"] and KUJAT in {c["source"] for c in body["citations"]}
    assert len(body["passages"]) == 5


def test_rest_health_and_documents_describe_the_index(server: Server) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    health = _get(server, "/api/v1/health", headers=headers)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "documents": 5, "chunks": 71, "model": "embeddinggemma-300m"}
    documents = _get(server, "/api/v1/documents", headers=headers).json()["documents"]
    assert [d["file"] for d in documents][:1] == [KUJAT]
    kujat = documents[0]
    assert (kujat["title"], kujat["date"], kujat["language"]) == (
        "Rusland wil onderhandelen!",
        "2023-03-04",
        "nl",
    )
    assert sum(d["chunks"] for d in documents) == 71 and len(documents) == 5


def test_rest_errors_are_json_with_their_status(server: Server, open_server: Server) -> None:
    empty = _ask(server, {"question": "   "}, auth=(USER, PASSWORD))
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("The question is empty")
    malformed = _ask(server, {"questoin": ISTANBUL}, auth=(USER, PASSWORD))
    assert malformed.status_code == 400
    assert malformed.json()["error"]["message"] == "question: Field required"
    no_index = _ask(open_server, {"question": ISTANBUL})
    assert no_index.status_code == 503 and no_index.json()["error"]["message"].startswith("No index at")
    assert _get(open_server, "/api/v1/health").status_code == 503
    assert _get(open_server, "/api/v1/documents").status_code == 503
    for response in (empty, malformed, no_index):
        assert "Traceback" not in response.text


def test_docs_are_served_offline(server: Server) -> None:
    page = _get(server, "/docs", auth=(USER, PASSWORD))
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert _get(server, "/docs/assets/swagger-ui-bundle.js", auth=(USER, PASSWORD)).status_code == 200
    schema = _get(server, "/openapi.json", auth=(USER, PASSWORD)).json()
    assert {
        "/api/v1/ask",
        "/api/v1/health",
        "/api/v1/documents",
        "/v1/models",
        "/v1/chat/completions",
    } <= set(schema["paths"])


@pytest.mark.parametrize(
    "path", ["/api/v1/health", "/api/v1/documents", "/v1/models", "/docs", "/openapi.json"]
)
def test_every_endpoint_refuses_without_credentials(server: Server, path: str) -> None:
    assert _get(server, path).status_code == 401
    assert _ask(server, {"question": ISTANBUL}).status_code == 401
    chat = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": "citeqa", "messages": [{"role": "user", "content": ISTANBUL}]},
        timeout=60,
    )
    assert chat.status_code == 401


def _listening_on(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port`, from the kernel's tables (hex, as
    /proc/net/tcp writes them: 0100007F is 127.0.0.1)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_by_default_the_server_listens_on_loopback_only(server: Server, open_server: Server) -> None:
    for running in (server, open_server):
        assert _listening_on(int(running.url.rsplit(":", 1)[1])) == {"0100007F"}


def test_without_auth_the_endpoints_are_open_on_loopback(open_server: Server) -> None:
    assert _get(open_server, "/v1/models").json()["data"][0]["id"] == "citeqa"
    assert "citeqa: chat on http://127.0.0.1:" in open_server.output()
    assert "warning" not in open_server.output()


# ------------------------------------------------------------------------------------ OpenAI client


def test_the_openai_client_gets_a_cited_answer(server: Server) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=300)
    assert [m.id for m in client.models.list()] == ["citeqa"]
    reply = client.chat.completions.create(
        model="citeqa",
        messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": ISTANBUL}],
    )
    content = reply.choices[0].message.content or ""
    assert reply.choices[0].finish_reason == "stop"
    assert "[1]" in content and "\n\nSources:\n[1] Rusland wil onderhandelen! (EMMA, 2023-03-04" in content
    citations = reply.model_extra["citations"]  # type: ignore[index]
    assert KUJAT in {c["source"] for c in citations} and citations[0]["n"] == 1

    streamed, last = "", None
    for chunk in client.chat.completions.create(
        model="citeqa", messages=[{"role": "user", "content": ISTANBUL}], stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            streamed += chunk.choices[0].delta.content
        last = chunk
    assert streamed == content
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert [c["source"] for c in last.model_extra["citations"]] == [c["source"] for c in citations]  # type: ignore[index]


def test_the_openai_client_is_refused_with_a_wrong_key(server: Server) -> None:
    from openai import AuthenticationError, OpenAI

    with pytest.raises(AuthenticationError, match="Wrong credentials"):
        OpenAI(base_url=f"{server.url}/v1", api_key=f"{USER}:wrong", max_retries=0).models.list()
    assert _get(server, "/v1/models", auth=(USER, PASSWORD)).status_code == 200  # resets the throttle


# ---------------------------------------------------------------------------- issue 13, case 9


def _login(server: Server, password: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/login", data={"username": USER, "password": password}, timeout=60)
    return response.status_code, time.perf_counter() - started


def test_case9_wrong_passwords_are_slowed_down(server: Server) -> None:
    first, second = _login(server, "guess-1"), _login(server, "guess-2")
    assert first[0] == second[0] == 400
    assert 1.0 <= first[1] < 2.0 and 2.0 <= second[1] < 4.0
    status, seconds = _login(server, PASSWORD)
    assert status == 200 and seconds < 2.0  # not held back: a third failure would have waited 4 s


def test_case9_the_password_from_the_environment_stays_out_of_the_process_list(server: Server) -> None:
    command_line = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().decode()
    assert PASSWORD not in command_line
    assert _get(server, "/api/v1/health").status_code == 401
    assert _get(server, "/api/v1/health", auth=(USER, PASSWORD)).status_code == 200


def test_case9_no_share_link_hint(server: Server, open_server: Server) -> None:
    for running in (server, open_server):
        assert "share=True" not in running.output()
        assert "public link" not in running.output()


def _serve_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **options: Any) -> list[Any]:
    """`serve` up to the point of serving: the app is built but nothing listens beyond loopback and
    nothing is served; returns (app, the host asked for)."""
    import qa.web.server
    from qa.settings import Settings

    asked: list[str] = []
    served: list[Any] = []

    def loopback_only(host: str, port: int) -> Any:
        asked.append(host)
        return real_bind("127.0.0.1", 0)

    real_bind = qa.web.server.bind
    monkeypatch.setattr(qa.web.server, "bind", loopback_only)
    monkeypatch.setattr(qa.web.server, "run_server", lambda app, sock: served.append((app, asked[-1])))
    args = argparse.Namespace(
        **{"host": "127.0.0.1", "port": 7999, "auth": None, "auth_file": None, **options}
    )
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    assert qa.web.server.serve(args, settings) == 0
    return served


def test_case9_serving_beyond_loopback_without_auth_prints_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CITEQA_AUTH", raising=False)
    served = _serve_in_process(monkeypatch, tmp_path)
    assert "warning" not in capsys.readouterr().err and served[0][1] == "127.0.0.1"

    _serve_in_process(monkeypatch, tmp_path, host="0.0.0.0")
    err = capsys.readouterr().err
    assert "citeqa: warning: serving on 0.0.0.0:7999 without --auth" in err

    monkeypatch.setenv("CITEQA_AUTH", KEY)
    _serve_in_process(monkeypatch, tmp_path, host="0.0.0.0")
    assert "warning" not in capsys.readouterr().err


def test_case9_auth_from_a_file_guards_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    monkeypatch.delenv("CITEQA_AUTH", raising=False)
    secret = tmp_path / "auth.txt"
    secret.write_text(f"{KEY}\n", encoding="utf-8")
    os.chmod(secret, 0o600)
    ((app, _),) = _serve_in_process(monkeypatch, tmp_path, auth_file=str(secret))
    client = TestClient(app)
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
