"""The packaged GGUF answering for real: in-process, and behind llama.cpp's OpenAI-compatible server.

The GGUF is pulled through the CLI's code path when the cache lacks it, so these tests never skip.
Prompts and replies are kept tiny: on two cores the model writes about 25 tokens per second.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from qa.generate.llm import chat_model, pull_llm
from qa.settings import GenerationSettings, Settings
from tests.conftest import REAL_CACHE

pytestmark = pytest.mark.integration

QUESTION = [
    SystemMessage("Answer with one word."),
    HumanMessage("What is the capital of France?"),
]
_SERVER_START_S = 180


@pytest.fixture(scope="session")
def real_gguf() -> Path:
    return pull_llm(REAL_CACHE, progress=True)


@pytest.fixture(scope="session")
def llama_server(real_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free loopback port; yields its base URL (…/v1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(real_gguf), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", str(os.cpu_count() or 1),
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(server, base_url, log)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_serving(server: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + _SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server exited with {server.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                if json.load(response).get("data"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama_cpp.server did not answer {base_url}/models within {_SERVER_START_S} s")


def test_packaged_gguf_answers_in_process(real_gguf: Path) -> None:
    settings = Settings(
        cache_dir=REAL_CACHE, generation=GenerationSettings(max_tokens=16, context_tokens=2048)
    )

    reply = chat_model(settings).invoke(QUESTION)

    assert isinstance(reply.content, str)
    assert "paris" in reply.content.lower()


def test_openai_backend_against_the_llama_cpp_server(llama_server: str) -> None:
    settings = Settings(
        cache_dir=REAL_CACHE,
        generation=GenerationSettings(
            backend="openai", base_url=llama_server, model="local", max_tokens=16, timeout_s=120
        ),
    )

    model = chat_model(settings)
    reply = model.invoke(QUESTION)
    # A reply that would run long stops at max_tokens: the server understood the limit we sent.
    counting = model.invoke("Count from 1 to 500, separated by commas.")

    assert isinstance(reply.content, str)
    assert "paris" in reply.content.lower()
    assert counting.response_metadata["finish_reason"] == "length"
    assert counting.usage_metadata is not None
    assert counting.usage_metadata["output_tokens"] == 16
