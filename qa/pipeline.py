"""`answer(question, settings)`: validate, retrieve, compose, time each stage."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from qa import prompts
from qa.compose.extractive import candidates, compose
from qa.engine import Engine, get_engine
from qa.retrieve.passages import evidence_passages, retrieve
from qa.retrieve.question import Question, analyse
from qa.retrieve.window import language_means, one_thread, open_window
from qa.settings import Settings
from qa.types import Answer, Decision
from vectorstore.errors import BadQuestion, IndexEmpty

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qa.conversation import Turn

MAX_QUESTION_CHARS = 10_000
MODE_EXTRACTIVE = "extractive"
MODE_GENERATIVE = "generative"
MODES = (MODE_EXTRACTIVE, MODE_GENERATIVE)


def validate_question(question: str) -> str:
    """The question with its whitespace collapsed, or BadQuestion with a one-line reason.

    Every interface (CLI, REST, OpenAI-compatible chat, MCP, web chat) reaches the pipeline through
    here, so text none of them could echo back (a lone surrogate, as undecodable bytes arrive in
    `sys.argv` or a JSON `"\\ud800"` escape) is refused once, before any model or store sees it.
    """
    if not isinstance(question, str) or not question.strip():
        raise BadQuestion('The question is empty; ask something, e.g. "What was offered at Istanbul?"')
    if len(question) >= MAX_QUESTION_CHARS:
        raise BadQuestion(
            f"The question is {len(question):,} characters long; keep it under {MAX_QUESTION_CHARS:,}."
        )
    if (problem := _unreadable(question)) is not None:
        raise BadQuestion(problem)
    if not any(unicodedata.category(ch)[0] in "LN" for ch in question):
        # "?!?", "...", "¿¡" or emoji alone: nothing to look for, so no passage could be the answer.
        raise BadQuestion(
            "The question has no words, only punctuation or symbols; ask something, e.g. "
            '"What was offered at Istanbul?"'
        )
    return " ".join(question.split())


def _unreadable(question: str) -> str | None:
    """Why `question` is not text a person typed, or None: a lone surrogate, U+FFFD (what a decoder
    leaves of bytes that were not UTF-8), a noncharacter or a control character."""
    for ch in question:
        category, code = unicodedata.category(ch), ord(ch)
        if category == "Cs" or ch == "\ufffd":
            return (
                "The question is not valid UTF-8 text (it holds a lone surrogate or U+FFFD, "
                "what is left of bytes that are not UTF-8); send it as UTF-8."
            )
        if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            return f"The question holds the noncharacter U+{code:04X}; remove it and ask again."
        if category == "Cc" and ch not in "\t\n\r":
            return "The question contains control characters; remove them and ask again."
    return None


def _mode(mode: str | None, settings: Settings) -> str:
    mode = mode or settings.mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def answer(
    question: str,
    settings: Settings,
    *,
    k: int | None = None,
    engine: Engine | None = None,
    mode: str | None = None,
    chat: BaseChatModel | None = None,
    history: Sequence[Turn] | None = None,
) -> Answer:
    """Answer `question` from the index; raises BadQuestion, IndexNotBuilt, IndexMismatch, ...

    `mode` (default `settings.mode`) is "extractive" (quoted sentences) or "generative" (written by
    the chat model from those sentences and verified; see `qa.generate`). `chat` replaces the
    configured chat model (tests pass fakes). `history` holds the conversation's earlier turns, oldest
    first: a follow-up is then read in their context (`qa.conversation`); without any, the question is
    answered on its own, exactly as before.
    """
    if history:
        *_, last = answer_stream(
            question, settings, k=k, engine=engine, mode=mode, chat=chat, history=history
        )
        assert isinstance(last, Answer)
        return last
    if _mode(mode, settings) == MODE_GENERATIVE:
        *_, result = answer_stream(question, settings, k=k, engine=engine, mode=mode, chat=chat)
        assert isinstance(result, Answer)
        return result
    started = time.perf_counter()
    engine, read = _read(question, settings, engine)
    return _extractive(read, engine, settings, k, started)


def answer_stream(
    question: str,
    settings: Settings,
    *,
    k: int | None = None,
    engine: Engine | None = None,
    mode: str | None = None,
    chat: BaseChatModel | None = None,
    history: Sequence[Turn] | None = None,
) -> Iterator[str | Answer]:
    """Like `answer`, streaming: yields the generative draft's text as it comes (nothing in the
    extractive mode), then the finished, verified Answer as the last item."""
    if history:
        from qa.conversation import stream_in_conversation

        yield from stream_in_conversation(
            question, history, settings, k=k, engine=engine, mode=_mode(mode, settings), chat=chat
        )
        return
    if _mode(mode, settings) == MODE_EXTRACTIVE:
        yield answer(question, settings, k=k, engine=engine, mode=MODE_EXTRACTIVE)
        return
    from qa.generate.rewrite import generate

    started = time.perf_counter()
    engine, read = _read(question, settings, engine)
    extractive = _extractive(read, engine, settings, k, started)
    for item in generate(extractive, read, engine, settings, chat):
        if isinstance(item, Answer):
            item.timings_ms["total"] = (time.perf_counter() - started) * 1000
        yield item


def _read(question: str, settings: Settings, engine: Engine | None) -> tuple[Engine, Question]:
    """The engine to answer from and the question read against its collection, once per question."""
    text = validate_question(question)
    engine = engine or get_engine(settings)
    if not engine.data.documents:
        raise IndexEmpty(
            f"The index at {engine.location} holds no documents yet; add some with: "
            f"citeqa index PATH {engine.index_option} (or upload files in the web chat)."
        )
    return engine, analyse(text, engine.vocabulary)


def _extractive(
    question: Question, engine: Engine, settings: Settings, k: int | None, started: float
) -> Answer:
    t0 = time.perf_counter()
    query_vector, focus_vector = embed_question(question, engine)
    timings = {"embed": (time.perf_counter() - t0) * 1000}
    result = answer_from_vector(
        question, query_vector, engine, settings, k=k, timings=timings, focus_vector=focus_vector
    )
    timings["total"] = (time.perf_counter() - started) * 1000
    return result


def embed_question(question: Question | str, engine: Engine) -> tuple[np.ndarray, np.ndarray | None]:
    """The question's embedding and its focus's (None when the question names nothing the
    collection knows), in one call to the model."""
    read = _as_question(question, engine)
    text, focus = read.text, read.focus
    vectors = engine.embedder.embed_queries([text] if focus is None else [text, focus])
    return vectors[0], (vectors[1] if focus is not None else None)


def _as_question(question: Question | str, engine: Engine) -> Question:
    return question if isinstance(question, Question) else analyse(question, engine.vocabulary)


def answer_from_vector(
    question: Question | str,
    query_vector: np.ndarray,
    engine: Engine,
    settings: Settings,
    *,
    k: int | None = None,
    timings: dict[str, float] | None = None,
    focus_vector: np.ndarray | None = None,
) -> Answer:
    """The answer for a validated question whose embedding is known (evaluation reuses vectors)."""
    read = _as_question(question, engine)
    timings = {} if timings is None else timings
    language = prompts.ui_language(read.language)
    t0 = time.perf_counter()
    evidence, sentence_rows, chunk_vectors = engine.evidence, engine.sentence_rows, None
    if engine.vectors.approximate:
        # Too many sentences to score them all: score those near the question's nearest ones.
        queries = np.stack([query_vector] if focus_vector is None else [query_vector, focus_vector])
        with one_thread():
            window = open_window(
                queries, engine.data, engine.evidence, engine.sentence_rows, engine.vectors, engine.hits
            )
            evidence, sentence_rows, chunk_vectors = (
                window.evidence,
                window.sentence_rows,
                window.chunk_vectors,
            )
            means = language_means(engine.vectors, evidence, queries)
            scores = evidence.score(query_vector, window.vectors, settings.compose, focus_vector, means)
    else:
        scores = evidence.score(query_vector, engine.data.sentence_vectors, settings.compose, focus_vector)
    timings["sentence_scores"] = (time.perf_counter() - t0) * 1000
    passages = retrieve(
        query_vector,
        engine.data,
        scores.sentences,
        evidence.sentence_chunk,
        settings.retrieval,
        k,
        timings,
        chunk_vectors,
    )
    t1 = time.perf_counter()
    sources = evidence_passages(
        passages,
        engine.data,
        engine.chunk_rows,
        scores.support,
        evidence.sentence_chunk,
        query_vector,
        settings.compose.top_passages,
        settings.compose.top_sentences,
        chunk_vectors,
    )
    ranked = candidates(
        scores.sentences, sources, engine.data, engine.chunk_rows, sentence_rows, scores.support
    )
    decision = relevance(read, scores.best_own, engine, settings)
    result = compose(read.text, language, ranked, settings.compose, decision)
    timings["compose"] = (time.perf_counter() - t1) * 1000
    return Answer(
        question=read.text,
        text=result.text,
        refused=result.refused,
        mode=MODE_EXTRACTIVE,
        language=language,
        citations=result.citations,
        passages=tuple(passages),
        closest=tuple(passages[:3]) if result.refused else (),
        note=result.note,
        timings_ms=timings,
        decision=result.decision,
    )


def relevance(question: Question, best_own: float, engine: Engine, settings: Settings) -> Decision:
    """How well the collection's best quotable sentence matches the question (`best_own`), against
    the collection's refusal bar. Naming a number or a name the collection never mentions costs a
    penalty each: a question about "the first battle of 1754" or "Friedrich Ratzel" is about something
    else, however close its best sentence comes."""
    c = settings.compose
    value = best_own
    value -= c.unknown_number_penalty if question.unknown_numbers else 0.0
    value -= c.unknown_name_penalty if question.unknown_names else 0.0
    return Decision("relevance", value, engine.calibration.bar(c))
