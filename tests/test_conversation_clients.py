"""Conversations through real clients, with the real model and the seeds: REST with `history`, the
official `openai` client sending a three-message conversation, an MCP host passing `history`, and
`citeqa chat` driven through a pseudo-terminal. Bad histories get one line (or a JSON error), never a
traceback.

The conversation is one of the development set's (gold/followups/seeds.jsonl, fu-seeds-13): asked
alone, "Which newspaper was he talking to?" does not find the newspaper; after the question naming the
diplomat it quotes the sentence saying he spoke to Die Welt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import REAL_CACHE, ROOT
from tests.serving import Server, serving

pytestmark = pytest.mark.integration

PESCO = "001_5b70a646f9b877f3.txt"
FIRST = "Which Russian diplomat said Russia is open to cooperation with PESCO?"
FOLLOW_UP = "Which newspaper was he talking to?"
NEWSPAPER = "Die Welt"


@pytest.fixture(scope="module")
def server(real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("conversation") / "serve.log"
    with serving(["--index-dir", str(real_seeds_index)], log) as running:
        yield running


def _ask(server: Server, body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/ask", json=body, timeout=300)


def test_rest_reads_a_follow_up_with_its_history(server: Server) -> None:
    first = _ask(server, {"question": FIRST}).json()
    assert first["history_used"] is False and first["retrieval_question"] == FIRST
    alone = _ask(server, {"question": FOLLOW_UP}).json()
    assert NEWSPAPER not in alone["answer"]
    turn = {"question": FIRST, "answer": first["answer"], "citations": first["citations"]}
    body = _ask(server, {"question": FOLLOW_UP, "history": [turn]}).json()
    assert body["history_used"] is True and body["question"] == FOLLOW_UP
    assert body["retrieval_question"].startswith(f"{FOLLOW_UP} {FIRST}")
    assert NEWSPAPER in body["answer"] and body["citations"][0]["source"] == PESCO


@pytest.mark.parametrize(
    ("history", "says"),
    [
        ("What was asked before", "history"),  # not a list of turns
        ([{"answer": "no question"}], "history.0.question"),
        ([{"question": "Q?"}] * 1000, "history"),  # more turns than any conversation reads
        ([{"question": "Q?", "answer": "x" * 1_000_000}], "history.0.answer"),  # a 1 MB turn
    ],
)
def test_a_bad_history_is_one_line_in_the_documented_error_shape(
    server: Server, history: Any, says: str
) -> None:
    response = _ask(server, {"question": FOLLOW_UP, "history": history})
    malformed = _ask(server, {})  # what every malformed request gets
    assert response.status_code == malformed.status_code and response.status_code in (400, 422)
    message = response.json()["error"]["message"]
    assert message.startswith(says) and "\n" not in message and len(message) < 300
    assert "Traceback" not in server.output()


def test_the_openai_client_sends_a_three_message_conversation(server: Server) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", timeout=300)
    first = client.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": FIRST}])
    reply = first.choices[0].message.content or ""
    assert "Tsjizjov" in reply
    follow = client.chat.completions.create(
        model="citeqa",
        messages=[
            {"role": "user", "content": FIRST},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    content = follow.choices[0].message.content or ""
    assert NEWSPAPER in content.split("\n\nSources:")[0]
    assert PESCO in {c["source"] for c in follow.model_extra["citations"]}  # type: ignore[index]


def test_an_mcp_host_passes_the_history(real_seeds_index: Path) -> None:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "qa.cli", "mcp", "--index-dir", str(real_seeds_index)],
        env={"CITEQA_CACHE_DIR": str(REAL_CACHE), "PATH": os.environ.get("PATH", "")},
        cwd=ROOT,
    )

    async def session() -> tuple[Any, Any, Any]:
        with anyio.fail_after(600):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                first = await client.call_tool("ask", {"question": FIRST})
                turn = {"question": FIRST, "answer": first.structured_content["answer"]}
                turn["citations"] = [c["quote"] for c in first.structured_content["citations"]]
                follow = await client.call_tool("ask", {"question": FOLLOW_UP, "history": [turn]})
                bad = await client.call_tool("ask", {"question": FOLLOW_UP, "history": "not turns"})
                return first, follow, bad

    first, follow, bad = anyio.run(session)
    assert not first.is_error and not follow.is_error
    answer = follow.structured_content
    assert answer["history_used"] is True and NEWSPAPER in answer["answer"]
    assert bad.is_error and "Traceback" not in bad.content[0].text


def test_citeqa_chat_in_a_terminal(real_seeds_index: Path, tmp_path: Path) -> None:
    import pexpect

    env = {**os.environ, "CITEQA_CACHE_DIR": str(REAL_CACHE), "TERM": "dumb"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "qa.cli", "chat", "--index-dir", str(real_seeds_index)],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=600,
    )
    try:
        prompt = r"\r?\n> "
        child.expect("Ctrl-D leaves")
        child.expect("> ")
        child.sendline(FIRST)
        child.expect(prompt)
        # The answer, then its numbered sources with their quotes, as `citeqa ask` prints them.
        assert "Tsjizjov" in child.before and "\n[1] " in child.before.replace("\r", "")
        child.sendline(FOLLOW_UP)
        child.expect(prompt)
        assert NEWSPAPER in child.before.split("[1]")[0] and PESCO in child.before
        child.sendline("x" * 20_000)  # too long a question: one line, and the conversation goes on
        child.expect(prompt)
        assert "citeqa: The question is 20,000 characters long" in child.before
        assert "Traceback" not in child.before
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
