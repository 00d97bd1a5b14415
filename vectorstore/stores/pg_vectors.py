"""An index in PostgreSQL too large to hold in memory: its vectors, read per question.

Above `StoreSettings.approximate_threshold` sentences a process answering from PostgreSQL loads the
documents, chunks and sentence offsets but no vector. A question's nearest sentences come from the HNSW
index over `halfvec` (its hits ordered again by their exact vectors), and the sentences and chunks it
then scores are read by (document, position): rows of the loaded snapshot, whose order is the tables'
(`doc_id COLLATE "C", ord`). If the database changed since that snapshot, what is read no longer
matches it; the question fails with a one-line error and the next one loads the new index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import sql

from vectorstore.errors import IndexCorrupt
from vectorstore.store import IndexData
from vectorstore.stores.base import Vectors
from vectorstore.stores.postgres import FETCH, PostgresStore, ef_search


class PostgresVectors(Vectors):
    """The vectors of a loaded `IndexData` snapshot, read from its database when asked for."""

    approximate = True

    def __init__(self, store: PostgresStore, data: IndexData) -> None:
        self.store = store
        self.data = data
        self.dim = int(data.manifest["dimension"])
        self._sentence_row = data.sentence_row()
        self._sentence_first = _first_rows(s.doc_id for s in data.sentences)
        self._chunk_first = _first_rows(c.doc_id for c in data.chunks)
        self._means: dict[str, tuple[np.ndarray, int]] | None = None

    def sentences(self, rows: np.ndarray) -> np.ndarray:
        refs = [self.data.sentences[int(r)] for r in rows]
        keys = [(s.doc_id, int(r) - self._sentence_first[s.doc_id]) for r, s in zip(rows, refs, strict=True)]
        return self._read("citeqa_sentences", keys, [s.start for s in refs])

    def chunks(self, rows: np.ndarray) -> np.ndarray:
        chunks = [self.data.chunks[int(r)] for r in rows]
        return self._read(
            "citeqa_chunks",
            [(c.doc_id, int(r) - self._chunk_first[c.doc_id]) for r, c in zip(rows, chunks, strict=True)],
            [c.start for c in chunks],
        )

    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        out = np.full((len(queries), k), -1, dtype=np.int64)
        statement = sql.SQL(
            "SELECT doc_id, start_offset FROM ("
            "SELECT doc_id, start_offset, embedding FROM citeqa_sentences "
            "ORDER BY (embedding::halfvec({dim})) <#> (%(q)s::halfvec({dim})) LIMIT %(fetch)s) AS hits "
            "ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        ).format(dim=sql.Literal(self.dim))
        with self.store.cursor() as conn, conn.transaction():
            self.store.register_vectors(conn)
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(ef_search(k)))
            for i, query in enumerate(queries):
                hits = conn.execute(statement, {"q": query, "k": k, "fetch": FETCH * k}).fetchall()
                rows = [self._sentence_row.get((doc_id, start), -1) for doc_id, start in hits]
                if -1 in rows:
                    raise _changed(self.store)
                out[i, : len(rows)] = rows
        return out

    def language_means(self) -> dict[str, tuple[np.ndarray, int]]:
        if self._means is None:
            with self.store.cursor() as conn:
                self.store.register_vectors(conn)
                with conn.cursor(binary=True) as cur:
                    cur.execute(
                        "SELECT coalesce(d.meta->>'language', ''), avg(s.embedding), count(*) "
                        "FROM citeqa_sentences s JOIN citeqa_documents d USING (doc_id) GROUP BY 1"
                    )
                    self._means = {
                        code: (mean.to_numpy().astype(np.float32), int(n)) for code, mean, n in cur.fetchall()
                    }
        return self._means

    def _read(self, table: str, keys: Sequence[tuple[str, int]], starts: Sequence[int]) -> np.ndarray:
        """The vectors of `table` at (doc_id, ord) `keys`, in order; their start offsets must be `starts`."""
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        if not keys:
            return out
        with self.store.cursor() as conn:
            self.store.register_vectors(conn)
            with conn.cursor(binary=True) as cur:
                cur.execute(
                    sql.SQL(
                        "SELECT k.i, t.start_offset, t.embedding FROM "
                        "unnest(%s::text[], %s::int[]) WITH ORDINALITY AS k(doc_id, ord, i) "
                        "JOIN {} t USING (doc_id, ord)"
                    ).format(sql.Identifier(table)),
                    ([d for d, _ in keys], [o for _, o in keys]),
                )
                rows: list[tuple[Any, ...]] = cur.fetchall()
        if len(rows) != len(keys):
            raise _changed(self.store)
        for i, start, vector in rows:
            if start != starts[i - 1]:
                raise _changed(self.store)
            out[i - 1] = vector.to_numpy()
        return out


def _first_rows(doc_ids: Any) -> dict[str, int]:
    """Each document's first row in a sequence grouped by document."""
    first: dict[str, int] = {}
    for row, doc_id in enumerate(doc_ids):
        first.setdefault(doc_id, row)
    return first


def _changed(store: PostgresStore) -> IndexCorrupt:
    return IndexCorrupt(f"The index in {store.location} changed while this question was answered; ask again.")
