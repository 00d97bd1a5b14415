"""`citeqa mcp` driven by the official `mcp` SDK's stdio client, with the real model and seeds index."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import REAL_CACHE, ROOT

pytestmark = pytest.mark.integration

KUJAT = "000_d6b9d14a00a44e16.txt"


def _session_calls(index_dir: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    """Start `citeqa mcp`, list its tools and make `calls`; returns (tools, results)."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "qa.cli", "mcp", "--index-dir", str(index_dir)],
        env={"CITEQA_CACHE_DIR": str(REAL_CACHE), "PATH": os.environ.get("PATH", "")},
        cwd=ROOT,
    )

    async def session() -> tuple[list[Any], list[Any]]:
        with anyio.fail_after(600):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                tools = (await client.list_tools()).tools
                results = [await client.call_tool(name, arguments) for name, arguments in calls]
                return tools, results

    return anyio.run(session)


def test_an_mcp_host_lists_the_tools_and_gets_a_cited_answer_and_passages(real_seeds_index: Path) -> None:
    tools, (asked, searched, empty) = _session_calls(
        real_seeds_index,
        [
            ("ask", {"question": "What was offered at Istanbul?"}),
            ("search", {"query": "Harald Kujat interview", "k": 3}),
            ("ask", {"question": "   "}),
        ],
    )
    assert {t.name for t in tools} == {"ask", "search"}
    ask_tool = next(t for t in tools if t.name == "ask")
    assert ask_tool.input_schema["required"] == ["question"]

    assert not asked.is_error
    answer = asked.structured_content
    assert answer["question"] == "What was offered at Istanbul?" and answer["refused"] is False
    assert KUJAT in {c["source"] for c in answer["citations"]}
    text = asked.content[0].text
    assert text.startswith(answer["answer"]) and "\n[1] Rusland wil onderhandelen! (EMMA, 2023-03-04" in text

    passages = searched.structured_content["passages"]
    assert len(passages) == 3 and passages[0]["source"] == KUJAT
    assert set(passages[0]) >= {"source", "title", "date", "language", "chunk_id", "score", "text"}

    assert empty.is_error and empty.content[0].text.startswith("The question is empty")
