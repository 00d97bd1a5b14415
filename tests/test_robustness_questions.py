"""Hostile and foreign-script questions: a normal answer or refusal, never an error, never live HTML."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import qa.engine
from qa.cli import main
from qa.engine import clear_engines
from qa.pipeline import answer
from qa.settings import Settings
from qa.web import chat as web
from qa.web.collection import Collection
from tests.fakes import FakeEmbedder, fake_collection

SCRIPT = "<script>alert(1)</script>"
HOSTILE = {
    "arabic": "ماذا عرضت أوكرانيا في إسطنبول؟",
    "hebrew": "מה הציעה אוקראינה באיסטנבול?",
    "chinese": "乌克兰在伊斯坦布尔提出了什么？",
    "japanese": "ウクライナはイスタンブールで何を提案しましたか？",
    "mixed-bidi": "What did \u202eUkraine\u202c offer? إسطنبول",
    "script": SCRIPT,
    "img": '<img src=x onerror="alert(1)"> Istanbul?',
    "sql": "'; DROP TABLE chunks; --",
    "sql-or": "Istanbul' OR '1'='1",
    "template": "{{7*7}} ${7*7} %s %(x)s {0}",
}
DOCS = {
    "istanbul.txt": "Istanbul talks\n\nIn Istanbul Ukraine offered neutrality in exchange for guarantees.\n",
    "html.txt": f"Notes\n\nThe page contained {SCRIPT} and <b>bold</b> markup quoted as text.\n",
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    index_dir = fake_collection(tmp_path, DOCS)
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *a, **kw: FakeEmbedder())
    clear_engines()
    yield Settings(cache_dir=tmp_path / "cache", index_dir=index_dir)
    clear_engines()


@pytest.mark.parametrize("question", list(HOSTILE.values()), ids=list(HOSTILE))
def test_answered_or_refused_never_an_error(settings: Settings, question: str) -> None:
    result = answer(question, settings)
    assert result.refused or result.citations
    assert result.question == " ".join(question.split())
    json.dumps(result.to_dict())  # serialisable as the CLI and API return it


@pytest.mark.parametrize("question", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_cli_answers_with_exit_zero(
    settings: Settings, question: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", question, "--index-dir", str(settings.index_dir), "--json"]) == 0
    out, err = capfd.readouterr()
    assert err == "" and json.loads(out)["question"] == " ".join(question.split())


@pytest.mark.parametrize("question", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_web_page_shows_the_question_as_text(settings: Settings, tmp_path: Path, question: str) -> None:
    collection = Collection(settings, FakeEmbedder(), folders=[tmp_path / "docs"])
    service = web.ChatService(settings, collection)
    *_, last = service.respond(question, [], {})
    _, history, answers, sources, _ = last
    user, bot = history[0]["content"], history[1]["content"]
    # The bubble is the question's text, every character of markup a character reference.
    prefix, suffix = '<div class="citeqa-user-text">', "</div>"
    assert user.startswith(prefix) and user.endswith(suffix)
    inner = user[len(prefix) : -len(suffix)]
    assert "<" not in inner.replace("<br>", "")
    assert html.unescape(inner.replace("<br>", "\n")) == question.strip()
    assert "citeqa-error" not in bot
    for rendered in (user, bot, sources):
        assert "<script" not in rendered and "<img" not in rendered and "<b>bold" not in rendered
    assert html.escape(" ".join(question.split()), quote=True) in sources


def test_document_markup_is_quoted_as_text_in_the_answer(settings: Settings, tmp_path: Path) -> None:
    collection = Collection(settings, FakeEmbedder(), folders=[tmp_path / "docs"])
    service = web.ChatService(settings, collection)
    *_, last = service.respond("Which markup did the page contain, quoted as text?", [], {})
    _, history, answers, sources, _ = last
    result: Any = answers[1]
    assert not result.refused and SCRIPT in result.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history[1]["content"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sources
    assert "<script" not in history[1]["content"] + sources and "<b>bold" not in sources


@pytest.mark.integration
@pytest.mark.parametrize("question", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_real_model_answers_or_refuses(real_settings: Settings, question: str) -> None:
    result = answer(question, real_settings)
    assert result.refused or result.citations


@pytest.mark.parametrize("question", ["\ud800 Istanbul?", "caf\udce9?", "?!?"])
def test_the_web_chat_says_in_one_message_what_is_wrong_with_an_unreadable_question(
    settings: Settings, tmp_path: Path, question: str
) -> None:
    collection = Collection(settings, FakeEmbedder(), folders=[tmp_path / "docs"])
    service = web.ChatService(settings, collection)
    *_, last = service.respond(question, [], {})
    _, history, _, sources, _ = last
    bot = history[-1]["content"]
    assert "citeqa-error" in bot and "Traceback" not in bot
    orjson.dumps([history, sources])  # Gradio sends the page its outputs with orjson: no surrogates
