"""The store seam: what the answering and indexing sides need from wherever an index is kept.

Two implementations: `folder.FolderStore` (FAISS and JSONL files in a folder, the embedded default) and
`postgres.PostgresStore` (PostgreSQL with pgvector, shared by many processes and machines). The answering
side loads a whole index with `load` and asks `generation` before each question whether it changed;
the indexing side brings a store in line with files through `index`. `search_chunks` and
`search_sentences` search the store itself (exactly up to `StoreSettings.approximate_threshold`
vectors, approximately above). `vectors` gives the answering side an index's vectors: all in memory up
to the threshold, read per question above it (`Vectors.approximate`), so that no question scans every
sentence of a large index.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectorstore import faiss_index
from vectorstore.indexer import BuildReport, ProgressFactory
from vectorstore.models.embedding import Embedder
from vectorstore.settings import ChunkingSettings
from vectorstore.store import Fingerprint, IndexData


@dataclass(frozen=True)
class ChunkHit:
    """A chunk found by a search, by its id, with its score (inner product or lexical rank)."""

    chunk_id: str
    score: float


@dataclass(frozen=True)
class SentenceHit:
    """A sentence found by a search, by its document and start offset, with its inner product."""

    doc_id: str
    start: int
    score: float


class Vectors(ABC):
    """An index's vectors by row (the rows of `IndexData.sentences` and `IndexData.chunks`).

    `approximate` is False when every sentence vector is in memory and answering scores them all
    (`IndexData.sentence_vectors`); True when the index is too large for that, and a question instead
    scores the sentences near its `nearest` hits, read with `sentences`.
    """

    approximate: bool = False

    @abstractmethod
    def sentences(self, rows: np.ndarray) -> np.ndarray:
        """The sentence vectors of `rows` (ascending), shape (len(rows), d)."""

    @abstractmethod
    def chunks(self, rows: np.ndarray) -> np.ndarray:
        """The chunk vectors of `rows` (ascending), shape (len(rows), d)."""

    def read(self, sentence_rows: np.ndarray, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`sentences(sentence_rows)` and `chunks(chunk_rows)` together (one round trip to a server)."""
        return self.sentences(sentence_rows), self.chunks(chunk_rows)

    @abstractmethod
    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Per query (rows of `queries`), the rows of the `k` sentences with the highest inner product,
        best first (approximately when `approximate`); -1 pads when there are fewer."""

    @abstractmethod
    def language_means(self) -> dict[str, tuple[np.ndarray, int]]:
        """Each document language's ('' for none) mean sentence vector and number of sentences."""


class ArrayVectors(Vectors):
    """Vectors held by an `IndexData`: in memory, or memory-mapped with an approximate sentence index."""

    def __init__(self, data: IndexData, fetch: int = 2) -> None:
        """`fetch`: the approximate index's hits per wanted row, rescored exactly."""
        self.data = data
        self.approximate = data.sentence_index is not None
        self._fetch = fetch

    def sentences(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.data.sentence_vectors[rows], dtype=np.float32)

    def chunks(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.data.chunk_vectors[rows], dtype=np.float32)

    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        index = self.data.sentence_index
        if index is not None:
            return faiss_index.nearest_rescored(
                index, self.data.sentence_vectors, queries, k, self._fetch * k
            )
        scores = queries @ self.data.sentence_vectors.T
        out = np.full((len(queries), k), -1, dtype=np.int64)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        out[:, : best.shape[1]] = best
        return out

    def language_means(self) -> dict[str, tuple[np.ndarray, int]]:
        recorded = self.data.manifest.get("sentence_index", {}).get("language_means")
        if recorded is None:
            from vectorstore.store import language_means

            recorded = language_means(self.data)
        return {
            code: (np.asarray(entry["mean"], dtype=np.float32), int(entry["count"]))
            for code, entry in recorded.items()
        }


class Store(ABC):
    """An index's home. `location` names it in messages (a folder, or a URL without its password)."""

    location: str

    @abstractmethod
    def generation(self) -> str:
        """A token that changes whenever the index does ('' when there is none); cheap enough to ask
        before every question."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether an index has been built here (the web app builds one on first start if not)."""

    @abstractmethod
    def load(self, expected: Fingerprint | None = None) -> IndexData:
        """The whole index as one consistent snapshot; IndexNotBuilt, IndexMismatch or IndexCorrupt
        with a one-line message otherwise."""

    @abstractmethod
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
        """Bring the index in line with the documents under `paths`, embedding only what changed.

        Both stores follow `vectorstore.changes`: a missing path, or one without documents while the
        update would remove some, refuses it unless `prune`; `keep_others` keeps the documents no
        path holds; `announce` hears of removals before they happen.
        """

    @abstractmethod
    def indexed_hashes(self) -> dict[str, str]:
        """The content hash of every indexed document by id ({} when there is no index)."""

    @abstractmethod
    def search_chunks(self, query: np.ndarray, k: int) -> list[ChunkHit]:
        """The `k` chunks whose vectors have the highest inner product with `query` (shape (d,))."""

    @abstractmethod
    def search_sentences(self, query: np.ndarray, k: int) -> list[SentenceHit]:
        """The `k` sentences whose vectors have the highest inner product with `query`."""

    def vectors(self, data: IndexData) -> Vectors:
        """The vectors of `data` (as `load` returned it) for answering."""
        return ArrayVectors(data)

    def rebuild_hint(self) -> str:
        """The command that rebuilds this index from scratch."""
        return "rebuild it with: citeqa index --rebuild"

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections; the store may not be used afterwards."""
