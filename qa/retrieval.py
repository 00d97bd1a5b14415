"""Hybrid retrieval: three rankings of chunks fused by reciprocal rank, one passage per chunk.

Dense: FAISS search of chunk vectors. Sentences: chunks ranked by their best sentence's evidence score
(a precise sentence is not drowned by the rest of a long chunk). Lexical: BM25 over stemmed words.
"""

from __future__ import annotations

import time

import numpy as np

from qa.fusion import reciprocal_rank_fusion
from qa.lexical import LexicalIndex
from qa.settings import RetrievalSettings
from qa.types import Passage
from vectorstore import faiss_index
from vectorstore.store import IndexData


def passage_at(data: IndexData, row: int, rank: int, score: float, query_vector: np.ndarray) -> Passage:
    """Chunk `row` as a Passage with its document's metadata."""
    chunk = data.chunks[row]
    meta = data.documents[chunk.doc_id].meta
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
        dense=float(data.chunk_vectors[row] @ query_vector),
    )


def evidence_passages(
    passages: list[Passage],
    data: IndexData,
    chunk_rows: dict[str, int],
    sentence_scores: np.ndarray,
    sentence_chunk: np.ndarray,
    query_vector: np.ndarray,
    top_passages: int,
    top_sentences: int,
) -> list[Passage]:
    """Where quotes may come from: the first `top_passages` passages, plus the chunks of the
    `top_sentences` best sentences anywhere (a precise sentence in a chunk that ranked low as a whole)."""
    chosen = passages[:top_passages]
    rows = {chunk_rows[p.chunk_id] for p in chosen}
    for i in np.argsort(-sentence_scores, kind="stable")[:top_sentences]:
        row = int(sentence_chunk[i])
        if np.isfinite(sentence_scores[i]) and row not in rows:
            rows.add(row)
            chosen.append(passage_at(data, row, len(passages) + len(chosen) + 1, 0.0, query_vector))
    return chosen


def retrieve(
    question: str,
    query_vector: np.ndarray,
    data: IndexData,
    lexical: LexicalIndex,
    sentence_scores: np.ndarray,
    sentence_chunk: np.ndarray,
    settings: RetrievalSettings,
    k: int | None = None,
    timings: dict[str, float] | None = None,
) -> list[Passage]:
    """The top-`k` passages for a question whose embedding is `query_vector` (shape (d,)).

    `sentence_scores` are the evidence scores of all sentences (see `qa.evidence`), `sentence_chunk`
    the chunk row of each sentence.
    """
    k = k or settings.k
    if not data.chunks:
        return []
    t0 = time.perf_counter()
    _, ids = faiss_index.search(data.faiss, query_vector[None, :], settings.candidates)
    dense_ranking = [int(i) for i in ids[0] if i >= 0]
    best_sentences = np.argsort(-sentence_scores, kind="stable")[: settings.candidates * 2]
    sentence_ranking = [int(sentence_chunk[i]) for i in best_sentences if np.isfinite(sentence_scores[i])]
    t1 = time.perf_counter()
    bm25 = lexical.scores(question)
    top = np.argsort(-bm25, kind="stable")[: settings.candidates]
    lexical_ranking = [int(i) for i in top if bm25[i] > 0]
    t2 = time.perf_counter()
    fused = reciprocal_rank_fusion(
        [dense_ranking, sentence_ranking, lexical_ranking],
        k=settings.rrf_k,
        weights=[settings.dense_weight, settings.sentence_weight, settings.lexical_weight],
    )[:k]
    passages = [
        passage_at(data, row, rank, score, query_vector) for rank, (row, score) in enumerate(fused, 1)
    ]
    if timings is not None:
        timings["dense_search"] = (t1 - t0) * 1000
        timings["lexical_search"] = (t2 - t1) * 1000
        timings["fusion"] = (time.perf_counter() - t2) * 1000
    return passages
