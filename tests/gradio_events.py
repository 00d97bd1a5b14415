"""Raw HTTP to a Gradio app's event queue, as a hostile client would send it (no gradio_client checks)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx


def event_id(client: httpx.Client, component_type: str, trigger: str) -> int:
    """The id (fn_index) of the event `trigger` of the page's first component of `component_type`."""
    config = client.get("/config").raise_for_status().json()
    component = next(c["id"] for c in config["components"] if c.get("type") == component_type)
    return int(next(d["id"] for d in config["dependencies"] if [component, trigger] in d["targets"]))


def file_data(path: str, name: str | None = None) -> dict[str, Any]:
    """A Gradio FileData naming `path`, as a client may write it."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def run_event(
    client: httpx.Client, fn_index: int, data: list[Any], timeout: float = 300
) -> list[dict[str, Any]]:
    """Join the queue with `data` for event `fn_index` in a new session; returns every message of it.

    The last one is `process_completed` (with `success` and `output`) unless the queue refused it.
    """
    session = secrets.token_hex(8)
    joined = client.post(
        "/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None},
    )
    if joined.status_code != 200:
        return [{"msg": "join_refused", "status": joined.status_code, "body": joined.text}]
    messages: list[dict[str, Any]] = []
    with client.stream(
        "GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout
    ) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            messages.append(message)
            if message.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                break
    return messages


def upload_bytes(client: httpx.Client, name: str, data: bytes) -> str:
    """Send a file through Gradio's upload route, as the page does; returns the path it was given."""
    response = client.post("/gradio_api/upload", files={"files": (name, data)}).raise_for_status()
    return str(response.json()[0])
