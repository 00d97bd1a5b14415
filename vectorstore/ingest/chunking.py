"""Sentence splitting and paragraph-aware chunking with overlap.

Offsets always point into the cleaned document text, so `text[chunk.start:chunk.end] == chunk.text`
and the answer composer can quote any sentence by its span. No chunk and no sentence is longer than
`max_chars`: a sentence that is (an unpunctuated transcript, a table flattened into one line) is cut
after a clause mark, else at a space, else between characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from vectorstore.settings import ChunkingSettings
from vectorstore.types import Chunk, Span, content_hash

# Tokens that end with a period without ending a sentence (nl, de, en); compared lower-cased.
_ABBREVIATIONS = frozenset(
    (  # noqa: SIM905 - a word list reads best as one string
        "z.b bzw d.h u.a usw vgl ca dr prof nr st mr mrs ms jr sr vs etc e.g i.e o.a bijv m.a.w d.w.z "
        "mevr dhr blz jan feb febr mrt apr aug sep sept okt oct nov dec co inc ltd gen lt col sgt v.chr "
        "n.chr a.d u.s u.k e.v evt resp zgn ggf inkl "
    ).split()
)
# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+)")
_NEXT_START = re.compile(r"\s+([\"'“„‚«(\[]*)(\S)")
_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", re.DOTALL)
# Where an over-long sentence is best cut: after a comma, semicolon or colon, or before a dash.
_CLAUSE_END = re.compile(r"[,;:](?=\s)|\S(?=\s+[–—-]\s)")
_SPACE = re.compile(r"\S(?=\s)")


def paragraphs(text: str) -> list[Span]:
    """Spans of the paragraphs of `text` (separated by blank lines), stripped of outer whitespace."""
    return [Span(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]


def _is_boundary(text: str, dot_start: int, dot_end: int) -> bool:
    nxt = _NEXT_START.match(text, dot_end)
    if nxt is None:
        return False
    following = nxt.group(2)
    if not (following.isupper() or following.isdigit() or nxt.group(1)):
        return False
    if text[dot_start] != ".":
        return True
    word_start = dot_start
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot_start].lower().lstrip("(\"'„“")
    if word in _ABBREVIATIONS or word.rstrip(".") in _ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha():  # an initial, as in "J. Borrell"
        return False
    # German ordinals ("30. November") and numbered lists: short numbers are not sentence ends.
    return not (word.isdigit() and len(word) <= 2)


def sentences(text: str, span: Span | None = None) -> list[Span]:
    """Split `text[span]` (default: all of it) into sentence spans; paragraphs always end sentences."""
    spans: list[Span] = []
    for para in paragraphs(text) if span is None else [span]:
        start = para.start
        for match in _BOUNDARY.finditer(text, para.start, para.end):
            if match.end() >= para.end:
                break
            if _is_boundary(text, match.start(), match.end()):
                spans.append(Span(start, match.end()))
                start = _NEXT_START.match(text, match.end()).start(1)  # type: ignore[union-attr]
        if start < para.end:
            spans.append(Span(start, para.end))
    return spans


def _last_end(pattern: re.Pattern[str], text: str, lo: int, hi: int) -> int | None:
    """The end of the last match of `pattern` ending in (lo, hi], or None."""
    found = None
    for match in pattern.finditer(text, lo, min(hi + 1, len(text))):
        if lo < match.end() <= hi:
            found = match.end()
    return found


def split_long(text: str, span: Span, limit: int) -> list[Span]:
    """`text[span]` cut into pieces of at most `limit` characters, or `[span]` when it fits.

    A piece ends after a clause mark if one falls in the second half of the allowance (so pieces
    stay readable quotes), else at the last space, else after `limit` characters; the whitespace
    between pieces belongs to neither.
    """
    pieces: list[Span] = []
    start = span.start
    while span.end - start > limit:
        hi = start + limit
        cut = _last_end(_CLAUSE_END, text, start + limit // 2, hi) or _last_end(_SPACE, text, start, hi)
        if cut is None:
            cut = hi
            # Never part a letter from the accents that follow it.
            while cut > start + 1 and unicodedata.combining(text[cut]):
                cut -= 1
        pieces.append(Span(start, cut))
        start = cut
        while text[start].isspace():
            start += 1
    pieces.append(Span(start, span.end))
    return pieces


def _chunk_id(doc_id: str, start: int, text: str) -> str:
    return content_hash(f"{doc_id}\x00{start}\x00{text}")


def chunk_document(doc_id: str, text: str, settings: ChunkingSettings) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_chars` (a longer sentence is cut first).

    A chunk prefers to end at a paragraph break once it is half full, and the next chunk repeats the
    last `overlap_sentences` sentences so a fact split across the seam is still found whole.
    """
    units: list[tuple[Span, bool]] = []  # (sentence, ends a paragraph)
    for para in paragraphs(text):
        sents = [p for s in sentences(text, para) for p in split_long(text, s, settings.max_chars)]
        units.extend((s, i == len(sents) - 1) for i, s in enumerate(sents))
    return list(_pack(doc_id, text, units, settings))


def _pack(
    doc_id: str, text: str, units: list[tuple[Span, bool]], settings: ChunkingSettings
) -> Iterator[Chunk]:
    i = 0
    while i < len(units):
        j = i + 1  # the chunk is units[i:j]
        while j < len(units) and units[j][0].end - units[i][0].start <= settings.max_chars:
            if units[j - 1][1] and units[j - 1][0].end - units[i][0].start >= settings.max_chars // 2:
                break
            j += 1
        start, end = units[i][0].start, units[j - 1][0].end
        body = text[start:end]
        yield Chunk(
            id=_chunk_id(doc_id, start, body),
            doc_id=doc_id,
            text=body,
            start=start,
            end=end,
            sentences=tuple(u[0] for u in units[i:j]),
        )
        if j >= len(units):
            break
        # Overlap, but always make progress.
        i = max(i + 1, j - settings.overlap_sentences)
