"""The store seam: what the answering and indexing sides need from wherever an index is kept.

Two implementations: `folder.FolderStore` (FAISS and JSONL files in a folder, the embedded default) and
`postgres.PostgresStore` (PostgreSQL with pgvector, shared by many processes and machines). The answering
side loads a whole index with `load` and asks `generation` before each question whether it changed;
the indexing side brings a store in line with files through `index`. `search_chunks` and
`search_sentences` search the store itself (exactly up to `StoreSettings.approximate_threshold`
vectors, approximately above), for callers that must not hold every vector in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectorstore.embedding import Embedder
from vectorstore.indexer import BuildReport, ProgressFactory
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

    def rebuild_hint(self) -> str:
        """The command that rebuilds this index from scratch."""
        return "rebuild it with: citeqa index --rebuild"

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections; the store may not be used afterwards."""
