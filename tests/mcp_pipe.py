"""An MCP host's side of `citeqa mcp` written by hand: JSON-RPC lines over the process's pipes.

The SDK's client cannot send what a hostile host can (a lone surrogate escape, a line that is not
JSON), so these tests write the bytes themselves and read the replies with a deadline: a server that
never answers fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

REPLY_TIMEOUT_S = 120


class McpPipe:
    """`python -m tests.fake_cli mcp ARGS` (the fake embedder), initialized; `close()` ends it."""

    def __init__(self, args: list[str], log: Path, cache: Path) -> None:
        env = {**os.environ, "CITEQA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
        self.log = log
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.fake_cli", "mcp", *args],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                bufsize=0,
            )
        self._buffer = b""
        self._next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "tests", "version": "0"}})  # fmt: skip
        self.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def reply(self) -> dict[str, Any]:
        """The next message the server writes (a reply or a notification)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise AssertionError(f"no reply in {REPLY_TIMEOUT_S} s; stderr:\n{self.stderr()}")
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"the server closed stdout; stderr:\n{self.stderr()}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def reply_to(self, request_id: int | None) -> dict[str, Any]:
        while True:
            message = self.reply()
            if "method" not in message and message.get("id") == request_id:
                return message

    def request(self, method: str, params: dict[str, Any], raw_params: bytes | None = None) -> dict[str, Any]:
        """Send a request (its params as `raw_params` bytes when given) and return its reply."""
        self._next_id += 1
        body = raw_params if raw_params is not None else json.dumps(params).encode()
        self.send(b'{"jsonrpc": "2.0", "id": %d, "method": "%s", "params": %s}' % (
            self._next_id, method.encode(), body))  # fmt: skip
        return self.reply_to(self._next_id)

    def call(self, tool: str, raw_arguments: bytes) -> dict[str, Any]:
        """tools/call `tool` with the arguments object written as given; returns the result."""
        reply = self.request(
            "tools/call", {}, b'{"name": "%s", "arguments": %s}' % (tool.encode(), raw_arguments)
        )
        assert "result" in reply, reply
        result: dict[str, Any] = reply["result"]
        return result

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
