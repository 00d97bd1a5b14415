"""The texts of a large index, read per question: one SQLite file per generation, plus small arrays.

Above the approximate threshold a serving process holds only what every question needs: the sentence
rows as arrays (document number, start, end: 24 bytes a sentence, memory-mapped), the sentence features
(`vectorstore.features`), the document ids and languages, and the ANN indexes. A question's window then
reads its chunks (`Chunks.many`, one query) and the documents its quotes come from (`Documents`, kept in
a small LRU) from `texts-<gen>.sqlite`, which `write` made at build time:

    documents (num PRIMARY KEY, doc_id UNIQUE, meta, content_hash, text, layout)   meta, layout: JSON
    chunks    (row PRIMARY KEY, id, doc_num, start, end, text, spans)              spans: JSON pairs
    words, numbers, prefixes, trigrams                                             `vectorstore.vocabulary`

The file is opened read-only and immutable (a generation's files never change), one connection per
thread. A damaged file fails its checksum when the index is loaded; one damaged afterwards fails the
question with `IndexCorrupt` and the rebuild hint, never a traceback.

`LazyDocuments` and `LazyChunks` are what `IndexData` asks of such views whichever store holds the
texts: PostgreSQL's (`vectorstore.stores.pg_texts`) read the same things from its tables.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from vectorstore import vocabulary
from vectorstore.errors import IndexCorrupt
from vectorstore.sentence_rows import SentenceRows, Sentences
from vectorstore.types import Chunk, DocMeta, Document, Layout, Span

__all__ = [
    "Chunks",
    "Documents",
    "LazyChunks",
    "LazyDocuments",
    "SentenceRows",
    "Sentences",
    "TextStore",
    "write",
]

#: Documents kept in memory after a question read them: the next question often quotes the same ones.
CACHED_DOCUMENTS = 256
#: Chunks kept likewise: a window's chunks are read once, then ranked, quoted and cited from memory.
CACHED_CHUNKS = 4096


def write(path: Path, documents: Iterable[Document], chunks: Iterable[Chunk], doc_ids: Sequence[str]) -> None:
    """Write the text store of an index: `documents` in `doc_ids` order, `chunks` by row."""
    number = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")  # the caller fsyncs the finished file
        db.execute(
            "CREATE TABLE documents (num INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, "
            "meta TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL, layout TEXT NOT NULL)"
        )
        db.execute(
            "CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT NOT NULL, doc_num INTEGER NOT NULL, "
            "start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, spans TEXT NOT NULL)"
        )
        texts: list[str] = []

        def document_rows() -> Iterator[tuple[Any, ...]]:
            for doc in documents:
                texts.append(doc.text)
                yield (
                    number[doc.doc_id],
                    doc.doc_id,
                    json.dumps(doc.meta.to_dict(), ensure_ascii=False),
                    doc.content_hash,
                    doc.text,
                    json.dumps(doc.layout.to_dict()),
                )

        db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)", document_rows())
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    row,
                    c.id,
                    number[c.doc_id],
                    c.start,
                    c.end,
                    c.text,
                    json.dumps([x for s in c.sentences for x in (s.start, s.end)]),
                )
                for row, c in enumerate(chunks)
            ),
        )
        db.execute("CREATE INDEX chunks_by_id ON chunks (id)")
        db.execute("CREATE INDEX chunks_by_document ON chunks (doc_num)")
        vocabulary.write_tables(db, _drain(texts, db))
        db.commit()
    finally:
        db.close()


def _drain(texts: list[str], db: sqlite3.Connection) -> Iterator[str]:
    """The documents' texts again, read back from the table (the list only held them while writing)."""
    texts.clear()
    for (text,) in db.execute("SELECT text FROM documents ORDER BY num"):
        yield text


class TextStore:
    """A generation's `texts-<gen>.sqlite`, opened read-only, one connection per thread."""

    def __init__(self, path: Path, hint: str) -> None:
        self.path = path
        self.hint = hint
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            self._local.db = db
        return db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of `sql`; IndexCorrupt in one line when the file cannot answer."""
        try:
            return self.connect().execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise IndexCorrupt(
                f"The index's text store {self.path} is damaged ({err}); {self.hint}"
            ) from None

    def vocabulary(self) -> vocabulary.StoredVocabulary:
        return vocabulary.StoredVocabulary(self.connect)

    def doc_ids(self) -> list[str]:
        return [row[0] for row in self.query("SELECT doc_id FROM documents ORDER BY num")]

    def languages(self) -> list[str]:
        rows = self.query("SELECT json_extract(meta, '$.language') FROM documents ORDER BY num")
        return [row[0] or "" for row in rows]

    def chunk_counts(self) -> dict[int, int]:
        return dict(self.query("SELECT doc_num, count(*) FROM chunks GROUP BY doc_num"))  # type: ignore[arg-type]


class LazyDocuments(Mapping[str, Document]):
    """The index's documents by id, their ids in memory and each read by `read` when first asked for
    (kept in a small LRU). The base of every store's view of a large index's documents, so `IndexData`
    asks them the same questions whichever store holds the texts."""

    def __init__(self, doc_ids: list[str]) -> None:
        self.ids = doc_ids
        self._number = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, doc_id: str, number: int) -> Document:
        """Document `doc_id` (the `number`-th of `ids`) from the store."""
        raise NotImplementedError

    def read_many(self, doc_ids: list[str]) -> dict[str, Document]:
        """Documents `doc_ids` from the store: one by one, unless the store can do better."""
        return {doc_id: self.read(doc_id, self._number[doc_id]) for doc_id in doc_ids}

    def many(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The documents `doc_ids`, those not in memory read at once (a question's passages')."""
        wanted = list(dict.fromkeys(doc_ids))
        for doc_id in wanted:
            if doc_id not in self._number:
                raise KeyError(doc_id)
        out: dict[str, Document] = {}
        with self._lock:
            for doc_id in wanted:
                doc = self._cache.get(doc_id)
                if doc is not None:
                    self._cache.move_to_end(doc_id)
                    out[doc_id] = doc
        missing = [doc_id for doc_id in wanted if doc_id not in out]
        if missing:
            read = self.read_many(missing)
            out.update(read)
            with self._lock:
                self._cache.update(read)
                while len(self._cache) > CACHED_DOCUMENTS:
                    self._cache.popitem(last=False)
        return {doc_id: out[doc_id] for doc_id in wanted}

    def metas(self) -> Iterator[tuple[str, DocMeta]]:
        """Every document's metadata, without its text."""
        raise NotImplementedError

    def languages(self) -> list[str]:
        """Each document's language ('' for none), in `ids` order."""
        raise NotImplementedError

    def cached(self) -> list[str]:
        """The ids of the documents held in memory now (what questions have read lately)."""
        with self._lock:
            return list(self._cache)

    def __getitem__(self, doc_id: str) -> Document:
        return self.many([doc_id])[doc_id]

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._number

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


class LazyChunks(Sequence[Chunk]):
    """The index's chunks by row, read from a store when asked for: `many` reads any set of rows at
    once (a question's window in one query). The base of every store's view of a large index's chunks."""

    def __init__(self, doc_ids: list[str], count: int) -> None:
        self.doc_ids = doc_ids
        self._count = count
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._row_of: dict[str, int] = {}  # chunk id → row, of the cached chunks
        self._lock = threading.Lock()

    def read_rows(self, rows: list[int]) -> dict[int, Chunk]:
        """The chunks of `rows` (ascending, in range) from the store, in one query."""
        raise NotImplementedError

    def many(self, rows: Iterable[int]) -> dict[int, Chunk]:
        """The chunks of `rows`: those not read lately in one query (`read_rows`), kept for the next
        reads of the same question (its passages, quotes and citations ask again)."""
        wanted = sorted({int(r) for r in rows})
        if any(not 0 <= r < self._count for r in wanted):
            raise IndexError(f"chunk row out of range (0..{self._count - 1})")
        out: dict[int, Chunk] = {}
        with self._lock:
            for row in wanted:
                chunk = self._cache.get(row)
                if chunk is not None:
                    self._cache.move_to_end(row)
                    out[row] = chunk
        missing = [row for row in wanted if row not in out]
        if missing:
            read = self.read_rows(missing)
            if len(read) != len(missing):
                raise self.lost()
            out.update(read)
            if len(missing) <= CACHED_CHUNKS:  # not a whole-index pass (`__iter__`)
                with self._lock:
                    self._cache.update(read)
                    self._row_of.update((chunk.id, row) for row, chunk in read.items())
                    while len(self._cache) > CACHED_CHUNKS:
                        self._row_of.pop(self._cache.popitem(last=False)[1].id, None)
        return {row: out[row] for row in wanted}

    def lost(self) -> Exception:
        """The error for rows the store no longer has."""
        raise NotImplementedError

    def cached(self) -> list[int]:
        """The rows of the chunks held in memory now (what questions have read lately)."""
        with self._lock:
            return list(self._cache)

    def row_of(self, chunk_id: str) -> int | None:
        """The row of a chunk a question has read lately (no query), else None."""
        with self._lock:
            return self._row_of.get(chunk_id)

    def rows(self) -> Mapping[str, int]:
        """Chunk id → row."""
        raise NotImplementedError

    def counts(self) -> dict[str, int]:
        """Each document's number of chunks."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, row: int) -> Chunk: ...
    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...
    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return list(self.many(range(*row.indices(self._count))).values())
        if not -self._count <= row < self._count:
            raise IndexError(row)
        return self.many([row % self._count])[row % self._count]

    def __iter__(self) -> Iterator[Chunk]:
        for start in range(0, self._count, 10_000):
            yield from self.many(range(start, min(start + 10_000, self._count))).values()


class Documents(LazyDocuments):
    """The index's documents by id; each read from the text store when first asked for (LRU)."""

    def __init__(self, texts: TextStore, doc_ids: list[str]) -> None:
        super().__init__(doc_ids)
        self._texts = texts

    def read(self, doc_id: str, number: int) -> Document:
        rows = self._texts.query(
            "SELECT meta, content_hash, text, layout FROM documents WHERE num = ?", (number,)
        )
        if not rows:
            raise IndexCorrupt(
                f"The index's text store {self._texts.path} has lost {doc_id}; {self._texts.hint}"
            )
        meta, content_hash, text, layout = rows[0]
        return Document(
            doc_id,
            text,
            DocMeta.from_dict(json.loads(meta)),
            content_hash,
            0,
            Layout.from_dict(json.loads(layout)),
        )

    def metas(self) -> Iterator[tuple[str, DocMeta]]:
        for doc_id, meta in self._texts.query("SELECT doc_id, meta FROM documents ORDER BY num"):
            yield doc_id, DocMeta.from_dict(json.loads(meta))

    def languages(self) -> list[str]:
        return self._texts.languages()


class Chunks(LazyChunks):
    """The index's chunks by row, read from the text store when asked for."""

    def __init__(self, texts: TextStore, doc_ids: list[str], count: int) -> None:
        super().__init__(doc_ids, count)
        self.texts = texts

    def read_rows(self, rows: list[int]) -> dict[int, Chunk]:
        out: dict[int, Chunk] = {}
        for i in range(0, len(rows), 900):  # SQLite's limit on bound parameters
            part = rows[i : i + 900]
            marks = ",".join("?" * len(part))
            for row, chunk_id, doc_num, start, end, text, spans in self.texts.query(
                f"SELECT row, id, doc_num, start, end, text, spans FROM chunks WHERE row IN ({marks})", part
            ):
                pairs = json.loads(spans)
                out[row] = Chunk(
                    chunk_id,
                    self.doc_ids[doc_num],
                    text,
                    start,
                    end,
                    tuple(Span(pairs[j], pairs[j + 1]) for j in range(0, len(pairs), 2)),
                )
        return out

    def lost(self) -> Exception:
        return IndexCorrupt(f"The index's text store {self.texts.path} has lost chunks; {self.texts.hint}")

    def rows(self) -> Mapping[str, int]:
        return ChunkRows(self)

    def counts(self) -> dict[str, int]:
        by_number = self.texts.chunk_counts()
        return {doc_id: by_number.get(i, 0) for i, doc_id in enumerate(self.doc_ids)}


class ChunkRows(Mapping[str, int]):
    """Chunk id → row, asked of the text store."""

    def __init__(self, chunks: Chunks) -> None:
        self._texts = chunks.texts
        self._count = len(chunks)

    def __getitem__(self, chunk_id: str) -> int:
        rows = self._texts.query("SELECT row FROM chunks WHERE id = ? ORDER BY row LIMIT 1", (chunk_id,))
        if not rows:
            raise KeyError(chunk_id)
        return int(rows[0][0])

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self._texts.query("SELECT id FROM chunks ORDER BY row"))

    def __len__(self) -> int:
        return self._count
