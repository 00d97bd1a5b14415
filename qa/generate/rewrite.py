"""The generative mode: extract, then write, then verify.

The extractive composer has already picked the evidence sentences (its citations). The chat model sees
only those, each under a short key (S1, S2, ...) with its neighbouring sentences as uncitable context,
and writes one to three sentences citing the keys. `qa.generate.verify` checks the draft in code; a draft that
passes is shown with the keys mapped back to the extractive citations, renumbered in the order the draft
cites them. Anything else (a failed check, a model that cannot load, an endpoint that is down, a
timeout) shows the extractive answer with a one-line note: an unverified claim never reaches the user.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from qa import prompts
from qa.generate.verify import Claim, verify
from qa.types import Answer, Citation
from vectorstore.errors import CiteqaError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from qa.engine import Engine
    from qa.retrieve.question import Question
    from qa.settings import Settings
    from vectorstore.store import IndexData

log = logging.getLogger(__name__)

MODE_GENERATIVE = "generative"
MODE_FALLBACK = "extractive-fallback"
_LABEL = re.compile(r"^\s*(?:answer|antwoord|antwort)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class KeyedEvidence:
    """An extractive citation as the model sees it: its key, and the sentences around it."""

    key: str
    citation: Citation
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


class GenerationFailed(Exception):
    """The chat model gave no draft; `note` is the one line shown with the extractive answer."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


# ---------------------------------------------------------------------------------------------- evidence


def keyed_evidence(
    citations: Sequence[Citation],
    data: IndexData,
    chunk_rows: Mapping[str, int],
    sentence_rows: Mapping[tuple[str, int], int],
    neighbours: int,
) -> list[KeyedEvidence]:
    """Key each cited sentence S1, S2, ... and attach up to `neighbours` sentences either side from its
    document; sentences that are themselves evidence are not repeated as context."""
    rows = [_sentence_row(c, data, chunk_rows, sentence_rows) for c in citations]
    cited = {r for r in rows if r is not None}
    out = []
    for n, (citation, row) in enumerate(zip(citations, rows, strict=True), 1):
        before: list[str] = []
        after: list[str] = []
        if row is not None and neighbours:
            doc_id = data.sentences[row].doc_id
            for other in range(row - neighbours, row + neighbours + 1):
                if other == row or other in cited or not 0 <= other < len(data.sentences):
                    continue
                ref = data.sentences[other]
                if ref.doc_id == doc_id:  # rows are in document order within a document
                    text = data.documents[doc_id].text[ref.start : ref.end]
                    (before if other < row else after).append(text)
        out.append(KeyedEvidence(f"S{n}", citation, tuple(before), tuple(after)))
    return out


def _sentence_row(
    citation: Citation,
    data: IndexData,
    chunk_rows: Mapping[str, int],
    sentence_rows: Mapping[tuple[str, int], int],
) -> int | None:
    row = chunk_rows.get(citation.chunk_id)
    if row is None:
        return None
    chunk = data.chunks[row]
    text = data.documents[chunk.doc_id].text
    for span in chunk.sentences:
        if text[span.start : span.end] == citation.quote:
            return sentence_rows.get((chunk.doc_id, span.start))
    return None


def messages(question: str, language: str | None, evidence: Sequence[KeyedEvidence]) -> list[BaseMessage]:
    """The chat model's input: the system prompt and the question with the keyed, quoted evidence."""
    from langchain_core.messages import HumanMessage, SystemMessage

    blocks = [prompts.source_block(e.key, e.citation.quote, list(e.before), list(e.after)) for e in evidence]
    system, user = prompts.generation_messages(question, language, blocks)
    return [SystemMessage(system), HumanMessage(user)]


# ---------------------------------------------------------------------------------------------- the model


def load_chat_model(settings: Settings) -> BaseChatModel:
    """The configured chat model (`qa.generate.llm.chat_model`, which keeps an in-process model loaded)."""
    from qa.generate.llm import chat_model

    return chat_model(settings)


def _chunk_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content if b)
    return ""


def _reason(err: BaseException) -> str:
    """A one-line sentence for the note: a library error's own message, otherwise just its kind."""
    text = " ".join(str(err).split())
    if isinstance(err, CiteqaError) and text:
        return text if text.endswith((".", "!", "?")) else text + "."
    return f"The language model failed ({type(err).__name__})."


def stream_draft(
    model: Callable[[], BaseChatModel],
    prompt: list[BaseMessage],
    timeout_s: float,
    language: str,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """Yield the model's text as it comes; raise GenerationFailed on an error or at the deadline.

    The model is loaded and run in a daemon thread, so a hung load or endpoint costs at most
    `timeout_s`: we stop waiting at the deadline and tell the thread to stop reading the stream.
    """
    lang = prompts.ui_language(language)
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            for chunk in model().stream(prompt):
                if stop.is_set():
                    break
                if text := _chunk_text(chunk.content):
                    items.put(("text", text))
            items.put(("done", None))
        except BaseException as err:  # noqa: BLE001 - reported to the waiting side as a note
            items.put(("error", err))

    threading.Thread(target=work, name="citeqa-generate", daemon=True).start()
    deadline = clock() + timeout_s
    try:
        while True:
            try:
                remaining = deadline - clock()
                if remaining <= 0:  # also when text keeps coming: the deadline covers the whole draft
                    raise queue.Empty
                kind, value = items.get(timeout=remaining)
            except queue.Empty:
                log.warning("chat model gave no complete draft within %g s", timeout_s)
                raise GenerationFailed(prompts.GENERATION_TIMEOUT[lang].format(seconds=timeout_s)) from None
            if kind == "text":
                yield value
            elif kind == "done":
                return
            else:
                log.warning("chat model failed: %s", value, exc_info=value)
                raise GenerationFailed(prompts.GENERATION_UNAVAILABLE[lang].format(reason=_reason(value)))
    finally:
        stop.set()


# ---------------------------------------------------------------------------------------------- answers


def cite_claims(
    claims: Sequence[Claim], evidence: Sequence[KeyedEvidence]
) -> tuple[str, tuple[Citation, ...]]:
    """The answer text with markers [n] and its citations, numbered in the order the claims cite keys."""
    by_key = {e.key: e.citation for e in evidence}
    numbers: dict[str, int] = {}
    for claim in claims:
        for key in claim.keys:
            numbers.setdefault(key, len(numbers) + 1)
    parts: list[str] = []
    for claim in claims:
        markers = "".join(f"[{numbers[k]}]" for k in claim.keys)
        text = parts.pop() + claim.text if parts and claim.text[0] in ",;:)" else claim.text
        parts.append(f"{text} {markers}")
    citations = tuple(replace(by_key[key], n=n) for key, n in numbers.items())
    return " ".join(parts), citations


def fallback(extractive: Answer, note: str, timings: dict[str, float]) -> Answer:
    """The extractive answer, marked as a fallback, with `note` before any note it had."""
    joined = f"{note} {extractive.note}" if extractive.note else note
    return replace(extractive, mode=MODE_FALLBACK, note=joined, timings_ms=timings)


def generate(
    extractive: Answer,
    question: Question,
    engine: Engine,
    settings: Settings,
    chat: BaseChatModel | None = None,
) -> Iterator[str | Answer]:
    """Rewrite an extractive answer with the chat model: yields the draft as it comes, then the Answer.

    Args:
        extractive: The extractive answer to the question; a refusal is returned as it is.
        question: The question as the pipeline read it (its detected language sets the prompt's).
        engine: The loaded index (neighbouring sentences) and embedding model (support check).
        settings: `settings.generation` configures the model, the timeout and the checks.
        chat: A chat model to use instead of the configured one (tests pass fakes).

    Returns:
        An iterator of draft text pieces, then one Answer with mode "generative" or
        "extractive-fallback".
    """
    timings = dict(extractive.timings_ms)
    if extractive.refused or not extractive.citations:
        yield replace(extractive, mode=MODE_GENERATIVE)
        return
    gen = settings.generation
    evidence = keyed_evidence(
        extractive.citations, engine.data, engine.chunk_rows, engine.sentence_rows, gen.neighbours
    )
    language = question.language or extractive.language
    prompt = messages(extractive.question, language, evidence)
    pieces: list[str] = []
    t0 = time.perf_counter()
    try:
        model = (lambda: chat) if chat is not None else (lambda: load_chat_model(settings))
        for piece in stream_draft(model, prompt, gen.timeout_s, extractive.language):
            pieces.append(piece)
            yield piece
    except GenerationFailed as err:
        timings["generate"] = (time.perf_counter() - t0) * 1000
        yield fallback(extractive, err.note, timings)
        return
    timings["generate"] = (time.perf_counter() - t0) * 1000
    t1 = time.perf_counter()
    draft = _LABEL.sub("", "".join(pieces))
    quotes = {e.key: e.citation.quote for e in evidence}
    verdict = verify(draft, quotes, engine.embedder, gen.support_threshold)
    timings["verify"] = (time.perf_counter() - t1) * 1000
    if not verdict.ok:
        log.info("generated answer rejected: %s", "; ".join(verdict.problems))
        unverified = prompts.GENERATION_UNVERIFIED[prompts.ui_language(extractive.language)]
        yield fallback(extractive, unverified, timings)
        return
    text, citations = cite_claims(verdict.claims, evidence)
    note = prompts.source_language_note(extractive.language, [c.language or "" for c in citations])
    yield replace(
        extractive, text=text, citations=citations, mode=MODE_GENERATIVE, note=note, timings_ms=timings
    )
