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
        self.ef_search: int | None = None  # HNSW's candidate list; None: `postgres.ef_search(k)`

    def sentences(self, rows: np.ndarray) -> np.ndarray:
        return self.read(rows, np.zeros(0, np.int64))[0]

    def chunks(self, rows: np.ndarray) -> np.ndarray:
        return self.read(np.zeros(0, np.int64), rows)[1]

    def read(self, sentence_rows: np.ndarray, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        refs = [self.data.sentences[int(r)] for r in sentence_rows]
        chunks = [self.data.chunks[int(r)] for r in chunk_rows]
        wanted = [
            (
                "citeqa_sentences",
                [
                    (x.doc_id, int(r) - self._sentence_first[x.doc_id])
                    for r, x in zip(sentence_rows, refs, strict=True)
                ],
                [x.start for x in refs],
            ),
            (
                "citeqa_chunks",
                [
                    (c.doc_id, int(r) - self._chunk_first[c.doc_id])
                    for r, c in zip(chunk_rows, chunks, strict=True)
                ],
                [c.start for c in chunks],
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


def _first_rows(doc_ids: Any) -> dict[str, int]:
    """Each document's first row in a sequence grouped by document."""
    first: dict[str, int] = {}
    for row, doc_id in enumerate(doc_ids):
        first.setdefault(doc_id, row)
    return first


def _changed(store: PostgresStore) -> IndexCorrupt:
    return IndexCorrupt(f"The index in {store.location} changed while this question was answered; ask again.")
