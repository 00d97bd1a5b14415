"""A question asked inside a conversation (qa.conversation), with the fake embedder: without history the
answer is the one-shot answer; a follow-up is retrieved with its context; evaluation replays histories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from qa.conversation import Turn
from qa.engine import Engine
from qa.evaluate.followups import ALONE, IN_CONVERSATION, STANDALONE, evaluate_followups, followup_rows
from qa.evaluate.gold import GoldQuestion
from qa.pipeline import answer
from qa.settings import Settings
from qa.types import Answer
from tests.fakes import FakeEmbedder
from vectorstore.indexer import build
from vectorstore.settings import ChunkingSettings, StoreSettings

# Two interviews: who interviewed whom is said once for each; only the names tell them apart.
PROFILE = (
    "Kujat\n\n"
    "Harald Kujat was chairman of the NATO Military Committee.\n\n"
    "Thomas Kaiser interviewed Harald Kujat for Zeitgeschehen.\n"
)
MAYOR = (
    "Mayor\n\n"
    "Anna Berg was mayor of Utrecht for ten years.\n\n"
    "Peter Smit interviewed Anna Berg for the city paper.\n"
)
QUESTIONS = ("Who interviewed Anna Berg?", "What positions did Harald Kujat hold?", "Wie was burgemeester?")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "profile.txt").write_text(PROFILE, encoding="utf-8")
    (docs / "mayor.txt").write_text(MAYOR, encoding="utf-8")
    build([docs], tmp_path / "index", embedder=FakeEmbedder(), chunking=ChunkingSettings(),
          store_settings=StoreSettings())  # fmt: skip
    return Engine.load(tmp_path / "index", FakeEmbedder(), ChunkingSettings())


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return Settings(index_dir=engine.index_dir)


def _same(result: Answer) -> dict[str, Any]:
    out = result.to_dict()
    out.pop("timings_ms")
    return out


@pytest.mark.parametrize("question", QUESTIONS)
def test_without_history_the_answer_is_the_one_shot_answer(
    question: str, engine: Engine, settings: Settings
) -> None:
    once = _same(answer(question, settings, engine=engine))
    assert once == _same(answer(question, settings, engine=engine, history=None))
    assert once == _same(answer(question, settings, engine=engine, history=[]))
    assert once["retrieval_question"] == question and once["history_used"] is False


def test_a_follow_up_is_retrieved_with_the_previous_turn(engine: Engine, settings: Settings) -> None:
    first = answer("What positions did Harald Kujat hold?", settings, engine=engine)
    assert "NATO Military Committee" in first.text
    follow = answer("Who interviewed him?", settings, engine=engine, history=[Turn.of(first)])
    assert follow.history_used and follow.question == "Who interviewed him?"
    assert follow.retrieval_question is not None
    assert follow.retrieval_question.startswith("Who interviewed him? What positions did Harald Kujat hold?")
    assert follow.citations[0].quote == "Thomas Kaiser interviewed Harald Kujat for Zeitgeschehen."


def test_a_question_that_stands_alone_ignores_the_history(engine: Engine, settings: Settings) -> None:
    first = answer("What positions did Harald Kujat hold?", settings, engine=engine)
    question = "Who interviewed Anna Berg for the city paper?"
    alone = answer(question, settings, engine=engine)
    asked = answer(question, settings, engine=engine, history=[Turn.of(first)])
    assert not asked.history_used and _same(asked) == _same(alone)


def test_a_question_that_stands_alone_and_is_refused_stays_refused_in_a_conversation(
    engine: Engine, settings: Settings
) -> None:
    # Read with the turn before, an off-topic question found that turn's quotes and was answered.
    first = answer("What positions did Harald Kujat hold?", settings, engine=engine)
    question = "What is the capital of Australia?"
    alone = answer(question, settings, engine=engine)
    assert alone.refused
    asked = answer(question, settings, engine=engine, history=[Turn.of(first)])
    assert asked.refused and not asked.history_used and _same(asked) == _same(alone)


def _gold(**fields: Any) -> GoldQuestion:
    base: dict[str, Any] = dict(
        id="fu-1", question="Who interviewed him?", lang="en", answerable=True, sources=("a.txt",),
        facts=(("Kaiser",),), reference="Thomas Kaiser.", history=("Who is Kujat?",),
        standalone="Who interviewed Kujat?",
    )  # fmt: skip
    return GoldQuestion(**{**base, **fields})


def test_evaluation_replays_the_history_with_the_bots_own_answers() -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []
    replies = {"Who is Kujat?": "A general.", "Who interviewed Kujat?": "Thomas Kaiser."}

    def fake(question: str, turns: Sequence[Turn]) -> Answer:
        calls.append((question, tuple(t.answer for t in turns)))
        text = replies.get(question, "Thomas Kaiser." if turns else "Nobody knows.")
        return Answer(question=question, text=text, refused=False, mode="extractive", language="en")

    ticks = iter(range(100))
    runs = evaluate_followups([_gold()], fake, clock=lambda: float(next(ticks)))
    assert calls == [
        ("Who interviewed him?", ()),  # alone
        ("Who interviewed Kujat?", ()),  # the standalone rewrite
        ("Who is Kujat?", ()),  # the history, replayed...
        ("Who interviewed him?", ("A general.",)),  # ...then the follow-up with citeqa's own answer
    ]
    assert [len(runs[r][0].facts_found) for r in (ALONE, STANDALONE, IN_CONVERSATION)] == [0, 1, 1]
    assert runs[IN_CONVERSATION][0].latency_ms == 1000.0  # the follow-up alone is timed, not the replay
    (row,) = [r for r in followup_rows("fu", runs) if r[0] == "fu"]
    # Facts 0 alone, 1 standalone, 1 in conversation: all of the gap closed.
    assert row[2:5] == ["0.00 / 1.00 / 1.00", "1.00", "1.00"]


def test_the_chat_model_condenses_a_follow_up_into_one_standalone_question(settings: Settings) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from qa.conversation import condense

    turns = [Turn("What positions did Harald Kujat hold?", "Chairman of the NATO Military Committee.")]
    model = FakeListChatModel(responses=["  Who interviewed Harald Kujat?\n"])
    assert condense("Who interviewed him?", turns, settings, model) == "Who interviewed Harald Kujat?"
    # An answer instead of a question on one line, an empty reply, a failing model: no rewrite.
    chatty = FakeListChatModel(responses=["Here is the question:\nWho interviewed Harald Kujat?"])
    assert condense("Who interviewed him?", turns, settings, chatty) is None
    assert condense("Who interviewed him?", turns, settings, FakeListChatModel(responses=[" "])) is None

    class Broken(FakeListChatModel):
        def invoke(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("the endpoint is down")

    assert condense("Who interviewed him?", turns, settings, Broken(responses=["x"])) is None
