"""A question is read once: language, names and focus in one place, carried to every stage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import qa.retrieve.focus
import qa.retrieve.names
import qa.retrieve.question
from qa.engine import Engine, clear_engines, get_engine
from qa.pipeline import answer, answer_stream
from qa.retrieve.names import Vocabulary
from qa.retrieve.question import analyse
from qa.settings import Settings
from tests.fakes import FakeEmbedder, fake_collection

SUMMIT = (
    "Summit notes\n\nThe foreign ministers met in Bucharest on 29 November 2022. The ministers discussed "
    "air defence for Ukraine. Ukraine asked for Patriot systems.\n"
)


def test_a_question_is_read_against_the_collection() -> None:
    vocabulary = Vocabulary(["Ukraine asked NATO for help at the summit in Istanbul in 2022."])
    read = analyse("What did Finland offer NATO in 1754 at Istanbul?", vocabulary)
    assert read.language == "en"
    assert read.names == ("Finland", "NATO", "Istanbul")
    assert read.unknown_names == ("Finland",)
    assert read.unknown_numbers == ("1754",)
    assert read.focus == "What did Finland offer NATO in 1754?"
    assert analyse("Wat bood Oekraïne aan?", vocabulary).focus is None


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(
        cache_dir=tmp_path / "cache", index_dir=fake_collection(tmp_path, {"summit.txt": SUMMIT})
    )
    clear_engines()
    yield settings, get_engine(settings, FakeEmbedder())
    clear_engines()


def counting(monkeypatch: pytest.MonkeyPatch, calls: list[str], name: str, *modules: Any) -> None:
    """Count every call of the function `name` through each module that imports it."""
    original: Callable[..., Any] = getattr(modules[0], name)
    for module in modules:
        monkeypatch.setattr(module, name, lambda *a, **kw: calls.append(name) or original(*a, **kw))


@pytest.mark.parametrize("mode", ["extractive", "generative"])
def test_answering_reads_language_and_names_once(
    engine: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    settings, loaded = engine
    calls: list[str] = []
    counting(monkeypatch, calls, "question_names", qa.retrieve.names, qa.retrieve.focus, qa.retrieve.question)
    counting(monkeypatch, calls, "detect_language", qa.retrieve.question)
    question = "What did the ministers discuss in Bucharest?"
    chat = FakeListChatModel(responses=["The ministers discussed air defence for Ukraine [S1]."])
    *_, result = answer_stream(question, settings, engine=loaded, mode=mode, chat=chat)
    assert sorted(calls) == ["detect_language", "question_names"]
    assert not result.refused and result.language == "en"
    calls.clear()
    assert answer(question, settings, engine=loaded).text
    assert sorted(calls) == ["detect_language", "question_names"]
