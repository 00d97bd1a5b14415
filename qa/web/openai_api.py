"""OpenAI-compatible chat under /v1, so any OpenAI-style client can use citeqa as a model.

`GET /v1/models` lists one model, `citeqa`. `POST /v1/chat/completions` answers the last user message
of the conversation, read together with the earlier user and assistant messages (`history_of`: a
follow-up such as "Who said that?" is understood from them; see `qa.conversation`). The
message content is the answer with its [n] markers followed by the numbered sources; the structured
citations travel beside it in `citations` (and `refused`), in the response or in the last streamed
chunk. With `"stream": true` the answer arrives as server-sent events in OpenAI's chunk format,
ending with `data: [DONE]`; it is streamed once verified, so a generative draft that fails its checks
is never sent.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.backend import Backend
from qa.conversation import Turn
from qa.types import Answer
from qa.web.api import ERRORS
from qa.web.errors import ApiError

MODEL_ID = "citeqa"
_STREAM_WORDS = 3  # words per streamed chunk


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields citeqa reads; others a client sends (temperature, max_tokens, ...) are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(MODEL_ID, examples=[MODEL_ID])
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(None, ge=1, le=50, description="citeqa: passages to retrieve.")
    mode: Literal["extractive", "generative"] | None = Field(None, description="citeqa: how to answer.")


def last_user_message(messages: list[ChatMessage]) -> str:
    """The text of the last user message (text parts joined), or ApiError 400 when there is none."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        if isinstance(message.content, str):
            return message.content
        if isinstance(message.content, list):
            texts = [p.get("text", "") for p in message.content if p.get("type") == "text"]
            if not all(isinstance(text, str) for text in texts):
                # Not str() of what came: a list nested 900 deep would recurse past Python's limit.
                raise ApiError(400, "A text part's `text` must be a string.", "invalid_request_error")
            return "\n".join(texts)
        return ""
    raise ApiError(400, "The conversation has no user message to answer.", "invalid_request_error")


def _text(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    if isinstance(message.content, list):
        return "\n".join(str(p.get("text", "")) for p in message.content if p.get("type") == "text")
    return ""


def history_of(messages: list[ChatMessage]) -> list[Turn]:
    """The turns before the last user message: each earlier user message with the assistant reply
    after it (its text, whose "Sources:" lines hold the quotes). System messages are not turns."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    turns: list[Turn] = []
    for message in messages[:last]:
        if message.role == "user":
            turns.append(Turn(_text(message)))
        elif message.role == "assistant" and turns and not turns[-1].answer:
            body, quotes = split_content(_text(message))
            turns[-1] = Turn(turns[-1].question, body, quotes)
    return turns


_QUOTE_LINE = re.compile(r"^\[\d+\] .*?: \u201c(.*)\u201d$")


def split_content(content: str) -> tuple[str, tuple[str, ...]]:
    """An assistant message as `format_content` wrote it: the answer, and the quotes of its sources."""
    body, _, sources = content.partition("\n\nSources:\n")
    quotes = tuple(m.group(1) for line in sources.splitlines() if (m := _QUOTE_LINE.match(line)))
    return body, quotes


def format_content(answer: Answer) -> str:
    """The answer with its markers, a note if any, then one line per numbered source."""
    parts = [answer.text]
    if answer.note:
        parts.append(f"({answer.note})")
    if answer.citations:
        lines = ["Sources:"]
        for c in answer.citations:
            meta = ", ".join(x for x in (c.publisher, c.date, c.source, c.place.label()) if x)
            lines.append(f"[{c.n}] {c.title} ({meta}): \u201c{c.quote}\u201d")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _extras(answer: Answer) -> dict[str, Any]:
    return {"citations": [c.to_dict() for c in answer.citations], "refused": answer.refused}


def completion(answer: Answer, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": format_content(answer)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        # citeqa runs no token-counting language model in the extractive mode; zeros say "not counted".
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_extras(answer),
    }


def chunks(answer: Answer, completion_id: str, created: int) -> Iterator[str]:
    """The answer as server-sent events: role, content in pieces, the finish with the citations, [DONE]."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    words = re.findall(r"\S+\s*|\s+", format_content(answer))
    for start in range(0, len(words), _STREAM_WORDS):
        yield event({"content": "".join(words[start : start + _STREAM_WORDS])})
    yield event({}, "stop", **_extras(answer))
    yield "data: [DONE]\n\n"


def openai_router(backend: Backend) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], responses=ERRORS)

    @router.get("/models")
    def models() -> dict[str, Any]:
        """The one model citeqa serves."""
        return {
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "citeqa"}],
        }

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(request: ChatRequest) -> dict[str, Any] | StreamingResponse:
        """Answer the last user message; `"stream": true` for server-sent events."""
        if request.model != MODEL_ID:
            raise ApiError(
                404, f"The model {request.model!r} does not exist; use {MODEL_ID!r}.",
                "invalid_request_error", "model_not_found",
            )  # fmt: skip
        question = last_user_message(request.messages)
        history = history_of(request.messages)
        # Answered before any byte is sent, so an error still gets its status and JSON body.
        if history:
            answer = await run_in_threadpool(backend.answer, question, request.k, request.mode, history)
        else:
            answer = await run_in_threadpool(backend.answer, question, request.k, request.mode)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if request.stream:
            return StreamingResponse(
                chunks(answer, completion_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return completion(answer, completion_id, created)

    return router
