"""The texts of a large PostgreSQL index, read per question (issue 26).

Above `StoreSettings.approximate_threshold` sentences a process answering from PostgreSQL keeps only
what every question needs: the document ids and languages, each document's first chunk row, the chunks'
start offsets, the sentence rows as an int64 (n, 3) array of (document number, start, end)
(`texts.Sentences`), the sentences' features (`vectorstore.features`) and the collection's vocabulary.
`load` makes all of it in one streaming pass over the documents (a server-side cursor: a document's
text with its sentences' and chunks' spans, one document at a time), so no text is kept. A question's
window then reads its chunks in one query (`PgChunks.many`) and the documents its quotes come from
(`PgDocuments`, a small LRU), rows by (doc_id, ord) of the loaded snapshot, whose order is the tables'
(`doc_id COLLATE "C", ord`).

Every such read also asks, in the same statement, whether the database is still at the snapshot's
generation: if it changed, the rows may be another version of the document, so the question fails with
a one-line error (the next one loads the new index) rather than quote a text the offsets do not fit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg

from vectorstore.errors import IndexCorrupt
from vectorstore.features import DocumentFeatures, SentenceFeatures, assemble, document_features
from vectorstore.texts import LazyChunks, LazyDocuments, Sentences
from vectorstore.types import Chunk, DocMeta, Document, Layout, Span
from vectorstore.vocabulary import Vocabulary

if TYPE_CHECKING:
    from vectorstore.stores.postgres import PostgresStore

#: True while the database is at the snapshot's generation: part of every per-question read.
_CURRENT = (
    "EXISTS (SELECT 1 FROM citeqa_manifest m WHERE m.build_id = %(build)s AND m.generation = %(generation)s)"
)

#: One row per document, in the tables' order: its text and language, its sentences' offsets, its
#: chunks' start offsets, how many sentence offsets each chunk has and all of them, flat.
_PASS = """
SELECT d.doc_id, d.text, coalesce(d.meta->>'language', ''), s.starts, s.ends, c.starts, c.lengths, f.spans
FROM citeqa_documents d
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(start_offset ORDER BY ord), '{}') AS starts,
           coalesce(array_agg(end_offset ORDER BY ord), '{}') AS ends
    FROM citeqa_sentences WHERE doc_id = d.doc_id) s
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(start_offset ORDER BY ord), '{}') AS starts,
           coalesce(array_agg(cardinality(sentences) ORDER BY ord), '{}') AS lengths
    FROM citeqa_chunks WHERE doc_id = d.doc_id) c
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(u.x ORDER BY k.ord, u.i), '{}') AS spans
    FROM citeqa_chunks k, unnest(k.sentences) WITH ORDINALITY AS u(x, i) WHERE k.doc_id = d.doc_id) f
ORDER BY d.doc_id COLLATE "C"
"""


class Snapshot:
    """Reads of the database that must see the generation `IndexData` was loaded from."""

    def __init__(self, store: PostgresStore, generation: str) -> None:
        self.store = store
        build, _, number = generation.rpartition(":")
        self._params: dict[str, Any] = {"build": build, "generation": int(number)}

    def query(self, statement: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of `statement`, which says `{current}` where the generation check goes: none when
        the database has moved on."""
        with self.store.cursor() as conn:
            return conn.execute(statement.format(current=_CURRENT), {**params, **self._params}).fetchall()

    def changed(self) -> IndexCorrupt:
        return IndexCorrupt(
            f"The index in {self.store.location} changed while this question was answered; ask again."
        )


class PgDocuments(LazyDocuments):
    """The documents by id: ids and languages in memory, each text read by id when first asked for."""

    def __init__(self, snapshot: Snapshot, doc_ids: list[str], languages: list[str]) -> None:
        super().__init__(doc_ids)
        self._snapshot = snapshot
        self._languages = languages

    def read(self, doc_id: str, number: int) -> Document:
        return self.read_many([doc_id])[doc_id]

    def read_many(self, doc_ids: list[str]) -> dict[str, Document]:
        rows = self._snapshot.query(
            "SELECT doc_id, text, meta, layout, content_hash FROM citeqa_documents "
            "WHERE doc_id = ANY(%(doc_ids)s::text[]) AND {current}",
            {"doc_ids": doc_ids},
        )
        if len(rows) != len(doc_ids):
            raise self._snapshot.changed()
        return {
            doc_id: Document(
                doc_id, text, DocMeta.from_dict(meta), content_hash, layout=Layout.from_dict(layout)
            )
            for doc_id, text, meta, layout, content_hash in rows
        }

    def metas(self) -> Iterator[tuple[str, DocMeta]]:
        rows = self._snapshot.query(
            'SELECT doc_id, meta FROM citeqa_documents WHERE {current} ORDER BY doc_id COLLATE "C"', {}
        )
        if [row[0] for row in rows] != self.ids:
            raise self._snapshot.changed()
        return ((doc_id, DocMeta.from_dict(meta)) for doc_id, meta in rows)

    def languages(self) -> list[str]:
        return self._languages


class PgChunks(LazyChunks):
    """The chunks by global row: row → (document, ord) by each document's first row, kept as an array."""

    def __init__(self, snapshot: Snapshot, doc_ids: list[str], first: np.ndarray, starts: np.ndarray) -> None:
        """`first`: int64 (documents + 1), each document's first chunk row and the total at the end;
        `starts`: int64 (chunks), each chunk's start offset (what a read checks the row against)."""
        super().__init__(doc_ids, int(first[-1]))
        self._snapshot = snapshot
        self.first = first
        self.starts = starts

    def document_of(self, rows: np.ndarray) -> np.ndarray:
        """The document number of each chunk row."""
        return np.searchsorted(self.first, rows, side="right") - 1

    def read_rows(self, wanted: list[int]) -> dict[int, Chunk]:
        rows = np.array(wanted, np.int64)
        docs = self.document_of(rows)
        found = self._snapshot.query(
            "SELECT k.row, c.chunk_id, c.text, c.start_offset, c.end_offset, c.sentences "
            "FROM unnest(%(docs)s::text[], %(ords)s::int[], %(rows)s::bigint[]) AS k(doc_id, ord, row) "
            "JOIN citeqa_chunks c ON c.doc_id = k.doc_id AND c.ord = k.ord WHERE {current}",
            {
                "docs": [self.doc_ids[int(d)] for d in docs],
                "ords": (rows - self.first[docs]).tolist(),
                "rows": rows.tolist(),
            },
        )
        document = dict(zip(rows.tolist(), docs.tolist(), strict=True))
        out: dict[int, Chunk] = {}
        for row, chunk_id, text, start, end, spans in found:
            if start != int(self.starts[row]):
                raise self._snapshot.changed()
            pairs = tuple(Span(spans[i], spans[i + 1]) for i in range(0, len(spans), 2))
            out[row] = Chunk(chunk_id, self.doc_ids[document[row]], text, start, end, pairs)
        return out

    def lost(self) -> Exception:
        return self._snapshot.changed()

    def rows(self) -> Mapping[str, int]:
        return PgChunkRows(self, self._snapshot)

    def counts(self) -> dict[str, int]:
        sizes = np.diff(self.first)
        return {doc_id: int(sizes[i]) for i, doc_id in enumerate(self.doc_ids)}


class PgChunkRows(Mapping[str, int]):
    """Chunk id → row: the chunks a question just read answer at once; any other is asked of the
    database (no index on chunk ids: a scan, which answering never needs)."""

    def __init__(self, chunks: PgChunks, snapshot: Snapshot) -> None:
        self._chunks = chunks
        self._snapshot = snapshot
        self._number = {doc_id: i for i, doc_id in enumerate(chunks.doc_ids)}

    def __getitem__(self, chunk_id: str) -> int:
        row = self._chunks.row_of(chunk_id)
        if row is not None:
            return row
        found = self._snapshot.query(
            "SELECT doc_id, ord FROM citeqa_chunks WHERE chunk_id = %(chunk_id)s AND {current} "
            'ORDER BY doc_id COLLATE "C", ord LIMIT 1',
            {"chunk_id": chunk_id},
        )
        if not found or found[0][0] not in self._number:
            raise KeyError(chunk_id)
        doc_id, ord_ = found[0]
        return int(self._chunks.first[self._number[doc_id]]) + int(ord_)

    def __iter__(self) -> Iterator[str]:
        rows = self._snapshot.query(
            'SELECT chunk_id FROM citeqa_chunks WHERE {current} ORDER BY doc_id COLLATE "C", ord', {}
        )
        return (row[0] for row in rows)

    def __len__(self) -> int:
        return len(self._chunks)


def load(
    conn: psycopg.Connection[Any], snapshot: Snapshot, counts: Mapping[str, int]
) -> tuple[PgDocuments, PgChunks, Sentences, SentenceFeatures, Vocabulary]:
    """Everything answering keeps of the texts, from one pass over the documents inside the caller's
    snapshot transaction (a server-side cursor needs one); ValueError when the tables disagree with
    the manifest's `counts`."""
    n_docs, n_chunks, n_sentences = (int(counts[k]) for k in ("documents", "chunks", "sentences"))
    doc_ids: list[str] = []
    languages: list[str] = []
    spans = np.zeros((n_sentences, 3), np.int64)
    first = np.zeros(n_docs + 1, np.int64)
    starts = np.zeros(n_chunks, np.int64)
    words = Vocabulary()
    done = {"sentences": 0, "chunks": 0}

    def parts(cur: psycopg.Cursor[Any]) -> Iterator[tuple[int, int, DocumentFeatures]]:
        for d, (doc_id, text, language, s_starts, s_ends, c_starts, lengths, flat) in enumerate(cur):
            row, chunk = done["sentences"], done["chunks"]
            n, m = len(s_starts), len(c_starts)
            if d >= n_docs or row + n > n_sentences or chunk + m > n_chunks:
                raise ValueError("more rows than the manifest counts")
            doc_ids.append(doc_id)
            languages.append(language)
            spans[row : row + n] = np.column_stack([np.full(n, d), s_starts, s_ends]).reshape(n, 3)
            first[d] = chunk
            starts[chunk : chunk + m] = c_starts
            chunk_spans = []
            at = 0
            for length in lengths:
                part = flat[at : at + length]
                chunk_spans.append(list(zip(part[0::2], part[1::2], strict=True)))
                at += length
            words.add(text)
            done["sentences"], done["chunks"] = row + n, chunk + m
            yield (
                row,
                chunk,
                document_features(text if n else "", list(zip(s_starts, s_ends, strict=True)), chunk_spans),
            )

    with conn.cursor(name="citeqa_texts", binary=True) as cur:
        cur.itersize = 64  # documents per fetch: a few MB of text at a time
        cur.execute(_PASS)
        features = assemble(parts(cur), n_sentences)
    if (len(doc_ids), done["chunks"], done["sentences"]) != (n_docs, n_chunks, n_sentences):
        raise ValueError("fewer rows than the manifest counts")
    first[n_docs] = n_chunks
    return (
        PgDocuments(snapshot, doc_ids, languages),
        PgChunks(snapshot, doc_ids, first, starts),
        Sentences(spans, doc_ids),
        features,
        words,
    )
