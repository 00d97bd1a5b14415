"""Retrieval "small to big": chunks ranked by their best sentence's evidence score, one passage per chunk.

A precise sentence is not drowned by the rest of a long chunk. Ranking chunks by their own vectors, or
adding a BM25 ranking by reciprocal rank fusion, lowered hit@1 on every development collection (README,
Evaluation), so neither is used.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np

from qa.settings import RetrievalSettings
from qa.types import Passage
from vectorstore.store import IndexData

ChunkVectors = np.ndarray | Mapping[int, np.ndarray]


def passage_at(
    data: IndexData,
    row: int,
    rank: int,
    score: float,
    query_vector: np.ndarray,
    chunk_vectors: ChunkVectors | None = None,
) -> Passage:
    """Chunk `row` as a Passage with its document's metadata; its vector comes from `chunk_vectors`
    (by row), by default the index's."""
    vectors = data.chunk_vectors if chunk_vectors is None else chunk_vectors
    chunk = data.chunks[row]
    doc = data.documents[chunk.doc_id]
    meta = doc.meta
    return Passage(
        rank=rank,
        chunk_id=chunk.id,
        source=chunk.doc_id,
        title=meta.title,
        date=meta.date,
        publisher=meta.publisher,
        language=meta.language,
        text=chunk.text,
        score=score,
        dense=float(vectors[row] @ query_vector),
        place=doc.layout.place(chunk.start, chunk.end),
    )


def evidence_passages(
    passages: list[Passage],
    data: IndexData,
    chunk_rows: Mapping[str, int],
    sentence_scores: np.ndarray,
    sentence_chunk: np.ndarray,
    query_vector: np.ndarray,
    top_passages: int,
    top_sentences: int,
    chunk_vectors: ChunkVectors | None = None,
) -> list[Passage]:
    """Where quotes may come from: the first `top_passages` passages, plus the chunks of the
    `top_sentences` best sentences anywhere (a precise sentence in a chunk that ranked low as a whole)."""
    chosen = passages[:top_passages]
    rows = {chunk_rows[p.chunk_id] for p in chosen}
    extra: list[int] = []
    for i in np.argsort(-sentence_scores, kind="stable")[:top_sentences]:
        row = int(sentence_chunk[i])
        if np.isfinite(sentence_scores[i]) and row not in rows:
            rows.add(row)
            extra.append(row)
    _read_documents(data, extra)
    for row in extra:
        rank = len(passages) + len(chosen) + 1
        chosen.append(passage_at(data, row, rank, 0.0, query_vector, chunk_vectors))
    return chosen


def _read_documents(data: IndexData, rows: Iterable[int]) -> None:
    """Read the documents of chunks `rows` at once: a large index reads them from its store, where one
    query for all costs what one for each would cost per document."""
    data.documents_at(dict.fromkeys(c.doc_id for c in data.chunks_at(list(rows)).values()))


def retrieve(
    query_vector: np.ndarray,
    data: IndexData,
    sentence_scores: np.ndarray,
    sentence_chunk: np.ndarray,
    settings: RetrievalSettings,
    k: int | None = None,
    timings: dict[str, float] | None = None,
    chunk_vectors: ChunkVectors | None = None,
) -> list[Passage]:
    """The top-`k` passages: the chunks of the best-scoring sentences, best first.

    `sentence_scores` are the evidence scores of all sentences (see `qa.retrieve.evidence`), `sentence_chunk`
    the chunk row of each sentence; a passage's score is its best sentence's. Both may cover only
    some of the sentences (a question's window, see `qa.retrieve.window`).
    """
    k = k or settings.k
    t0 = time.perf_counter()
    rows: dict[int, float] = {}
    for i in np.argsort(-sentence_scores, kind="stable"):
        if len(rows) == k or not np.isfinite(sentence_scores[i]):
            break
        rows.setdefault(int(sentence_chunk[i]), float(sentence_scores[i]))
    _read_documents(data, rows)
    passages = [
        passage_at(data, row, rank, score, query_vector, chunk_vectors)
        for rank, (row, score) in enumerate(rows.items(), 1)
    ]
    if timings is not None:
        timings["ranking"] = (time.perf_counter() - t0) * 1000
    return passages
