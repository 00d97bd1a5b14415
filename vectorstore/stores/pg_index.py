"""Filling a PostgreSQL store from files: one transaction per document, shared by many indexers.

Any number of `citeqa index --store URL` processes, on one machine or many, may fill one database from
the same files. Each document is claimed in the database with a session advisory lock before it is
embedded, and checked again once claimed: if another indexer wrote the same content meanwhile, it is
not embedded a second time. An indexer claims documents until their texts reach
`StoreSettings.claim_texts`, embeds them in one pass (as the folder's build embeds all it needs: the
vectors then come out the same, since the model's batches mix documents) and writes each in its own
transaction. A claim belongs to its connection, so an indexer that dies (even by
SIGKILL) releases its claims with it and leaves no stale ones; what it had not committed is rolled
back, and the document keeps its previous version. Documents another indexer holds are taken up again
at the end, waiting for the claim, so every indexer finishes with every document indexed.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from vectorstore.changes import BuildReport, compare, present_paths, read_documents, settle_removals
from vectorstore.errors import StoreUnavailable
from vectorstore.indexer import Embedded, ProgressFactory, embed_split, fingerprint_for, split_documents
from vectorstore.models.embedding import Embedder
from vectorstore.settings import ChunkingSettings
from vectorstore.store import FORMAT_VERSION, Fingerprint
from vectorstore.stores.pg_connection import has_table, has_vector_extension, vector_extension_hint
from vectorstore.stores.postgres import LOCK_NAMESPACE, PostgresStore
from vectorstore.types import Document

_TABLES = ("citeqa_sentences", "citeqa_chunks", "citeqa_documents", "citeqa_manifest")
#: Vectors up to this size are stored in their row (a chunk's text beside it still fits an 8 kB page).
INLINE_VECTOR_BYTES = 4096
_SCHEMA_LOCK = 0  # second advisory-lock key of schema changes; documents use hashtext(doc_id)

Tick = Callable[[int], None] | None


def index_into(
    store: PostgresStore,
    paths: Sequence[Path],
    *,
    embedder: Embedder,
    chunking: ChunkingSettings,
    rebuild: bool = False,
    prune: bool = False,
    keep_others: bool = False,
    progress: ProgressFactory | None = None,
    announce: Callable[[str], None] | None = None,
) -> BuildReport:
    """Bring the store in line with the documents under `paths` (and the local uploads folder of
    `store.uploads_of`, when it has one), by the folder's rules (`vectorstore.changes`); see the
    module docstring for how indexers share the work."""
    started = time.perf_counter()
    report = BuildReport()
    expected = fingerprint_for(embedder, chunking)
    untouched = f"the index in {store.location} was left as it was"
    present = present_paths(paths, prune=prune, untouched=untouched)
    with store.cursor() as conn:
        if not rebuild:  # refuse an index built another way before reading any file
            prepare(conn, store, expected, rebuild=False)
        indexed = _indexed(conn)
        documents, empty = read_documents(present, store.uploads_of, store.settings.max_file_bytes, report)
        compare(documents, {} if rebuild else indexed, report)
        settle_removals(
            documents,
            indexed,
            set() if rebuild else indexed,
            report,
            keep_others=keep_others,
            prune=prune,
            empty=empty,
            untouched=untouched,
            announce=announce,
        )
        if rebuild:  # only now: a refused update leaves the old tables as they were
            prepare(conn, store, expected, rebuild=True)
        store.register_vectors(conn)
        wanted = set(report.added) | set(report.changed)
        todo = [doc for doc_id, doc in documents.items() if doc_id in wanted]
        if todo:
            sizes = {doc.doc_id: len(split_documents([doc], chunking).texts) for doc in todo}
            tick, close = progress(sum(sizes.values())) if progress else (None, None)
            work = _Work(conn, embedder, chunking, tick, report, sizes)
            try:
                held_by_others = work.run(todo, store.settings.claim_texts, wait=False)
                for doc in held_by_others:  # one at a time, waiting for each claim to be free
                    work.run([doc], store.settings.claim_texts, wait=True)
            finally:
                if close:
                    close()
        for doc_id in report.removed:
            _remove(conn, doc_id)
        row = conn.execute("SELECT chunks FROM citeqa_manifest").fetchone()
        report.chunks = int(row[0]) if row else 0
    report.seconds = time.perf_counter() - started
    return report


def _indexed(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The content hash of every indexed document (none before the first build)."""
    if not has_table(conn, "citeqa_documents"):
        return {}
    return dict(conn.execute("SELECT doc_id, content_hash FROM citeqa_documents").fetchall())


def prepare(
    conn: psycopg.Connection[Any], store: PostgresStore, expected: Fingerprint, rebuild: bool
) -> None:
    """Make sure pgvector and the tables exist (created for `expected`'s dimension, or created anew on
    `rebuild`), and that an existing index was built the same way; one indexer at a time does this."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, _SCHEMA_LOCK))
        _ensure_vector_extension(conn, store)
        if has_table(conn, "citeqa_manifest") and not rebuild:
            store.check_compatible(store.manifest(conn), expected, writing=True)
            return
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                sql.SQL(", ").join(map(sql.Identifier, _TABLES))
            )
        )
        for statement in _schema(expected.dimension):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO citeqa_manifest (format_version, fingerprint, build_id) VALUES (%s, %s, %s)",
            (FORMAT_VERSION, Jsonb(expected.to_dict()), uuid.uuid4().hex[:12]),
        )


def _ensure_vector_extension(conn: psycopg.Connection[Any], store: PostgresStore) -> None:
    if has_vector_extension(conn):
        return
    try:
        with conn.transaction():  # a savepoint: a refusal must not end the schema transaction
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as err:
        reason = " ".join(str(err).split())[:100]
        raise StoreUnavailable(
            f"The database of {store.location} has no `vector` extension and citeqa could not add it "
            f"({reason}); {vector_extension_hint(conn)}"
        ) from None


def _schema(dim: int) -> list[sql.Composed]:
    statements = [
        """CREATE TABLE citeqa_manifest (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            format_version integer NOT NULL,
            fingerprint jsonb NOT NULL,
            build_id text NOT NULL,
            generation bigint NOT NULL DEFAULT 1,
            documents integer NOT NULL DEFAULT 0,
            chunks integer NOT NULL DEFAULT 0,
            sentences integer NOT NULL DEFAULT 0,
            updated timestamptz NOT NULL DEFAULT now())""",
        """CREATE TABLE citeqa_documents (
            doc_id text PRIMARY KEY,
            content_hash text NOT NULL,
            meta jsonb NOT NULL,
            layout jsonb NOT NULL,
            text text NOT NULL,
            indexed_by text NOT NULL,
            indexed_at timestamptz NOT NULL DEFAULT now())""",
        """CREATE TABLE citeqa_chunks (
            doc_id text NOT NULL REFERENCES citeqa_documents ON DELETE CASCADE,
            ord integer NOT NULL,
            chunk_id text NOT NULL,
            text text NOT NULL,
            start_offset integer NOT NULL,
            end_offset integer NOT NULL,
            sentences integer[] NOT NULL,
            embedding vector({dim}) NOT NULL,
            PRIMARY KEY (doc_id, ord))""",
        """CREATE TABLE citeqa_sentences (
            doc_id text NOT NULL REFERENCES citeqa_documents ON DELETE CASCADE,
            ord integer NOT NULL,
            start_offset integer NOT NULL,
            end_offset integer NOT NULL,
            embedding vector({dim}) NOT NULL,
            PRIMARY KEY (doc_id, ord))""",
        "CREATE INDEX citeqa_chunks_hnsw ON citeqa_chunks "
        "USING hnsw ((embedding::halfvec({dim})) halfvec_ip_ops)",
        "CREATE INDEX citeqa_sentences_hnsw ON citeqa_sentences "
        "USING hnsw ((embedding::halfvec({dim})) halfvec_ip_ops)",
    ]
    if dim * 4 <= INLINE_VECTOR_BYTES:
        # Kept in the row, uncompressed: by default a vector over ~2 kB goes to the TOAST table, and
        # reading a question's few hundred sentences then costs a second lookup per row (and an
        # attempt to decompress what random floats never compress).
        statements += [
            f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN"
            for table in ("citeqa_chunks", "citeqa_sentences")
        ]
    return [sql.SQL(s).format(dim=sql.Literal(dim)) for s in statements]


@dataclass
class _Work:
    """Claiming, embedding and writing documents for one indexer."""

    conn: psycopg.Connection[Any]
    embedder: Embedder
    chunking: ChunkingSettings
    tick: Tick
    report: BuildReport
    sizes: dict[str, int]  # texts to embed per document

    def run(self, docs: Sequence[Document], claim_texts: int, *, wait: bool) -> list[Document]:
        """Claim `docs` in turn, up to `claim_texts` texts at a time; embed each group in one pass (so a
        single indexer embeds a collection exactly as the folder's build does) and write each document
        in its own transaction. Returns the documents another indexer held (not waiting)."""
        held: list[Document] = []
        pending = list(docs)
        while pending:
            group: list[Document] = []
            texts = 0
            try:
                while pending and (not group or texts + self.sizes[pending[0].doc_id] <= claim_texts):
                    doc = pending.pop(0)
                    if not _claim(self.conn, doc.doc_id, wait):
                        held.append(doc)
                    elif self._written_by_another(doc):
                        _release(self.conn, doc.doc_id)
                    else:
                        group.append(doc)
                        texts += self.sizes[doc.doc_id]
                if group:
                    self._embed_and_write(group)
            finally:
                for doc in group:
                    _release(self.conn, doc.doc_id)
        return held

    def _written_by_another(self, doc: Document) -> bool:
        """Whether the claimed `doc` is already indexed with this content (another indexer wrote it
        after this one compared): then it is not embedded again."""
        row = self.conn.execute(
            "SELECT content_hash FROM citeqa_documents WHERE doc_id = %s", (doc.doc_id,)
        ).fetchone()
        if row is None or row[0] != doc.content_hash:
            return False
        self.report.by_others.append(doc.doc_id)
        if self.tick:
            self.tick(self.sizes[doc.doc_id])
        return True

    def _embed_and_write(self, group: list[Document]) -> None:
        embedded = embed_split(split_documents(group, self.chunking), self.embedder, self.chunking, self.tick)
        self.report.embedded_texts += sum(self.sizes[doc.doc_id] for doc in group)
        for doc in group:
            chunk_rows = [i for i, c in enumerate(embedded.chunks) if c.doc_id == doc.doc_id]
            sentence_rows = [i for i, ref in enumerate(embedded.sentences) if ref.doc_id == doc.doc_id]
            part = Embedded(
                [embedded.chunks[i] for i in chunk_rows],
                [embedded.sentences[i] for i in sentence_rows],
                embedded.chunk_vectors[chunk_rows],
                embedded.sentence_vectors[sentence_rows],
            )
            _write(self.conn, doc, part)


def _release(conn: psycopg.Connection[Any], doc_id: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_NAMESPACE, doc_id))


def _claim(conn: psycopg.Connection[Any], doc_id: str, wait: bool) -> bool:
    if wait:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, doc_id))
        return True
    row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, doc_id)).fetchone()
    return bool(row and row[0])


def _write(conn: psycopg.Connection[Any], doc: Document, embedded: Embedded) -> None:
    """Replace `doc` with its new chunks and sentences and raise the generation, in one transaction."""
    with conn.transaction():
        old_chunks, old_sentences, existed = _sizes(conn, doc.doc_id)
        conn.execute("DELETE FROM citeqa_documents WHERE doc_id = %s", (doc.doc_id,))
        conn.execute(
            "INSERT INTO citeqa_documents (doc_id, content_hash, meta, layout, text, indexed_by) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                doc.doc_id,
                doc.content_hash,
                Jsonb(doc.meta.to_dict()),
                Jsonb(doc.layout.to_dict()),
                doc.text,
                indexer_name(),
            ),
        )
        with conn.cursor() as cur:
            with cur.copy(
                "COPY citeqa_chunks (doc_id, ord, chunk_id, text, start_offset, end_offset, sentences, "
                "embedding) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "int4", "text", "text", "int4", "int4", "int4[]", "vector"])
                for ord_, (chunk, vector) in enumerate(
                    zip(embedded.chunks, embedded.chunk_vectors, strict=True)
                ):
                    spans = [x for span in chunk.sentences for x in (span.start, span.end)]
                    copy.write_row(
                        [doc.doc_id, ord_, chunk.id, chunk.text, chunk.start, chunk.end, spans, vector]
                    )
            with cur.copy(
                "COPY citeqa_sentences (doc_id, ord, start_offset, end_offset, embedding) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "int4", "int4", "int4", "vector"])
                for ord_, (ref, vector) in enumerate(
                    zip(embedded.sentences, embedded.sentence_vectors, strict=True)
                ):
                    copy.write_row([doc.doc_id, ord_, ref.start, ref.end, vector])
        _advance(
            conn,
            documents=0 if existed else 1,
            chunks=len(embedded.chunks) - old_chunks,
            sentences=len(embedded.sentences) - old_sentences,
        )


def _remove(conn: psycopg.Connection[Any], doc_id: str) -> None:
    """Delete a document with its chunks and sentences and raise the generation, in one transaction."""
    _claim(conn, doc_id, wait=True)
    try:
        with conn.transaction():
            chunks, sentences, existed = _sizes(conn, doc_id)
            if existed:
                conn.execute("DELETE FROM citeqa_documents WHERE doc_id = %s", (doc_id,))
                _advance(conn, documents=-1, chunks=-chunks, sentences=-sentences)
    finally:
        _release(conn, doc_id)


def _sizes(conn: psycopg.Connection[Any], doc_id: str) -> tuple[int, int, bool]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM citeqa_chunks WHERE doc_id = %(d)s), "
        "(SELECT count(*) FROM citeqa_sentences WHERE doc_id = %(d)s), "
        "EXISTS (SELECT 1 FROM citeqa_documents WHERE doc_id = %(d)s)",
        {"d": doc_id},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), bool(row[2])


def _advance(conn: psycopg.Connection[Any], *, documents: int, chunks: int, sentences: int) -> None:
    # Last in every writing transaction: the manifest row's lock is then held only briefly, and a
    # reader that sees the new generation also sees the change that raised it.
    conn.execute(
        "UPDATE citeqa_manifest SET generation = generation + 1, documents = documents + %s, "
        "chunks = chunks + %s, sentences = sentences + %s, updated = now()",
        (documents, chunks, sentences),
    )


def indexer_name() -> str:
    """Who wrote a document: host and process id (shown by `citeqa_documents.indexed_by`)."""
    return f"{socket.gethostname()}:{os.getpid()}"
