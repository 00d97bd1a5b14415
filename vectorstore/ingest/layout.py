"""Where each part of a file (a PDF page, a slide, a section) lands in the cleaned text.

Cleaning joins lines, drops page furniture and repairs words across page breaks, so the offsets of the
raw text do not survive it; changing the cleaner to carry them would change every index. Instead the
whole text is cleaned as before, each part is cleaned alone, and the part's first letters and digits
are found in the whole: punctuation, spaces and hyphens, which cleaning changes, are left out of that
comparison. The text is exactly what cleaning the joined parts gives.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import TypeVar

from vectorstore.ingest.cleaning import clean_text
from vectorstore.ingest.converters.base import Part
from vectorstore.types import Layout

# Letters and digits compared to find a part; enough to be unique, short enough to lie on one page.
_ANCHOR = 40
# Anchors tried per part: its first paragraphs, in case cleaning the whole dropped the first one.
_TRIES = 3
T = TypeVar("T")


def locate(parts: Sequence[Part], joiner: str) -> tuple[str, Layout]:
    """The cleaned text of the joined parts and where each part's page, slide and section starts."""
    text = clean_text(joiner.join(part.text for part in parts))
    if not any(p.page is not None or p.slide is not None or p.section for p in parts):
        return text, Layout()
    stream, offsets = _letters(text)
    pages: list[tuple[int, int]] = []
    slides: list[tuple[int, int]] = []
    sections: list[tuple[int, str]] = []
    position = 0
    for part in parts:
        found = _find(stream, clean_text(part.text), position)
        if found is None:
            continue
        at, length = found
        start = offsets[at]
        if part.page is not None:
            pages.append((start, part.page))
        if part.slide is not None:
            slides.append((start, part.slide))
        if part.section and (not sections or sections[-1][1] != part.section):
            sections.append((start, part.section))
        elif not part.section and sections and sections[-1][1]:
            sections.append((start, ""))  # a part under no heading ends the section before it
        # The next part starts after this one's first half at least (a header repeated on every page
        # must not be taken for the next page's start).
        position = at + max(1, length // 2)
    return text, Layout(_one_per_offset(pages), _one_per_offset(slides), _one_per_offset(sections))


def _letters(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text`, and the offset in `text` of each."""
    offsets = [i for i, ch in enumerate(text) if ch.isalnum()]
    return "".join(text[i] for i in offsets), offsets


def _find(stream: str, cleaned: str, position: int) -> tuple[int, int] | None:
    """Where in `stream` (from `position` on) the cleaned part starts, and its number of letters.

    Anchors are tried at the part's start and then at its next paragraphs."""
    letters, offsets = _letters(cleaned)
    if not letters:
        return None
    starts = [0] + [i + 2 for i in range(len(cleaned) - 1) if cleaned.startswith("\n\n", i)][: _TRIES - 1]
    for paragraph in starts:
        first = bisect_left(offsets, paragraph)
        if first == len(letters):
            break
        at = stream.find(letters[first : first + _ANCHOR], position)
        if at >= 0:
            return at, len(letters) - first
    return None


def _one_per_offset(marks: list[tuple[int, T]]) -> tuple[tuple[int, T], ...]:
    """Marks at increasing offsets; of two at one offset (after an empty page) the later one is kept."""
    kept: list[tuple[int, T]] = []
    for mark in marks:
        if kept and kept[-1][0] == mark[0]:
            kept[-1] = mark
        else:
            kept.append(mark)
    return tuple(kept)
