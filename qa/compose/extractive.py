"""Extractive composition: pick the few sentences that answer, cite each, or refuse.

Deterministic and offline: sentences of the top passages are scored by the cosine similarity of their
(index-time) embeddings to the question; the best few within a word budget are quoted in document
order, each followed by its marker [n]. Interrogative sentences are never evidence: in an interview the
interviewer's question resembles the user's question most, yet answers nothing (see `qa.retrieve.evidence`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from qa import prompts
from qa.compose.answer_type import answer_type, supplies
from qa.settings import ComposeSettings
from qa.types import Citation, Decision, Passage
from vectorstore.store import IndexData
from vectorstore.types import Place


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    doc_id: str
    start: int
    end: int
    text: str
    score: float  # how well it answers (see qa.retrieve.evidence): ranks the candidates
    support: float  # how well it matches the whole question: chooses the document
    place: Place = Place()  # the sentence's page, slide and section


@dataclass(frozen=True)
class Composition:
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    decision: Decision  # why it was answered or refused
    note: str | None


def word_count(text: str) -> int:
    return len(text.split())


def candidates(
    scores: np.ndarray,
    passages: list[Passage],
    data: IndexData,
    chunk_rows: Mapping[str, int],
    sentence_rows: Mapping[tuple[str, int], int],
    support: np.ndarray | None = None,
) -> list[Candidate]:
    """Usable sentences of `passages` with their evidence scores, best first.

    `support` scores the sentences against the whole question when `scores` blend in its focus
    (see `qa.retrieve.focus`); by default it is `scores`.
    """
    support = scores if support is None else support
    found: dict[tuple[str, int], Candidate] = {}
    for passage in passages:
        chunk = data.chunks[chunk_rows[passage.chunk_id]]
        doc = data.documents[chunk.doc_id]
        for span in chunk.sentences:
            key = (chunk.doc_id, span.start)
            row = sentence_rows.get(key)
            if key in found or row is None or not np.isfinite(scores[row]):
                continue
            text = doc.text[span.start : span.end]
            place = doc.layout.place(span.start, span.end)
            found[key] = Candidate(
                passage,
                chunk.doc_id,
                span.start,
                span.end,
                text,
                float(scores[row]),
                float(support[row]),
                place,
            )
    return sorted(found.values(), key=lambda c: (-c.score, c.passage.rank, c.start))


def select(ranked: list[Candidate], settings: ComposeSettings) -> list[Candidate]:
    """The best sentence, then those close to it in score, best first.

    How many is decided by the evidence: further sentences must score within `margin` of the best
    (one sentence when one stands out, several when several answer alike), at most `max_sentences`,
    and together no more than `max_words` (a bound for runaway sentences, not a length target). A
    sentence from another document must be nearly as good as the best (`other_document_margin`).
    """
    if not ranked:
        return []
    # The document is the one whose sentence matches the whole question best; within it the
    # sentence that answers best leads (the two differ when the question has a focus, see qa.retrieve.focus).
    anchor = max(ranked, key=lambda c: c.support).doc_id
    best = next(c for c in ranked if c.doc_id == anchor)
    ranked = [best] + [c for c in ranked if c is not best]
    chosen = [best]
    words = word_count(best.text)
    for cand in ranked[1:]:
        if len(chosen) >= settings.max_sentences or cand.score < best.score - settings.margin:
            break
        # Another document must be nearly as good as the best to be cited beside it, both in
        # answering (score) and in matching the whole question (support).
        if cand.doc_id != best.doc_id and (
            cand.score < best.score - settings.other_document_margin
            or cand.support < max(c.support for c in chosen) - settings.other_document_margin
        ):
            continue
        if words + word_count(cand.text) > settings.max_words:
            continue
        chosen.append(cand)
        words += word_count(cand.text)
    # Best first: the sentence that answers best opens the answer, where a reader (or a preview cut
    # short) meets it first; each sentence carries its own citation, so reading order is not needed.
    return chosen


def cite(chosen: list[Candidate]) -> tuple[Citation, ...]:
    """Number the chosen sentences [1], [2], ... in answer order, each tied to its passage."""
    citations = []
    for n, cand in enumerate(chosen, start=1):
        p = cand.passage
        offset = p.text.find(cand.text)
        citations.append(
            Citation(
                n=n,
                source=p.source,
                title=p.title,
                date=p.date,
                publisher=p.publisher,
                language=p.language,
                chunk_id=p.chunk_id,
                quote=cand.text,
                passage=p.text,
                quote_start=max(offset, 0),
                quote_end=max(offset, 0) + len(cand.text),
                score=cand.score,
                place=cand.place,
            )
        )
    return tuple(citations)


def compose(
    question: str,
    language: str,
    ranked: list[Candidate],
    settings: ComposeSettings,
    relevance: Decision,
) -> Composition:
    """The extractive answer, or the refusal when the question is not answered by the collection.

    `relevance` compares how well the question's best sentence anywhere matches it with the
    collection's bar (see `qa.compose.calibration`); below the bar the question is refused. Only sentences
    that can supply what the question asks for (a date for "when", a number for "how many") count as
    evidence for it: with none among the candidates the question is refused as well.
    """
    if relevance.value < relevance.bar:
        return Composition(prompts.refusal(language), True, (), relevance, None)
    if settings.answer_types:
        kind = answer_type(question)
        ranked = [c for c in ranked if supplies(kind, c.text)]
        if not ranked:
            decision = Decision(f"answer type ({kind.value})", 0.0, 1.0)
            return Composition(prompts.refusal(language), True, (), decision, None)
    if not ranked:
        return Composition(prompts.refusal(language), True, (), relevance, None)
    citations = cite(select(ranked, settings))
    body = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    note = prompts.source_language_note(language, [c.language or "" for c in citations])
    return Composition(body, False, citations, relevance, note)
