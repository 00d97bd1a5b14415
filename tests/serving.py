"""Start `citeqa serve` as a real process on a free loopback port, for tests with real clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REAL_CACHE, ROOT

START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serving(
    args: Sequence[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    module: str = "qa.cli",
) -> Iterator[Server]:
    """`python -m qa.cli serve ARGS --port P` with the real model cache; stopped afterwards.

    Ready once `/` answers 200 (the chat page, or its login form). The environment is the test's own
    plus `env` (which may name another CITEQA_CACHE_DIR), without CITEQA_AUTH unless `env` sets it.
    `module` "tests.fake_cli" serves with the fake embedder instead of the model.
    """
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "CITEQA_AUTH"}
    environment.update(
        CITEQA_CACHE_DIR=str(REAL_CACHE), GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1"
    )
    environment.update(env or {})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "serve", *args, "--port", str(port)],
            cwd=cwd,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"citeqa serve exited with {process.returncode}:\n{server.output()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"citeqa serve did not answer on {server.url}:\n{server.output()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
