"""Answering a question inside a conversation: the conversation wraps the pipeline, it does not enter it.

Like LangChain's `create_history_aware_retriever`: with no history the question goes through
`qa.pipeline` as it always did; with history, a follow-up that depends on it ("Who said that?", "Und
Selenskyj?", see `qa.retrieve.followup`) is also retrieved together with its context (the previous
question and the names the previous answer quoted), and that reading is kept only when its evidence
answers better than the question's own. The answer says which question was retrieved
(`retrieval_question`) and whether the history was used (`history_used`).

The history is bounded: only the last `HISTORY_TURNS` turns are read, and of each at most
`MAX_TURN_CHARS` characters of its question, its answer and each of its first `MAX_QUOTES` quotes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from qa.retrieve import followup
from qa.types import Answer

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qa.engine import Engine
    from qa.retrieve.question import Question
    from qa.settings import Settings

log = logging.getLogger(__name__)

#: Earlier turns read for a follow-up; older ones are ignored.
HISTORY_TURNS = 3
#: What an API accepts as a history at most (more is a bad request): turns, and characters a field.
MAX_HISTORY_TURNS = 100
MAX_HISTORY_CHARS = 20_000
#: Characters kept of a turn's question, answer and each quote.
MAX_TURN_CHARS = 2_000
#: Quoted sentences kept per turn.
MAX_QUOTES = 8
#: Of the previous answer, the quotes whose names a follow-up is read with, and how many names at most.
CONTEXT_QUOTES = 2
CONTEXT_NAMES = 4


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the user's question, citeqa's answer text and the sentences it quoted."""

    question: str
    answer: str = ""
    quotes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # the quoted sentences' documents (file names)
    refused: bool = False

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """The turn an answer makes (its question, text and citations)."""
        return cls(
            question=answer.question,
            answer="" if answer.refused else answer.text,
            quotes=tuple(c.quote for c in answer.citations),
            sources=tuple(dict.fromkeys(c.source for c in answer.citations)),
            refused=answer.refused,
        )

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Turn:
        """A turn from `{"question", "answer"?, "citations"?}` as the APIs take it; `citations` are
        quoted sentences, or objects with a `quote` (and `source`) as the answers' JSON gives them."""
        citations = obj.get("citations") or ()
        quotes = [c if isinstance(c, str) else str(c.get("quote", "")) for c in citations]
        sources = [c.get("source", "") for c in citations if isinstance(c, dict)]
        return cls(
            question=str(obj.get("question", "")),
            answer=str(obj.get("answer") or ""),
            quotes=tuple(q for q in quotes if q),
            sources=tuple(dict.fromkeys(s for s in sources if s)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "citations": list(self.quotes)}


class HistoryCitation(BaseModel):
    """A sentence an earlier answer quoted, as the answers' `citations` give it."""

    model_config = ConfigDict(extra="ignore")

    quote: str = Field(max_length=MAX_HISTORY_CHARS)
    source: str | None = Field(None, max_length=1_000)


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation: the user's question and, optionally, citeqa's answer."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=MAX_HISTORY_CHARS, examples=["What was offered at Istanbul?"])
    answer: str | None = Field(None, max_length=MAX_HISTORY_CHARS, description="citeqa's answer text.")
    citations: list[HistoryCitation | str] | None = Field(
        None, max_length=50, description="The answer's citations (objects with a `quote`) or quotes."
    )

    def turn(self) -> Turn:
        return Turn.from_dict(self.model_dump())


def bounded(history: Iterable[Turn] | None) -> tuple[Turn, ...]:
    """The turns a follow-up is read with: the last `HISTORY_TURNS`, each cut to `MAX_TURN_CHARS`."""
    turns = [t for t in (history or ()) if t.question.strip()][-HISTORY_TURNS:]
    return tuple(
        dataclasses.replace(
            t,
            question=" ".join(t.question[:MAX_TURN_CHARS].split()),
            answer=t.answer[:MAX_TURN_CHARS],
            quotes=tuple(q[:MAX_TURN_CHARS] for q in t.quotes[:MAX_QUOTES]),
            sources=t.sources[:MAX_QUOTES],
        )
        for t in turns
    )


def previous_questions(turns: Sequence[Turn]) -> list[str]:
    """The questions of `turns`, oldest first."""
    return [t.question for t in turns]


# ------------------------------------------------------------------------------------------- answering


def answer_in_conversation(
    question: str,
    history: Sequence[Turn],
    settings: Settings,
    *,
    k: int | None = None,
    engine: Engine | None = None,
) -> Answer:
    """The extractive answer to `question` asked after `history` (see the module docstring).

    A question that does not depend on the conversation (`qa.retrieve.followup.dependence`) is answered
    alone, exactly as `qa.pipeline.answer` would, refusal included. One that does is answered both
    alone and together with its context, and the reading in context is kept when `better` says it
    answers better.
    """
    from qa import pipeline

    started = time.perf_counter()
    turns = bounded(history)
    text = pipeline.validate_question(question)
    if not turns or not followup.dependence(text).depends:
        # A question that names its own subject is answered alone, refusal included: read with the
        # conversation, "What is the capital of Australia?" after Istanbul found the Istanbul quotes.
        return pipeline.answer(question, settings, k=k, engine=engine, mode=pipeline.MODE_EXTRACTIVE)
    engine, read = pipeline._read(question, settings, engine)
    in_context = _retrieval_read(read, turns, engine)
    # One call to the model for both readings: the question (and its focus) and the question in
    # context, whose focus is the question itself.
    t0 = time.perf_counter()
    texts = [read.text, in_context.text] + ([read.focus] if read.focus else [])
    vectors = engine.embedder.embed_queries(texts)
    timings = {"embed": (time.perf_counter() - t0) * 1000}
    alone = pipeline.answer_from_vector(
        read, vectors[0], engine, settings, k=k, focus_vector=vectors[2] if read.focus else None
    )
    compose = settings.compose.model_copy(update={"focus_weight": settings.compose.followup_focus_weight})
    followed = pipeline.answer_from_vector(
        in_context,
        vectors[1],
        engine,
        settings.model_copy(update={"compose": compose}),
        k=k,
        timings=timings,
        focus_vector=vectors[0],
    )
    if not better(followed, alone):
        alone.timings_ms.update(embed=timings["embed"], total=(time.perf_counter() - started) * 1000)
        return alone
    timings["total"] = (time.perf_counter() - started) * 1000
    return dataclasses.replace(
        followed, question=read.text, retrieval_question=in_context.text, history_used=True
    )


def _retrieval_read(read: Question, turns: Sequence[Turn], engine: Engine) -> Question:
    """The follow-up read together with its context, in the follow-up's own language."""
    from qa.retrieve.question import analyse

    text = followup.retrieval_question(
        read.text, previous_questions(turns), turns[-1].quotes[:CONTEXT_QUOTES], CONTEXT_NAMES
    )
    in_context = analyse(text, engine.vocabulary)
    # The reply is in the follow-up's language; too short to tell ("Und Selenskyj?"), in the last turn's.
    language = read.language or analyse(turns[-1].question, engine.vocabulary).language
    # What is asked is the follow-up's own words: they are the focus that picks among the sentences on
    # the conversation's topic (see qa.retrieve.focus).
    return dataclasses.replace(in_context, language=language, focus=read.text)


def condense(
    question: str, turns: Sequence[Turn], settings: Settings, chat: BaseChatModel | None = None
) -> str | None:
    """The chat model's standalone rewrite of a follow-up, in its language; None when there is no
    usable one (the model fails, or writes an empty, multi-line or overlong question)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from qa import prompts
    from qa.generate.rewrite import load_chat_model
    from qa.pipeline import validate_question

    system, user = prompts.condense_messages(question, [(t.question, t.answer) for t in turns])
    try:
        model = chat if chat is not None else load_chat_model(settings)
        reply = model.invoke([SystemMessage(system), HumanMessage(user)]).content
        text = reply if isinstance(reply, str) else " ".join(str(part) for part in reply)
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return validate_question(lines[0]) if len(lines) == 1 and len(lines[0]) <= MAX_TURN_CHARS else None
    except Exception:  # noqa: BLE001 - a failed rewrite leaves the offline reading, never an error
        log.info("condensing the follow-up failed", exc_info=True)
        return None


def better(followed: Answer, alone: Answer) -> bool:
    """Whether the answer retrieved in context answers better than the question's own: it answers where
    the question alone is refused, or its evidence clears the refusal bar by more."""
    if followed.refused != alone.refused:
        return alone.refused
    return _margin(followed) >= _margin(alone)


def _margin(result: Answer) -> float:
    d = result.decision
    return float("-inf") if d is None else d.value - d.bar


def stream_in_conversation(
    question: str,
    history: Sequence[Turn],
    settings: Settings,
    *,
    k: int | None = None,
    engine: Engine | None = None,
    mode: str = "extractive",
    chat: BaseChatModel | None = None,
) -> Iterator[str | Answer]:
    """`qa.pipeline.answer_stream` for a question asked after `history`: the extractive answer read
    in context (`answer_in_conversation`), then in the generative mode the chat model's rewrite of it,
    written for the question as it was retrieved and verified like any other."""
    from qa.engine import get_engine
    from qa.pipeline import MODE_EXTRACTIVE

    started = time.perf_counter()
    engine = engine or get_engine(settings)
    extractive = answer_in_conversation(question, history, settings, k=k, engine=engine)
    if mode == MODE_EXTRACTIVE:
        yield extractive
        return
    condensed = condense(question, bounded(history), settings, chat) if extractive.history_used else None
    if condensed:
        # The chat model's rewrite is one more reading, checked against the evidence like the others.
        from qa.pipeline import answer

        rewritten = answer(condensed, settings, k=k, engine=engine, mode=MODE_EXTRACTIVE)
        if better(rewritten, extractive):
            extractive = dataclasses.replace(
                rewritten, question=extractive.question, retrieval_question=condensed, history_used=True
            )
    from qa.generate.rewrite import generate
    from qa.retrieve.question import analyse

    asked = extractive.retrieval_question or extractive.question
    read = dataclasses.replace(analyse(asked, engine.vocabulary), language=extractive.language)
    for item in generate(dataclasses.replace(extractive, question=asked), read, engine, settings, chat):
        if isinstance(item, Answer):
            item = dataclasses.replace(item, question=extractive.question)
            item.timings_ms["total"] = (time.perf_counter() - started) * 1000
        yield item
