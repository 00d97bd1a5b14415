"""The REST and OpenAI-compatible routes over a scripted backend: shapes, statuses, credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.conversation import Turn
from qa.types import Answer, Citation
from qa.web.api import create_api
from qa.web.auth import Credentials
from qa.web.openai_api import format_content
from vectorstore.errors import BadQuestion, IndexNotBuilt

QUOTE = "Ukraine offered neutrality."
CITATION = Citation(
    n=1,
    source="istanbul.txt",
    title="Talks",
    date="2022-03-29",
    publisher="Wire",
    language="en",
    chunk_id="c1",
    quote=QUOTE,
    passage=f"Before. {QUOTE} After.",
    quote_start=8,
    quote_end=8 + len(QUOTE),
    score=0.8,
)
ANSWER = Answer(
    question="What was offered?",
    text=f"{QUOTE} [1]",
    refused=False,
    mode="extractive",
    language="en",
    citations=(CITATION,),
)
ANN = Credentials("ann", "pw")


class ScriptedBackend:
    """Answers ANSWER, or raises what `fail` says; records the calls."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[str, int | None, str | None]] = []
        self.histories: list[Any] = []

    def answer(
        self, question: str, k: int | None = None, mode: str | None = None, history: Any = None
    ) -> Answer:
        self.calls.append((question, k, mode))
        self.histories.append(history)
        if self.fail is not None:
            raise self.fail
        return ANSWER

    def documents(self) -> list[dict[str, Any]]:
        if self.fail is not None:
            raise self.fail
        return [{"file": "istanbul.txt", "title": "Talks", "date": None, "publisher": None,
                 "language": "en", "chunks": 2}]  # fmt: skip

    def health(self) -> dict[str, Any]:
        return {"status": "unavailable", "detail": str(self.fail)} if self.fail else {"status": "ok"}


def _client(backend: ScriptedBackend, credentials: Credentials | None = None) -> TestClient:
    return TestClient(create_api(backend, credentials), raise_server_exceptions=False)


def test_ask_passes_question_k_and_mode_and_returns_the_cli_object() -> None:
    backend = ScriptedBackend()
    response = _client(backend).post("/api/v1/ask", json={"question": "What was offered?", "k": 3})
    assert response.status_code == 200
    assert response.json() == ANSWER.to_dict()
    assert backend.calls == [("What was offered?", 3, None)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "question: Field required"),
        ({"question": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": "x", "mode": "poetic"}, "mode: Input should be 'extractive' or 'generative'"),
        ({"question": "x", "colour": 1}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_request_is_a_400_saying_what_is_wrong(body: dict[str, Any], message: str) -> None:
    response = _client(ScriptedBackend()).post("/api/v1/ask", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def test_library_errors_keep_their_message_and_get_their_status() -> None:
    bad = _client(ScriptedBackend(BadQuestion("The question is empty."))).post(
        "/api/v1/ask", json={"question": " "}
    )
    assert (bad.status_code, bad.json()["error"]["message"]) == (400, "The question is empty.")
    missing = _client(ScriptedBackend(IndexNotBuilt("No index at /x.")))
    for response in (missing.post("/api/v1/ask", json={"question": "q"}), missing.get("/api/v1/documents")):
        assert response.status_code == 503
        assert response.json()["error"] == {"message": "No index at /x.", "type": "unavailable", "code": None}
    health = missing.get("/api/v1/health")
    assert (health.status_code, health.json()) == (
        503,
        {"status": "unavailable", "detail": "No index at /x."},
    )


def test_an_unexpected_failure_is_a_500_without_its_traceback() -> None:
    response = _client(ScriptedBackend(ZeroDivisionError("secret detail"))).post(
        "/api/v1/ask", json={"question": "q"}
    )
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Unexpected error (ZeroDivisionError); see the server log."
    assert "secret detail" not in response.text and "Traceback" not in response.text


ROUTES = [
    ("get", "/api/v1/health", None),
    ("get", "/api/v1/documents", None),
    ("post", "/api/v1/ask", {"question": "q"}),
    ("get", "/v1/models", None),
    ("post", "/v1/chat/completions", {"model": "citeqa", "messages": [{"role": "user", "content": "q"}]}),
    ("get", "/docs", None),
    ("get", "/openapi.json", None),
    ("get", "/docs/assets/swagger-ui.css", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_with_credentials_set_every_route_refuses_without_them(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = _client(ScriptedBackend(), ANN)
    refused = client.request(method, path, json=body)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert refused.headers["www-authenticate"].startswith('Basic realm="citeqa"')
    assert client.request(method, path, json=body, auth=("ann", "pw")).status_code == 200
    assert (
        client.request(method, path, json=body, headers={"Authorization": "Bearer ann:pw"}).status_code == 200
    )


def test_without_credentials_set_the_routes_are_open() -> None:
    client = _client(ScriptedBackend())
    for method, path, body in ROUTES:
        assert client.request(method, path, json=body).status_code == 200, path


def test_chat_completion_answers_the_last_user_message_with_sources_and_citations() -> None:
    backend = ScriptedBackend()
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Earlier question"},
        {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": [{"type": "text", "text": "What was offered?"}]},
    ]
    body = (
        _client(backend).post("/v1/chat/completions", json={"model": "citeqa", "messages": messages}).json()
    )
    assert backend.calls == [("What was offered?", None, None)]
    # The earlier user and assistant messages are the conversation's history (the system one is not).
    assert backend.histories == [[Turn("Earlier question", "Earlier answer")]]
    assert body["object"] == "chat.completion" and body["model"] == "citeqa"
    content = body["choices"][0]["message"]["content"]
    assert content == (
        f"{QUOTE} [1]\n\nSources:\n[1] Talks (Wire, 2022-03-29, istanbul.txt): \u201c{QUOTE}\u201d"
    )
    assert content == format_content(ANSWER)
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["citations"] == [CITATION.to_dict()] and body["refused"] is False


def test_chat_completion_streams_openai_chunks_ending_with_done() -> None:
    response = _client(ScriptedBackend()).post(
        "/v1/chat/completions",
        json={"model": "citeqa", "stream": True, "messages": [{"role": "user", "content": "q"}]},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: ") :] for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == format_content(ANSWER)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"] == [
        CITATION.to_dict()
    ]


def test_chat_completion_refuses_an_unknown_model_and_a_conversation_without_a_question() -> None:
    client = _client(ScriptedBackend())
    other = client.post(
        "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]}
    )
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
    no_user = client.post(
        "/v1/chat/completions", json={"model": "citeqa", "messages": [{"role": "system", "content": "x"}]}
    )
    assert no_user.status_code == 400
    assert no_user.json()["error"]["message"] == "The conversation has no user message to answer."
    empty = client.post("/v1/chat/completions", json={"model": "citeqa", "messages": []})
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("messages:")
