"""An index in PostgreSQL too large to hold in memory: its vectors, read per question.

Above `StoreSettings.approximate_threshold` sentences a process answering from PostgreSQL loads no
vector and no text, only arrays of the rows (`pg_texts`). A question's nearest sentences come from the HNSW
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
from vectorstore.stores.pg_texts import PgChunks
from vectorstore.stores.postgres import FETCH, PostgresStore, ef_search
from vectorstore.texts import Sentences


class PostgresVectors(Vectors):
    """The vectors of a loaded `IndexData` snapshot, read from its database when asked for."""

    approximate = True

    def __init__(self, store: PostgresStore, data: IndexData) -> None:
        if not isinstance(data.sentences, Sentences) or not isinstance(data.chunks, PgChunks):
            raise TypeError("PostgresVectors reads the rows of an index loaded above the threshold")
        self.store = store
        self.data = data
        self.dim = int(data.manifest["dimension"])
        self._sentence_row = data.sentence_row()
        self._spans = data.sentences.spans
        self._doc_ids = data.sentences.doc_ids
        # Each document's first sentence row (the rows are grouped by document, in `doc_ids` order).
        self._sentence_first = np.searchsorted(self._spans[:, 0], np.arange(len(self._doc_ids) + 1))
        self._chunks = data.chunks
        self._means: dict[str, tuple[np.ndarray, int]] | None = None
        self.ef_search: int | None = None  # HNSW's candidate list; None: `postgres.ef_search(k)`

    def sentences(self, rows: np.ndarray) -> np.ndarray:
        return self.read(rows, np.zeros(0, np.int64))[0]

    def chunks(self, rows: np.ndarray) -> np.ndarray:
        return self.read(np.zeros(0, np.int64), rows)[1]

    def read(self, sentence_rows: np.ndarray, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sentence_rows = np.asarray(sentence_rows, np.int64)
        chunk_rows = np.asarray(chunk_rows, np.int64)
        sentence_docs = self._spans[sentence_rows, 0]
        chunk_docs = self._chunks.document_of(chunk_rows)
        wanted = [
            (
                "citeqa_sentences",
                self._keys(sentence_docs, sentence_rows - self._sentence_first[sentence_docs]),
                self._spans[sentence_rows, 1].tolist(),
            ),
            (
                "citeqa_chunks",
                self._keys(chunk_docs, chunk_rows - self._chunks.first[chunk_docs]),
                self._chunks.starts[chunk_rows].tolist(),
            ),
        ]
        with self.store.cursor() as conn:
            self.store.register_vectors(conn)
            with conn.pipeline():  # both queries in one round trip
                cursors = [
                    conn.cursor(binary=True).execute(_BY_RANGE.format(sql.Identifier(table)), _ranges(keys))
                    for table, keys, _ in wanted
                ]
            found = [cur.fetchall() for cur in cursors]
        sentence_vectors, chunk_vectors = (
            self._fill(rows, keys, starts) for rows, (_, keys, starts) in zip(found, wanted, strict=True)
        )
        return sentence_vectors, chunk_vectors

    def _keys(self, docs: np.ndarray, ords: np.ndarray) -> list[tuple[str, int]]:
        """(doc_id, ord) of rows given as document numbers and positions in their documents."""
        return [(self._doc_ids[d], o) for d, o in zip(docs.tolist(), ords.tolist(), strict=True)]

    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        out = np.full((len(queries), k), -1, dtype=np.int64)
        statement = sql.SQL(
            "SELECT doc_id, start_offset FROM ("
            "SELECT doc_id, start_offset, embedding FROM citeqa_sentences "
            "ORDER BY (embedding::halfvec({dim})) <#> (%(q)s::halfvec({dim})) LIMIT %(fetch)s) AS hits "
            "ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        ).format(dim=sql.Literal(self.dim))
        with self.store.cursor() as conn:
            self.store.register_vectors(conn)
            with conn.pipeline():  # the setting and every query in one round trip
                # For the session: this store's connection is its own, and its other searches set it
                # for their transaction (`PostgresStore._search`).
                conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(self.ef_search or ef_search(k)))
                cursors = [conn.execute(statement, {"q": q, "k": k, "fetch": FETCH * k}) for q in queries]
            found = [cur.fetchall() for cur in cursors]
        for i, hits in enumerate(found):
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

    def _fill(
        self, rows: list[tuple[Any, ...]], keys: Sequence[tuple[str, int]], starts: Sequence[int]
    ) -> np.ndarray:
        """The vectors of `rows` (doc_id, ord, start offset, vector) in the order of `keys`; a row missing
        or at another offset than `starts` says the database changed since the snapshot."""
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        position = {key: i for i, key in enumerate(keys)}
        if len(rows) != len(keys):
            raise _changed(self.store)
        for doc_id, ord_, start, vector in rows:
            i = position.get((doc_id, ord_))
            if i is None or start != starts[i]:
                raise _changed(self.store)
            out[i] = vector.to_numpy()
        return out


#: The rows of a table in runs of positions (doc_id, first ord, last ord) given as three arrays: a window
#: is whole chunks, so a few runs instead of a lookup per row (and neighbouring rows share pages).
_BY_RANGE = sql.SQL(
    "SELECT t.doc_id, t.ord, t.start_offset, t.embedding FROM "
    "unnest(%s::text[], %s::int[], %s::int[]) AS k(doc_id, lo, hi) "
    "JOIN {} t ON t.doc_id = k.doc_id AND t.ord BETWEEN k.lo AND k.hi"
)


def _ranges(keys: Sequence[tuple[str, int]]) -> tuple[list[str], list[int], list[int]]:
    """`keys` (doc_id, ord) as runs of consecutive positions in one document."""
    docs: list[str] = []
    lows: list[int] = []
    highs: list[int] = []
    for doc_id, ord_ in sorted(keys):
        if docs and docs[-1] == doc_id and highs[-1] == ord_ - 1:
            highs[-1] = ord_
        else:
            docs.append(doc_id)
            lows.append(ord_)
            highs.append(ord_)
    return docs, lows, highs


def _changed(store: PostgresStore) -> IndexCorrupt:
    return IndexCorrupt(f"The index in {store.location} changed while this question was answered; ask again.")
