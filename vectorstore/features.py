"""What is known of each sentence before any question: computed once from the texts, so that answering
never has to read every text again.

Answering (`qa.retrieve.evidence`) needs, per sentence row: whether it may be quoted (`usable`: not a
question, at least `MIN_WORDS` words, prose rather than a byline), the first chunk that holds it, the
sentence before it in its document, its document's language, and the interview structure (a paragraph
that follows a paragraph ending in a question answers that question). All of it depends on one document
at a time, so `document_features` works per document and `assemble` joins the documents' results in
row order. A small index computes them when it is loaded; an index above the approximate threshold
stores them (`SentenceFeatures.save`), so a serving process holds these arrays and not the texts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_WORDS = 3
#: Sentences before an interviewer's question that its answer may take its topic from.
FOLLOW_UP_SENTENCES = 3
_LETTER_WORD = re.compile(r"[^\W\d_]+")


def is_question(text: str) -> bool:
    return text.rstrip("\"'”’»)] ").endswith("?")


def is_prose(text: str) -> bool:
    """False for bylines and datelines ("Aus Bukarest Bernd Riegert.", "30. November 2022"): lines
    without a single lower-case word state nothing a question could be answered with."""
    return any(word[0].islower() for word in _LETTER_WORD.findall(text))


def quotable(text: str) -> bool:
    """Whether a sentence may be quoted as evidence."""
    return not is_question(text) and len(text.split()) >= MIN_WORDS and is_prose(text)


@dataclass(frozen=True)
class DocumentFeatures:
    """One document's sentences (in row order, by local index 0..n-1)."""

    usable: np.ndarray  # bool (n,)
    first_chunk: np.ndarray  # int64 (n,): local index of the first of the document's chunks holding it, -1
    answers: (
        np.ndarray
    )  # int64 (a, 3): answering sentence, the question it answers, position in its paragraph


def document_features(
    text: str, spans: Sequence[tuple[int, int]], chunk_spans: Iterable[Sequence[tuple[int, int]]]
) -> DocumentFeatures:
    """Features of one document: `spans` its sentences' (start, end) in row order, `chunk_spans` the
    sentence spans of each of its chunks, in row order."""
    n = len(spans)
    texts = [text[s:e] for s, e in spans]
    usable = np.fromiter((quotable(t) for t in texts), bool, n)
    local = {start: i for i, (start, _) in enumerate(spans)}
    first_chunk = np.full(n, -1, np.int64)
    for c, chunk in enumerate(chunk_spans):
        for start, _ in chunk:
            i = local.get(start)
            if i is not None and first_chunk[i] < 0:
                first_chunk[i] = c
    order = sorted(range(n), key=lambda i: spans[i])
    answers: list[tuple[int, int, int]] = []
    asked: int | None = None
    position = 0
    for prev, row in zip(order, order[1:], strict=False):
        if "\n" in text[spans[prev][1] : spans[row][0]]:  # a new paragraph begins at `row`
            asked = prev if is_question(texts[prev]) else None
            position = 0
        else:
            position += 1
        if asked is not None:
            answers.append((row, asked, position))
    return DocumentFeatures(usable, first_chunk, np.array(answers, np.int64).reshape(len(answers), 3))


@dataclass(frozen=True)
class SentenceFeatures:
    """Every sentence row's features (see the module docstring), for the whole index."""

    usable: np.ndarray  # bool (n,)
    sentence_chunk: np.ndarray  # int64 (n,): row of the first chunk that holds it, -1 for none
    previous: np.ndarray  # int64 (n,): row of the sentence before, in the same document (or itself)
    document: np.ndarray  # int32 (n,): index of its document in `doc_ids` order
    answer_rows: np.ndarray  # int64 (a,): sentences that answer a preceding question...
    asked_rows: np.ndarray  # ...the question they answer...
    positions: np.ndarray  # float32 (a,): ...and how far into the answer paragraph they stand

    def before_asked(self) -> np.ndarray:
        """(a, FOLLOW_UP_SENTENCES): the sentences just before each question (itself where the
        document has none), which a follow-up refers to."""
        asked = self.asked_rows
        out = np.empty((len(asked), FOLLOW_UP_SENTENCES), np.int64)
        for k in range(1, FOLLOW_UP_SENTENCES + 1):
            back = asked - k
            same = (back >= 0) & (self.document[np.maximum(back, 0)] == self.document[asked])
            out[:, k - 1] = np.where(same, back, asked)
        return out

    def save(self, path: Path) -> None:
        """Write as one .npz of plain arrays (no pickle)."""
        with path.open("wb") as fh:
            np.savez(fh, **{name: getattr(self, name) for name in _ARRAYS}, allow_pickle=False)

    @classmethod
    def load(cls, path: Path) -> SentenceFeatures:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(**{name: arrays[name] for name in _ARRAYS})


_ARRAYS = ("usable", "sentence_chunk", "previous", "document", "answer_rows", "asked_rows", "positions")


def assemble(parts: Iterable[tuple[int, int, DocumentFeatures]], n_sentences: int) -> SentenceFeatures:
    """Join per-document features: `parts` yields, per document in order, the row of its first sentence,
    the row of its first chunk and its features (a document's sentences and chunks are contiguous rows)."""
    usable = np.zeros(n_sentences, bool)
    sentence_chunk = np.full(n_sentences, -1, np.int64)
    document = np.zeros(n_sentences, np.int32)
    previous = np.arange(n_sentences, dtype=np.int64)
    answers: list[np.ndarray] = []
    for d, (first_sentence, first_chunk, feats) in enumerate(parts):
        n = len(feats.usable)
        rows = slice(first_sentence, first_sentence + n)
        usable[rows] = feats.usable
        sentence_chunk[rows] = np.where(feats.first_chunk >= 0, feats.first_chunk + first_chunk, -1)
        document[rows] = d
        if n > 1:
            previous[first_sentence + 1 : first_sentence + n] = np.arange(
                first_sentence, first_sentence + n - 1
            )
        if len(feats.answers):
            answers.append(feats.answers + np.array([first_sentence, first_sentence, 0]))
    joined = np.concatenate(answers) if answers else np.zeros((0, 3), np.int64)
    return SentenceFeatures(
        usable,
        sentence_chunk,
        previous,
        document,
        joined[:, 0].copy(),
        joined[:, 1].copy(),
        joined[:, 2].astype(np.float32),
    )


def compute(
    doc_ids: Sequence[str],
    text_of: Callable[[str], str],
    sentences: Sequence[tuple[str, int, int]],
    chunks: Sequence[tuple[str, Sequence[tuple[int, int]]]],
) -> SentenceFeatures:
    """Features of a whole index: `doc_ids` in row order, `text_of` a document's text, `sentences`
    (doc_id, start, end) and `chunks` (doc_id, sentence spans) by row. A document's rows must be
    contiguous, as every build writes them."""
    sentence_first, sentence_count = _runs((s[0] for s in sentences), "sentences")
    chunk_first, chunk_count = _runs((c[0] for c in chunks), "chunks")

    def parts() -> Iterable[tuple[int, int, DocumentFeatures]]:
        for doc_id in doc_ids:
            first = sentence_first.get(doc_id, 0)
            n = sentence_count.get(doc_id, 0)
            c0 = chunk_first.get(doc_id, 0)
            spans = [(s, e) for _, s, e in sentences[first : first + n]]
            chunk_spans = [c[1] for c in chunks[c0 : c0 + chunk_count.get(doc_id, 0)]]
            yield first, c0, document_features(text_of(doc_id) if n else "", spans, chunk_spans)

    return assemble(parts(), len(sentences))


def _runs(doc_ids: Iterable[str], what: str) -> tuple[dict[str, int], dict[str, int]]:
    """Each document's first row and number of rows; ValueError when a document's rows are split."""
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    previous = None
    for row, doc_id in enumerate(doc_ids):
        if doc_id != previous:
            if doc_id in first:
                raise ValueError(f"the {what} of {doc_id} are not contiguous rows")
            first[doc_id] = row
            previous = doc_id
        count[doc_id] = count.get(doc_id, 0) + 1
    return first, count
