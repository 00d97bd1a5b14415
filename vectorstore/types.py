"""Small frozen types passed between the indexing stages and the answering side."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def content_hash(text: str, *, length: int = 16) -> str:
    """A stable short id for a piece of text (sha256 hex prefix)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class DocMeta:
    """What is known about a document besides its text."""

    source: str  # file name relative to the collection root, e.g. "000_d6b9d14a00a44e16.txt"
    title: str
    date: str | None = None  # ISO 8601 (YYYY-MM-DD or YYYY-MM) when known
    publisher: str | None = None
    language: str | None = None  # ISO 639-1, e.g. "nl"
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocMeta:
        return cls(**data)


@dataclass(frozen=True)
class Document:
    """A loaded and cleaned document: `text` is what is indexed and shown."""

    doc_id: str  # equals meta.source
    text: str
    meta: DocMeta
    content_hash: str  # hash of the raw bytes and sidecar metadata: decides re-embedding
    replaced_bytes: int = 0  # invalid byte sequences read as U+FFFD (reported when indexing, not stored)


@dataclass(frozen=True)
class Span:
    """A sentence as character offsets into its document's cleaned text."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage: consecutive sentences of one document, `text == doc.text[start:end]`."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    sentences: tuple[Span, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "sentences": [[s.start, s.end] for s in self.sentences],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            id=data["id"],
            doc_id=data["doc_id"],
            text=data["text"],
            start=data["start"],
            end=data["end"],
            sentences=tuple(Span(s, e) for s, e in data["sentences"]),
        )
