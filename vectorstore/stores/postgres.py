"""The index in PostgreSQL with pgvector: shared by many processes and machines.

Tables (all prefixed `citeqa_`, so the database may hold other things):

    citeqa_manifest    one row: format version, fingerprint (model, dimension, chunking, cleaning),
                       a build id and a generation counter raised by every committed change, counts
    citeqa_documents   doc_id, content hash, metadata, layout (pages, slides, sections), cleaned text,
                       which indexer wrote it and when
    citeqa_chunks      doc_id, position, chunk id, text, offsets, sentence spans, vector(d)
    citeqa_sentences   doc_id, position, offsets, vector(d)

Vectors are stored exactly (`vector`, float32) and indexed with HNSW over their `halfvec` cast
(`halfvec_ip_ops`: inner product on unit vectors, half the index memory); the exact vector rescores
what the index finds. Every change to a document is one transaction that also raises the generation,
so a reader (who loads in one REPEATABLE READ snapshot) sees a document entirely old or entirely new,
and knows by the generation when to load again. Above `StoreSettings.approximate_threshold` sentences
a reader loads no vectors at all: each question finds its nearest sentences with the HNSW index and
reads the vectors it scores (`pg_vectors.py`); nor texts: it keeps the rows' offsets and the sentences'
features, and reads its window's chunks and documents (`pg_texts.py`). Writing is in `pg_index.py`.
"""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from vectorstore import faiss_index
from vectorstore.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt, StoreUnavailable
from vectorstore.indexer import BuildReport, ProgressFactory
from vectorstore.models.embedding import Embedder
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.store import Fingerprint, IndexData, SentenceRef, check_fingerprint
from vectorstore.stores.base import ArrayVectors, ChunkHit, SentenceHit, Store, Vectors
from vectorstore.stores.pg_connection import (
    connect,
    connection_error,
    display_url,
    has_table,
    has_vector_extension,
    vector_extension_hint,
)
from vectorstore.types import Chunk, DocMeta, Document, Layout, Span

#: First key of every advisory lock citeqa takes ("cite"), so they cannot collide with other users'.
LOCK_NAMESPACE = 0x63697465


class PostgresStore(Store):
    """An index in a PostgreSQL database (pgvector); see the module docstring for its tables."""

    def __init__(self, url: str, settings: StoreSettings, uploads_of: Path | None = None) -> None:
        """`uploads_of`: a local index folder whose `uploads/` (the web chat's uploads on this
        machine) every update reads, as a folder index's own uploads are."""
        self.url = url
        self.uploads_of = uploads_of
        self.location = display_url(url)
        self._settings = settings
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._registered = False

    # -------------------------------------------------------------------------------- connection

    def connection(self) -> psycopg.Connection[Any]:
        """The store's connection (one per store, serialised by the caller), opened on first use and
        again after the server dropped it."""
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, self.location)
            self._registered = False
        return self._conn

    @contextmanager
    def cursor(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, under the store's lock, with server failures as one-line errors."""
        with self._lock:
            try:
                yield self.connection()
            except psycopg.OperationalError as err:
                if self._conn is not None:
                    self._conn.close()
                raise connection_error(err, self.location) from None
            except psycopg.Error as err:  # e.g. a user without the privileges the index needs
                reason = " ".join(str(err).split())[:200]
                raise StoreUnavailable(f"The PostgreSQL store {self.location} refused: {reason}") from None

    def register_vectors(self, conn: psycopg.Connection[Any]) -> None:
        """Teach the connection pgvector's types (after the extension is known to exist)."""
        if not self._registered:
            register_vector(conn)
            self._registered = True

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def rebuild_hint(self) -> str:
        return f"rebuild it with: citeqa index --rebuild --store {shlex.quote(self.location)}"

    def build_hint(self) -> str:
        return f"build it with: citeqa index --store {shlex.quote(self.location)}"

    # -------------------------------------------------------------------------------- reading

    def generation(self) -> str:
        with self.cursor() as conn:
            try:  # one round trip per question: no separate look for the table first
                row = conn.execute("SELECT build_id, generation FROM citeqa_manifest").fetchone()
            except psycopg.errors.UndefinedTable:
                return ""
        return f"{row[0]}:{row[1]}" if row else ""

    def exists(self) -> bool:
        return bool(self.generation())

    def manifest(self, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        """The manifest row as the folder's manifest.json would hold it; IndexNotBuilt when absent,
        saying how to add pgvector when the database lacks it."""
        if not has_table(conn, "citeqa_manifest"):
            if not has_vector_extension(conn):
                raise StoreUnavailable(
                    f"No index in {self.location}, and its database has no `vector` extension; "
                    f"{vector_extension_hint(conn)}, then {self.build_hint()}"
                )
            raise IndexNotBuilt(f"No index in {self.location}; {self.build_hint()}")
        row = conn.execute(
            "SELECT format_version, fingerprint, build_id, generation, documents, chunks, sentences "
            "FROM citeqa_manifest"
        ).fetchone()
        if row is None:
            raise IndexCorrupt(f"The index in {self.location} has no manifest row; {self.rebuild_hint()}")
        version, fingerprint, build_id, generation, n_docs, n_chunks, n_sents = row
        return {
            "format_version": version,
            **fingerprint,
            "generation": f"{build_id}:{generation}",
            "counts": {"documents": n_docs, "chunks": n_chunks, "sentences": n_sents},
        }

    def check_compatible(self, manifest: dict[str, Any], expected: Fingerprint, *, writing: bool) -> None:
        """Refuse an index built by another format or model (and, to write, other text preparation)."""
        check_fingerprint(manifest, expected, f"in {self.location}", self.rebuild_hint())
        prepared = (manifest.get("chunking"), manifest.get("cleaning_version"))
        if writing and prepared != (expected.chunking, expected.cleaning_version):
            raise IndexMismatch(
                f"The index in {self.location} was chunked or cleaned with other settings; "
                f"{self.rebuild_hint()}"
            )

    def load(self, expected: Fingerprint | None = None) -> IndexData:
        with self.cursor() as conn, snapshot(conn):
            manifest = self.manifest(conn)
            if expected is not None:
                self.check_compatible(manifest, expected, writing=False)
            self.register_vectors(conn)
            return self._read(conn, manifest)

    def approximate(self, manifest: dict[str, Any]) -> bool:
        """Whether the index is too large to hold every vector in memory (answering then reads them
        per question, see `pg_vectors.py`)."""
        return int(manifest["counts"]["sentences"]) > self._settings.approximate_threshold

    def _read(self, conn: psycopg.Connection[Any], manifest: dict[str, Any]) -> IndexData:
        if self.approximate(manifest):
            return self._read_large(conn, manifest)
        dim = int(manifest["dimension"])
        documents: dict[str, Document] = {}
        for doc_id, text, meta, layout, content_hash in conn.execute(
            "SELECT doc_id, text, meta, layout, content_hash FROM citeqa_documents "
            'ORDER BY doc_id COLLATE "C"'
        ):
            documents[doc_id] = Document(
                doc_id, text, DocMeta.from_dict(meta), content_hash, layout=Layout.from_dict(layout)
            )
        chunks: list[Chunk] = []
        chunk_vectors: list[np.ndarray] = []
        with conn.cursor(binary=True) as cur:
            cur.execute(
                "SELECT chunk_id, doc_id, text, start_offset, end_offset, sentences, embedding "
                'FROM citeqa_chunks ORDER BY doc_id COLLATE "C", ord'
            )
            for chunk_id, doc_id, text, start, end, spans, embedding in cur:
                pairs = tuple(Span(spans[i], spans[i + 1]) for i in range(0, len(spans), 2))
                chunks.append(Chunk(chunk_id, doc_id, text, start, end, pairs))
                chunk_vectors.append(embedding.to_numpy())
            cur.execute(
                "SELECT doc_id, start_offset, end_offset, embedding "
                'FROM citeqa_sentences ORDER BY doc_id COLLATE "C", ord'
            )
            sentences: list[SentenceRef] = []
            sentence_vectors: list[np.ndarray] = []
            for doc_id, start, end, embedding in cur:
                sentences.append(SentenceRef(doc_id, start, end))
                sentence_vectors.append(embedding.to_numpy())
        counts = manifest["counts"]
        if (len(documents), len(chunks), len(sentences)) != (
            counts["documents"],
            counts["chunks"],
            counts["sentences"],
        ):
            raise IndexCorrupt(f"The index in {self.location} has inconsistent counts; {self.rebuild_hint()}")
        chunk_matrix = _matrix(chunk_vectors, dim)
        return IndexData(
            fingerprint=_fingerprint(manifest),
            documents=documents,
            chunks=chunks,
            sentences=sentences,
            chunk_vectors=chunk_matrix,
            sentence_vectors=_matrix(sentence_vectors, dim),
            faiss=faiss_index.build_index(chunk_matrix, self._settings),
            manifest=manifest,
        )

    def _read_large(self, conn: psycopg.Connection[Any], manifest: dict[str, Any]) -> IndexData:
        """Above the threshold: no vector, no text kept (`pg_texts`); what a question needs of them
        is read for its window."""
        from vectorstore.stores import pg_texts

        dim = int(manifest["dimension"])
        try:
            documents, chunks, sentences, features, words = pg_texts.load(
                conn, pg_texts.Snapshot(self, manifest["generation"]), manifest["counts"]
            )
        except ValueError:
            raise IndexCorrupt(
                f"The index in {self.location} has inconsistent counts; {self.rebuild_hint()}"
            ) from None
        empty = np.zeros((0, dim), np.float32)
        return IndexData(
            fingerprint=_fingerprint(manifest),
            documents=documents,
            chunks=chunks,
            sentences=sentences,
            chunk_vectors=empty,
            sentence_vectors=empty,
            # The chunks are searched in the database (`search_chunks`).
            faiss=faiss.IndexFlatIP(dim),
            manifest=manifest,
            features=features,
            words=words,
        )

    def vectors(self, data: IndexData) -> Vectors:
        if not self.approximate(data.manifest):
            return ArrayVectors(data)
        from vectorstore.stores.pg_vectors import PostgresVectors

        return PostgresVectors(self, data)

    def indexed_hashes(self) -> dict[str, str]:
        """Content hash of every indexed document."""
        with self.cursor() as conn:
            if not has_table(conn, "citeqa_documents"):
                return {}
            return dict(conn.execute("SELECT doc_id, content_hash FROM citeqa_documents").fetchall())

    # -------------------------------------------------------------------------------- searching

    def search_chunks(self, query: np.ndarray, k: int) -> list[ChunkHit]:
        rows = self._search("citeqa_chunks", "chunk_id", "chunks", query, k)
        return [ChunkHit(chunk_id, score) for chunk_id, score in rows]

    def search_sentences(self, query: np.ndarray, k: int) -> list[SentenceHit]:
        rows = self._search("citeqa_sentences", "doc_id, start_offset", "sentences", query, k)
        return [SentenceHit(doc_id, start, score) for doc_id, start, score in rows]

    def _search(
        self, table: str, columns: str, count: str, query: np.ndarray, k: int
    ) -> list[tuple[Any, ...]]:
        """Top-`k` rows of `table` by inner product with `query`: an exact scan up to the settings'
        approximate threshold; above it the HNSW index over the halfvec cast finds twice as many,
        which their exact vectors order again."""
        vector = np.asarray(query, dtype=np.float32)
        with self.cursor() as conn, conn.transaction():
            manifest = self.manifest(conn)
            self.register_vectors(conn)
            approximate = manifest["counts"][count] > self._settings.approximate_threshold
            query_sql = nearest_sql(table, columns, int(manifest["dimension"]), approximate)
            if approximate:
                conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(ef_search(k)))
            rows = conn.execute(query_sql, {"q": vector, "k": k, "fetch": FETCH * k}).fetchall()
        return [(*row[:-1], float(row[-1])) for row in rows]

    # -------------------------------------------------------------------------------- writing

    def index(
        self,
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
        from vectorstore.stores.pg_index import index_into

        return index_into(
            self,
            paths,
            embedder=embedder,
            chunking=chunking,
            rebuild=rebuild,
            prune=prune,
            keep_others=keep_others,
            progress=progress,
            announce=announce,
        )

    @property
    def settings(self) -> StoreSettings:
        return self._settings


#: The HNSW index's hits per wanted row, ordered again by their exact vectors.
FETCH = 2


def ef_search(k: int) -> int:
    """HNSW's candidate list for `k` results (pgvector's default is 40): at 400k sentences of the
    benchmark's vectors 100, 200, 400 and 800 found 0.77, 0.88, 0.92 and 0.96 of the exact top 10
    (README, Performance); pgvector allows at most 1000."""
    return min(1000, max(800, 4 * FETCH * k))


def nearest_sql(table: str, columns: str, dim: int, approximate: bool) -> sql.Composed:
    """The top `%(k)s` rows of `table` by inner product with `%(q)s`, their `columns` and the score."""
    # pgvector's <#> is the negative inner product: negated here, and only here, into a score.
    if not approximate:
        return sql.SQL(
            "SELECT {columns}, -(embedding <#> %(q)s) AS score FROM {table} "
            "ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        ).format(columns=sql.SQL(columns), table=sql.Identifier(table))
    return sql.SQL(
        "SELECT {columns}, -(embedding <#> %(q)s) AS score FROM ("
        "SELECT {columns}, embedding FROM {table} "
        "ORDER BY (embedding::halfvec({dim})) <#> (%(q)s::halfvec({dim})) LIMIT %(fetch)s) AS hits "
        "ORDER BY embedding <#> %(q)s LIMIT %(k)s"
    ).format(columns=sql.SQL(columns), table=sql.Identifier(table), dim=sql.Literal(dim))


@contextmanager
def snapshot(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """One read-only REPEATABLE READ transaction: every query inside sees the same committed state."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _fingerprint(manifest: dict[str, Any]) -> Fingerprint:
    return Fingerprint(
        manifest["model_id"],
        manifest["model_checksum"],
        int(manifest["dimension"]),
        manifest["chunking"],
        manifest["cleaning_version"],
    )


def _matrix(rows: list[np.ndarray], dim: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, dim), np.float32)
    return np.ascontiguousarray(np.stack(rows), dtype=np.float32)


def fingerprint_json(fingerprint: Fingerprint) -> str:
    return json.dumps(fingerprint.to_dict(), sort_keys=True)
