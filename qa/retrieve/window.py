"""The sentences a question scores when the index is too large to score them all.

Below `store.approximate_threshold` sentences every sentence vector is compared with the question (see
`qa.retrieve.evidence`). Above it the question and its focus each find their nearest sentences in the store's
approximate index, and only the sentences that could matter are scored exactly: the whole chunks of
those hits, of the sentence after each hit (it may borrow from the hit, `compose.neighbour_weight`) and
of the interview answers a hit's question lends its topic to. The sentences those borrow from are read
as well, but only lend: they are never ranked themselves unless their chunk is in the window. Language
centring takes the collection's per-language mean vectors instead of averaging over every sentence, which
gives the same numbers. The result is a small `Evidence` over the window's rows, which retrieval and
composition use as they use the whole one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

from qa.retrieve.evidence import FOLLOW_UP_SENTENCES, Evidence, LanguageMeans
from vectorstore.store import IndexData
from vectorstore.stores.base import Vectors


@dataclass(frozen=True)
class Window:
    """A question's window: global sentence rows, their local Evidence and vectors, what else it needs."""

    rows: np.ndarray  # global sentence rows, ascending; local index i is rows[i]
    evidence: Evidence  # over the window's rows; only core rows are usable
    vectors: np.ndarray  # (len(rows), d)
    sentence_rows: dict[tuple[str, int], int]  # (doc_id, start) of a core sentence → local index
    chunk_vectors: dict[int, np.ndarray]  # chunk row → vector, for the window's chunks


def open_window(
    queries: np.ndarray,
    data: IndexData,
    evidence: Evidence,
    sentence_rows: Mapping[tuple[str, int], int],
    vectors: Vectors,
    hits: int,
) -> Window:
    """The window of `queries` (rows: the question, then its focus if any), from `hits` nearest
    sentences each."""
    found = vectors.nearest(queries, hits)
    seeds = {int(r) for r in found.ravel() if r >= 0}
    previous = evidence.previous
    n = len(evidence.usable)
    follows = {r + 1 for r in seeds if r + 1 < n and previous is not None and previous[r + 1] == r}
    lent = {a for r in seeds for a in evidence.answers_lent_by.get(r, ())}
    chunks = {int(evidence.sentence_chunk[r]) for r in seeds | follows | lent}
    core = _sentences_of(chunks, data, sentence_rows)
    # A sentence of these chunks may be listed under an earlier chunk (the overlap): take that one too,
    # so every passage retrieval returns has all its sentences scored.
    chunks |= {int(evidence.sentence_chunk[r]) for r in core}
    core = _sentences_of(chunks, data, sentence_rows)
    lenders: set[int] = set()
    if previous is not None:
        lenders.update(int(previous[r]) for r in core)
    for r in core:
        i = evidence.answer_index.get(r)
        if i is not None:
            lenders.add(int(evidence.asked_rows[i]))
            lenders.update(int(b) for b in evidence.before_asked[i])
    rows = np.array(sorted(core | lenders), dtype=np.int64)
    local_evidence, local_rows = _restrict(evidence, rows, core, data)
    chunk_list = np.array(sorted({int(evidence.sentence_chunk[r]) for r in core} | chunks), dtype=np.int64)
    sentence_vectors, chunk_matrix = vectors.read(rows, chunk_list)
    chunk_vectors = dict(zip(chunk_list.tolist(), chunk_matrix, strict=True))
    return Window(rows, local_evidence, sentence_vectors, local_rows, chunk_vectors)


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run a window's small searches and products on one thread. BLAS and OpenMP would split each
    across the cores, and on a busy machine their threads wait for each other longer than the work
    takes: 85 ms a question instead of 25 with the load at 6 on 2 cores (README, Performance). The
    limit is process-wide while it holds (15 µs to set and undo)."""
    with _threadpools().limit(limits=1):
        yield


def language_means(vectors: Vectors, evidence: Evidence, queries: np.ndarray) -> LanguageMeans:
    """The collection's mean vectors in `evidence.language_codes` order, for centring `queries`."""
    means = vectors.language_means()
    dim = queries.shape[1]
    zero = np.zeros(dim, np.float32)
    per_language = np.stack([zero, *(means.get(code, (zero, 0))[0] for code in evidence.language_codes)])[1:]
    counts = np.array(
        [means[code][1] if code in means else 0 for code in evidence.language_codes], np.float64
    )
    overall = (counts @ per_language / max(counts.sum(), 1)).astype(np.float32)
    return LanguageMeans(per_language.astype(np.float32), overall, np.ascontiguousarray(queries.T))


def _sentences_of(
    chunks: set[int], data: IndexData, sentence_rows: Mapping[tuple[str, int], int]
) -> set[int]:
    rows = set()
    for chunk in data.chunks_at(chunks).values():  # one read of a large index's text store
        for span in chunk.sentences:
            row = sentence_rows.get((chunk.doc_id, span.start))
            if row is not None:
                rows.add(row)
    return rows


def _restrict(
    evidence: Evidence, rows: np.ndarray, core: set[int], data: IndexData
) -> tuple[Evidence, dict[tuple[str, int], int]]:
    """`evidence` over `rows` only, with rows renumbered 0..len(rows)-1; rows not in `core` lend their
    similarity but are not usable."""
    local = {int(g): i for i, g in enumerate(rows)}
    is_core = np.fromiter((int(g) in core for g in rows), bool, len(rows))
    previous = None
    if evidence.previous is not None:
        previous = np.array(
            [local.get(int(evidence.previous[g]), i) for i, g in enumerate(rows)], dtype=np.int64
        )
    answers = [
        evidence.answer_index[int(g)] for g in rows if int(g) in core and int(g) in evidence.answer_index
    ]
    answer_rows = np.array([local[int(evidence.answer_rows[i])] for i in answers], dtype=np.int64)
    asked_rows = np.array([local[int(evidence.asked_rows[i])] for i in answers], dtype=np.int64)
    before = np.array(
        [[local[int(b)] for b in evidence.before_asked[i]] for i in answers], dtype=np.int64
    ).reshape(len(answers), FOLLOW_UP_SENTENCES)
    positions = np.asarray(evidence.positions[answers], dtype=np.float32)
    language_of = evidence.language_of[rows] if evidence.language_of is not None else None
    languages = (
        tuple(language_of == i for i in range(len(evidence.language_codes)))
        if language_of is not None
        else ()
    )
    restricted = Evidence(
        usable=evidence.usable[rows] & is_core,
        sentence_chunk=evidence.sentence_chunk[rows],
        answer_rows=answer_rows,
        asked_rows=asked_rows,
        before_asked=before,
        positions=positions,
        languages=languages,
        previous=previous,
        language_codes=evidence.language_codes,
        language_of=language_of,
    )
    sentence_rows: dict[tuple[str, int], int] = {}
    for i, g in enumerate(rows):
        if is_core[i]:
            ref = data.sentences[int(g)]  # once: at scale a view that makes the row from its arrays
            sentence_rows[(ref.doc_id, ref.start)] = i
    return restricted, sentence_rows
