"""Hostile questions and bodies at every entry (issue 22, case 6 and the smaller findings).

A question is validated once (`validate_question`), and every interface maps the refusal: REST and the
OpenAI-compatible chat a 400 in the documented error shape with the keep-alive connection kept, MCP a
tool error after which the server answers the next call, the CLI one line and exit 1. The servers are
real processes (`tests.fake_cli`: the fake embedder instead of the model) and the clients real ones
(httpx, the `openai` client, an MCP host's JSON-RPC lines, `subprocess` with argv bytes that are not
UTF-8). On 0a43961 a lone surrogate was a 500 that dropped the connection, MCP never replied, the CLI
said `unexpected error`, a body nested 100,000 deep got `{"detail": ...}` and "?!?" was answered.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.pipeline import MAX_QUESTION_CHARS, validate_question
from tests.conftest import ROOT
from tests.fakes import fake_collection
from tests.mcp_pipe import McpPipe
from tests.serving import Server, serving
from vectorstore.errors import BadQuestion

ISTANBUL = "Istanbul talks\n\nIn Istanbul Ukraine offered neutrality in exchange for guarantees.\n"
QUESTION = "What did Ukraine offer in Istanbul?"
NOT_UTF8 = "The question is not valid UTF-8 text"

# (id, the question as JSON text: escapes the clients could not send themselves, start of the error)
REFUSED = [
    ("lone-high-surrogate", r'"\ud800 Istanbul?"', NOT_UTF8),
    ("lone-low-surrogate", r'"Istanbul \udfff?"', NOT_UTF8),
    ("replacement-char", r'"Istan\ufffdbul?"', NOT_UTF8),
    ("noncharacter-fffe", r'"\ufffe Istanbul?"', "The question holds the noncharacter U+FFFE"),
    ("noncharacter-ffff", r'"Istanbul?\uffff"', "The question holds the noncharacter U+FFFF"),
    ("noncharacter-fdd0", r'"\ufdd0Istanbul"', "The question holds the noncharacter U+FDD0"),
    ("nul", r'"Istanbul\u0000?"', "The question contains control characters"),
    ("escape", r'"\u001b[2J Istanbul?"', "The question contains control characters"),
    ("c1-control", r'"Istanbul\u0085?"', "The question contains control characters"),
    ("punctuation", '"?!?"', "The question has no words"),
    ("dots", '"..."', "The question has no words"),
    ("inverted", '"¿¡"', "The question has no words"),
    ("emoji", '"\U0001f600\U0001f914 ?"', "The question has no words"),
    ("one-megabyte", json.dumps("Istanbul? " * 100_000), "The question is 1,000,000 characters long"),
]
# Odd but readable: answered or refused as any question, never an error.
ACCEPTED = {
    "short-german": "Wer?",
    "rtl-override": "What did \u202eUkraine\u202c offer in Istanbul?",
    "zero-width-joiner": "What did Ukr\u200daine offer in Istan\u200cbul?",
    "persian-zwnj": "اوکراین در استانبول چه پیشنهاد کرد\u200cاند؟",
    "fullwidth-nfkc": "Ｗｈａｔ ｄｉｄ Ｕｋｒａｉｎｅ ｏｆｆｅｒ ｉｎ Ｉｓｔａｎｂｕｌ？",
    "ligature-and-math": "What did \U0001d414kraine o\ufb00er in Istanbul?",
    "combining-marks": "What did Ukrai\u0308ne offer in Istanbul\u0301?",
    "emoji-with-words": "What did Ukraine offer in Istanbul \U0001f1fa\U0001f1e6?",
    "year-alone": "1754?",
}


# ----------------------------------------------------------------------------- validate_question


@pytest.mark.parametrize(("raw", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_validation_refuses_unreadable_text_and_questions_without_words(raw: str, message: str) -> None:
    with pytest.raises(BadQuestion) as refused:
        validate_question(json.loads(raw))
    text = str(refused.value)
    assert text.startswith(message)
    assert "\n" not in text and text.encode("utf-8")  # one line, printable everywhere


@pytest.mark.parametrize("question", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_validation_keeps_odd_but_readable_questions(question: str) -> None:
    assert validate_question(question) == " ".join(question.split())


def test_every_gold_question_passes_validation() -> None:
    """The gold sets' figures cannot move: no gold question (nor a follow-up's history) is refused."""
    questions = []
    for path in sorted((ROOT / "gold").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            questions += [record["question"], *record.get("history", ())]
            questions += [record["standalone"]] if record.get("standalone") else []
    assert len(questions) >= 454  # dev, holdout, seeds and the xquad-dev sets
    for question in questions:
        assert validate_question(question) == " ".join(question.split())
    assert len(max(questions, key=len)) < MAX_QUESTION_CHARS


# ------------------------------------------------------------------------------------- HTTP


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder index of one document, built with the fake embedder."""
    return fake_collection(tmp_path_factory.mktemp("entry"), {"istanbul.txt": ISTANBUL})


@pytest.fixture(scope="module")
def server(collection: Path) -> Iterator[Server]:
    root = collection.parent
    env = {"CITEQA_CACHE_DIR": str(root / "cache")}
    with serving(["--index-dir", str(collection)], root / "serve.log", env, module="tests.fake_cli") as up:
        yield up


def _client_port(response: httpx.Response) -> int:
    """The local port of the connection the response came on: the same one means kept alive."""
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def _post(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def _chat_body(raw_question: str, stream: bool = False) -> bytes:
    return b'{"model": "citeqa", "stream": %s, "messages": [{"role": "user", "content": %s}]}' % (
        b"true" if stream else b"false",
        raw_question.encode(),
    )


@pytest.mark.parametrize(("raw", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_case6_rest_refuses_with_400_and_keeps_the_connection(server: Server, raw: str, message: str) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        refused = _post(client, "/api/v1/ask", b'{"question": %s}' % raw.encode())
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["type"] == "invalid_request_error"
        assert refused.json()["error"]["message"].startswith(message)
        answered = _post(client, "/api/v1/ask", json.dumps({"question": QUESTION}).encode())
        assert answered.status_code == 200 and answered.json()["citations"], answered.text
        assert _client_port(answered) == _client_port(refused), "the connection was dropped"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize(("raw", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_case6_openai_chat_refuses_with_an_openai_error_object(
    server: Server, raw: str, message: str, stream: bool
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        refused = _post(client, "/v1/chat/completions", _chat_body(raw, stream))
        assert refused.status_code == 400 and refused.headers["content-type"] == "application/json"
        error = refused.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"].startswith(message)
        answered = _post(client, "/v1/chat/completions", _chat_body(json.dumps(QUESTION), stream))
        assert answered.status_code == 200
        assert _client_port(answered) == _client_port(refused), "the connection was dropped"


class _WriteSurrogate(httpx.HTTPTransport):
    """Writes MARK in a request body as the JSON escape of a lone surrogate, which the `openai`
    client (like httpx) refuses to encode itself."""

    MARK = "LONE-SURROGATE"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read().replace(self.MARK.encode(), rb"\ud800")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        return super().handle_request(
            httpx.Request(request.method, request.url, headers=headers, content=body)
        )


def test_case6_the_openai_client_gets_a_bad_request_error_and_answers_after_it(server: Server) -> None:
    from openai import BadRequestError, OpenAI

    transport = _WriteSurrogate()
    http = httpx.Client(transport=transport, timeout=60)
    client = OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, http_client=http)
    for stream in (False, True):
        with pytest.raises(BadRequestError, match=NOT_UTF8) as refused:
            client.chat.completions.create(
                model="citeqa",
                stream=stream,
                messages=[{"role": "user", "content": f"{transport.MARK} Istanbul?"}],
            )
        assert refused.value.status_code == 400 and refused.value.type == "invalid_request_error"
    reply = client.chat.completions.create(model="citeqa", messages=[{"role": "user", "content": QUESTION}])
    assert "[1]" in (reply.choices[0].message.content or "")


def _nested(depth: int, question: bytes = b'"x"') -> dict[str, bytes]:
    return {
        "arrays": b'{"question": ' + b"[" * depth + b"]" * depth + b"}",
        "objects": b'{"question": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}",
        "bare": b"[" * depth,
    }


MALFORMED = [
    ("/api/v1/ask", "nested-arrays-100k", _nested(100_000)["arrays"]),
    ("/api/v1/ask", "nested-objects-100k", _nested(100_000)["objects"]),
    ("/api/v1/ask", "unclosed-100k", _nested(100_000)["bare"]),
    ("/api/v1/ask", "nested-900", _nested(900)["arrays"]),
    ("/api/v1/ask", "not-utf8", b'{"question": "\xff\xfe Istanbul?"}'),
    ("/api/v1/ask", "not-json", b"question=Istanbul"),
    ("/api/v1/ask", "surrogate-key", b'{"question": "Istanbul?", "\\ud800": 1}'),
    ("/v1/chat/completions", "nested-messages-100k",
     b'{"model": "citeqa", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("/v1/chat/completions", "nested-text-part-900",
     b'{"model": "citeqa", "messages": [{"role": "user", "content": [{"type": "text", "text": '
     + b"[" * 900 + b"]" * 900 + b"}]}]}"),
    ("/api/v1/ask", "five-megabytes-ask", json.dumps({"question": "x" * 5_000_000}).encode()),
    ("/v1/chat/completions", "five-megabytes-chat", _chat_body(json.dumps("x" * 5_000_000))),
    ("/v1/chat/completions", "surrogate-model",
     b'{"model": "\\udfff", "messages": [{"role": "user", "content": "Istanbul?"}]}'),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), [(m[0], m[2]) for m in MALFORMED], ids=[m[1] for m in MALFORMED])
def test_a_malformed_body_gets_the_documented_error_shape_and_keeps_the_connection(
    server: Server, path: str, body: bytes
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        refused = _post(client, path, body)
        assert 400 <= refused.status_code < 500, refused.text
        assert set(refused.json()) == {"error"}, refused.text
        error = refused.json()["error"]
        assert set(error) == {"message", "type", "code"} and error["type"] == "invalid_request_error"
        assert "\n" not in error["message"] and "Traceback" not in refused.text
        answered = _post(client, "/api/v1/ask", json.dumps({"question": QUESTION}).encode())
        assert answered.status_code == 200
        assert _client_port(answered) == _client_port(refused), "the connection was dropped"


def test_a_body_over_4_mib_is_a_413_before_it_is_parsed(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for path, name, body in MALFORMED:
            if name.startswith("five-megabytes"):
                refused = _post(client, path, body)
                assert refused.status_code == 413, refused.text
                assert refused.json()["error"]["message"] == "The request body is over 4,194,304 bytes."


def test_the_server_logged_no_traceback(server: Server) -> None:
    """After everything above (and with it when run alone): nothing hostile reached the log."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _, raw, _ in REFUSED:
            _post(client, "/api/v1/ask", b'{"question": %s}' % raw.encode())
        for path, _, body in MALFORMED:
            _post(client, path, body)
    log = server.output()
    for trace in ("Traceback", "RecursionError", "Exception in ASGI"):
        assert trace not in log, log[-3000:]


# -------------------------------------------------------------------------------------- MCP


def test_case6_mcp_replies_with_a_tool_error_and_serves_the_next_call(
    collection: Path, tmp_path: Path
) -> None:
    pipe = McpPipe(["--index-dir", str(collection)], tmp_path / "mcp.log", tmp_path / "cache")
    try:
        for tool, key in (("ask", "question"), ("search", "query")):
            for _, raw, message in REFUSED:
                result = pipe.call(tool, b'{"%s": %s}' % (key.encode(), raw.encode()))
                assert result["isError"] is True, (tool, raw, result)
                assert result["content"][0]["text"].startswith(message), (tool, raw, result)
        # Lines that are no request at all get JSON-RPC's error reply, with id null.
        for line, code in ((b"not json", -32700), (b"[" * 100_000, -32700), (b'{"id": 1}', -32600)):
            pipe.send(line)
            assert pipe.reply_to(None)["error"]["code"] == code
        answered = pipe.call("ask", json.dumps({"question": QUESTION}).encode())
        assert answered["isError"] is False and answered["structuredContent"]["citations"]
        assert pipe.process.poll() is None
    finally:
        pipe.close()
    assert "Traceback" not in pipe.stderr()


# -------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (b"\xff Istanbul?", NOT_UTF8),  # argv bytes that are not UTF-8 arrive surrogate-escaped
        (b"Istanbul \xed\xa0\x80?", NOT_UTF8),  # a surrogate encoded in UTF-8 (CESU)
        (b"Istanbul\x1b[2J?", "The question contains control characters"),
        ("\ufffe Istanbul?".encode(), "The question holds the noncharacter U+FFFE"),
        ("¿¡".encode(), "The question has no words"),
        (b"?!?", "The question has no words"),
    ],
    ids=["invalid-utf8", "encoded-surrogate", "escape", "noncharacter", "inverted", "punctuation"],
)
def test_case6_the_cli_says_one_line_and_exits_1(collection: Path, argument: bytes, message: str) -> None:
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"tests.fake_cli", b"ask", argument, b"--index-dir",
         str(collection).encode(), b"--json"],
        cwd=ROOT, capture_output=True, timeout=300,
    )  # fmt: skip
    err = done.stderr.decode("utf-8", "backslashreplace")
    assert (done.returncode, done.stdout) == (1, b""), err
    assert err.startswith(f"citeqa: {message}") and err.count("\n") == 1, err


def test_the_cli_still_answers_an_odd_but_readable_question(collection: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", "ask", ACCEPTED["rtl-override"], "--index-dir",
         str(collection), "--json"],
        cwd=ROOT, capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    question = ACCEPTED["rtl-override"]
    assert json.loads(done.stdout)["question"] == question
