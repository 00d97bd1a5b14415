"""Small frozen types passed between the indexing stages and the answering side."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
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
class Place:
    """Where a stretch of a document is: its page (or pages), slide and section heading, when known."""

    page: int | None = None
    last_page: int | None = None  # set when the stretch runs onto a later page
    slide: int | None = None
    section: str | None = None

    def label(self) -> str | None:
        """How a citation names the place: "p. 12", "pp. 12–13", "slide 3", "Heading", joined by ", "."""
        parts = []
        if self.page is not None:
            parts.append(f"pp. {self.page}\u2013{self.last_page}" if self.last_page else f"p. {self.page}")
        if self.slide is not None:
            parts.append(f"slide {self.slide}")
        if self.section:
            parts.append(self.section)
        return ", ".join(parts) or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "last_page": self.last_page,
            "slide": self.slide,
            "section": self.section,
            "location": self.label(),
        }


#: A mark says that from offset `start` of the cleaned text on, the page (slide, section) is `value`.
Mark = tuple[int, Any]


@dataclass(frozen=True)
class Layout:
    """Where a document's pages, slides and sections start, as offsets into its cleaned text.

    Each list is sorted by offset; a span's place is read from the last mark at or before it.
    """

    pages: tuple[tuple[int, int], ...] = ()
    slides: tuple[tuple[int, int], ...] = ()
    sections: tuple[tuple[int, str], ...] = ()

    def place(self, start: int, end: int | None = None) -> Place:
        """The place of the span `[start, end)` (`end` defaults to a one-character span)."""
        last = max(start, (end if end is not None else start + 1) - 1)
        page, last_page = _at(self.pages, start), _at(self.pages, last)
        return Place(
            page=page,
            last_page=last_page if last_page != page else None,
            slide=_at(self.slides, start),
            section=_at(self.sections, start) or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pages": [list(m) for m in self.pages],
            "slides": [list(m) for m in self.slides],
            "sections": [list(m) for m in self.sections],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        return cls(
            pages=tuple((int(s), int(v)) for s, v in data.get("pages", [])),
            slides=tuple((int(s), int(v)) for s, v in data.get("slides", [])),
            sections=tuple((int(s), str(v)) for s, v in data.get("sections", [])),
        )


def _at(marks: tuple[tuple[int, Any], ...], offset: int) -> Any:
    i = bisect_right(marks, offset, key=lambda m: m[0])
    return marks[i - 1][1] if i else None


@dataclass(frozen=True)
class Document:
    """A loaded and cleaned document: `text` is what is indexed and shown."""

    doc_id: str  # equals meta.source
    text: str
    meta: DocMeta
    content_hash: str  # hash of the raw bytes and sidecar metadata: decides re-embedding
    replaced_bytes: int = 0  # invalid byte sequences read as U+FFFD (reported when indexing, not stored)
    layout: Layout = field(default_factory=Layout)
    notes: tuple[str, ...] = ()  # caveats of reading it, "<file>: <what>" (reported, not stored)


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
