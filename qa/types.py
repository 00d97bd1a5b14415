"""What the answering side returns: passages, citations and the answer, each with `to_dict`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from vectorstore.types import Place


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what a reader needs to judge it."""

    rank: int
    chunk_id: str
    source: str  # the document's file name
    title: str
    date: str | None
    publisher: str | None
    language: str | None
    text: str
    score: float  # retrieval score: the support of the chunk's best sentence
    dense: float  # cosine similarity to the question
    place: Place = Place()  # the chunk's page (or pages), slide and section, when the file has them

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "date": self.date,
            **self.place.to_dict(),
            "score": round(self.score, 6),
            "dense": round(self.dense, 6),
            "text": self.text,
        }


@dataclass(frozen=True)
class Citation:
    """Marker [n] in the answer: the quoted sentence, its passage and its document."""

    n: int
    source: str
    title: str
    date: str | None
    publisher: str | None
    language: str | None
    chunk_id: str
    quote: str
    passage: str
    quote_start: int  # offsets of the quote inside `passage`, for highlighting
    quote_end: int
    score: float
    place: Place = Place()  # the quote's page, slide and section, when the file has them

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "date": self.date,
            "publisher": self.publisher,
            "language": self.language,
            **self.place.to_dict(),
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "passage": self.passage,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True)
class Decision:
    """Why a question was answered or refused: the signal compared, its value and the bar it had to reach.

    `signal` is "relevance" (how well the best sentence matches the question, less what it names that
    the collection never mentions, against the collection's calibrated bar; see `qa.compose.calibration`) or
    "answer type" (no sentence holds the date or number a when/how-many question asks for).
    """

    signal: str
    value: float
    bar: float

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "value": round(self.value, 4), "bar": round(self.bar, 4)}


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    mode: str
    language: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    closest: tuple[Passage, ...] = ()  # shown on refusal as "closest matches", never as citations
    note: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    decision: Decision | None = None  # why it was answered or refused (extractive answers)
    retrieval_question: str | None = None  # what was retrieved, when not `question` (a follow-up)
    history_used: bool = False  # whether the earlier turns of the conversation shaped the retrieval

    def with_note(self, extra: str) -> Answer:
        """This answer with `extra` after its note (say, that the index is being updated)."""
        return replace(self, note=f"{self.note} {extra}" if self.note else extra)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "language": self.language,
            "note": self.note,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "closest_matches": [p.to_dict() for p in self.closest],
            "decision": self.decision.to_dict() if self.decision else None,
            "retrieval_question": self.retrieval_question or self.question,
            "history_used": self.history_used,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
