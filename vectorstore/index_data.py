"""An index as answering and indexing hold it: `IndexData`, with what names its rows and what built it.

`vectorstore.store` writes and reads it in a folder, `vectorstore.stores.postgres` in a database. Below the
approximate threshold everything is in memory; above it the documents, chunks and sentences are views
of a text store (`vectorstore.texts`) that read what a question asks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from vectorstore import texts
from vectorstore.features import SentenceFeatures, compute
from vectorstore.types import Chunk, DocMeta, Document
from vectorstore.vocabulary import Vocabulary


@dataclass(frozen=True)
class SentenceRef:
    """A sentence of a document, by offsets into its cleaned text."""

    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Fingerprint:
    """What an index must agree with to be read: the model and how text was prepared."""

    model_id: str
    model_checksum: str
    dimension: int
    chunking: dict[str, Any]
    cleaning_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model_checksum": self.model_checksum,
            "dimension": self.dimension,
            "chunking": self.chunking,
            "cleaning_version": self.cleaning_version,
        }


#: Named apart: inside `IndexData` the name `faiss` is its chunk index.
SentenceIndex = faiss.Index


@dataclass
class IndexData:
    """A whole index: documents, chunks, sentences, their vectors and the FAISS index.

    Below the approximate threshold everything is in memory (lists and dicts). Above it `documents`,
    `chunks` and `sentences` are views of the text store (`vectorstore.texts`): they read what a question
    asks for, and `features` holds what answering needs of every sentence.
    """

    fingerprint: Fingerprint
    documents: Mapping[str, Document]
    chunks: Sequence[Chunk]
    sentences: Sequence[SentenceRef]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    faiss: faiss.Index
    manifest: dict[str, Any] = field(default_factory=dict)
    #: The approximate index of the sentence vectors, above the approximate threshold (else None).
    sentence_index: SentenceIndex | None = None
    #: Stored with a large index; computed from the texts on first use otherwise.
    features: SentenceFeatures | None = None
    #: Where a large index's texts are read from (None: they are all in memory).
    text_store: texts.TextStore | None = None
    #: The collection's words, when the store read them while loading (else `vocabulary` makes them).
    words: Vocabulary | None = None
    _sentence_row: Mapping[tuple[str, int], int] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def feature_documents(self) -> list[str]:
        """The documents in the order of their sentence rows: `SentenceFeatures.document` indexes this."""
        if isinstance(self.sentences, texts.Sentences):
            return self.sentences.doc_ids
        return list(dict.fromkeys([*(s.doc_id for s in self.sentences), *self.documents]))

    def sentence_features(self) -> SentenceFeatures:
        """Every sentence's features: stored, or computed from the texts once."""
        if self.features is None or len(self.features.usable) != len(self.sentences):
            self.features = compute(
                self.feature_documents(),
                lambda doc_id: self.documents[doc_id].text,
                [(s.doc_id, s.start, s.end) for s in self.sentences],
                [(c.doc_id, [(x.start, x.end) for x in c.sentences]) for c in self.chunks],
            )
        return self.features

    def sentence_languages(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The document languages, sorted ('' for none), and each sentence's index into them."""
        feats = self.sentence_features()
        docs = self.feature_documents()
        if isinstance(self.documents, texts.LazyDocuments):
            language = self.documents.languages()
        else:
            language = [self.documents[d].meta.language or "" for d in docs]
        used = np.unique(feats.document) if len(feats.document) else np.zeros(0, np.int32)
        codes = tuple(sorted({language[int(d)] for d in used}))
        position = {code: i for i, code in enumerate(codes)}
        per_doc = np.array([position.get(code, -1) for code in language], np.int64)
        return codes, per_doc[feats.document] if len(docs) else np.zeros(0, np.int64)

    def sentence_row(self) -> Mapping[tuple[str, int], int]:
        """Map (doc_id, start) → sentence vector row (made once: at scale a search, not a dict)."""
        if isinstance(self.sentences, texts.Sentences):
            if self._sentence_row is None:
                self._sentence_row = texts.SentenceRows(self.sentences.spans, self.sentences.doc_ids)
            return self._sentence_row
        if self._sentence_row is None or len(self._sentence_row) != len(self.sentences):
            self._sentence_row = {(s.doc_id, s.start): i for i, s in enumerate(self.sentences)}
        return self._sentence_row

    def chunk_rows(self) -> Mapping[str, int]:
        """Chunk id → row."""
        if isinstance(self.chunks, texts.LazyChunks):
            return self.chunks.rows()
        return {c.id: i for i, c in enumerate(self.chunks)}

    def chunks_at(self, rows: Sequence[int] | set[int]) -> dict[int, Chunk]:
        """The chunks of `rows` (one read of the text store for a large index)."""
        if isinstance(self.chunks, texts.LazyChunks):
            return self.chunks.many(rows)
        return {int(r): self.chunks[int(r)] for r in rows}

    def documents_at(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The documents `doc_ids` (one read of a large index's store for those not in memory)."""
        if isinstance(self.documents, texts.LazyDocuments):
            return self.documents.many(doc_ids)
        return {doc_id: self.documents[doc_id] for doc_id in doc_ids}

    def vocabulary(self) -> Vocabulary:
        """The collection's words: made while loading, asked of the text store, or read from every text."""
        if self.words is not None:
            return self.words
        if self.text_store is not None:
            return self.text_store.vocabulary()
        return Vocabulary(d.text for d in self.documents.values())

    def chunk_counts(self) -> dict[str, int]:
        """Each document's number of chunks."""
        if isinstance(self.chunks, texts.LazyChunks):
            return self.chunks.counts()
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return counts

    def metas(self) -> list[tuple[str, DocMeta]]:
        """Every document's metadata, by id, without reading a large index's texts."""
        if isinstance(self.documents, texts.LazyDocuments):
            return sorted(self.documents.metas())
        return sorted((doc_id, d.meta) for doc_id, d in self.documents.items())
