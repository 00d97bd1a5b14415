"""The index folder behind the store seam: `vectorstore.store` files, built by `vectorstore.indexer`.

Nothing about the folder changes here: this class only gives the files the `Store` interface, so the
answers from a folder stay exactly what they were before the seam.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vectorstore import faiss_index, store
from vectorstore.errors import CiteqaError
from vectorstore.indexer import BuildReport, ProgressFactory, build
from vectorstore.models.embedding import Embedder
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.store import Fingerprint, IndexData
from vectorstore.stores.base import ArrayVectors, ChunkHit, SentenceHit, Store


class FolderStore(Store):
    """An index folder: FAISS vectors, JSONL tables and `manifest.json` (see `vectorstore.store`)."""

    def __init__(self, index_dir: Path, settings: StoreSettings) -> None:
        self.index_dir = index_dir
        self.location = str(index_dir)
        self._settings = settings
        self._lock = threading.Lock()
        self._snapshot: tuple[str, IndexData] | None = None

    def generation(self) -> str:
        # The manifest is replaced last by every build, so its mtime names the generation it points at.
        try:
            return str((self.index_dir / store.MANIFEST).stat().st_mtime_ns)
        except OSError:
            return ""

    def exists(self) -> bool:
        try:
            return (self.index_dir / store.MANIFEST).is_file()
        except OSError:  # a name too long
            return False

    def load(self, expected: Fingerprint | None = None) -> IndexData:
        return store.load(self.index_dir, expected)

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
        return build(
            paths,
            self.index_dir,
            embedder=embedder,
            chunking=chunking,
            store_settings=self._settings,
            rebuild=rebuild,
            prune=prune,
            keep_others=keep_others,
            progress=progress,
            announce=announce,
        )

    def indexed_hashes(self) -> dict[str, str]:
        try:
            documents = store.read_manifest(self.index_dir).get("documents", {})
        except CiteqaError:
            return {}
        return {doc_id: entry.get("content_hash", "") for doc_id, entry in documents.items()}

    def search_chunks(self, query: np.ndarray, k: int) -> list[ChunkHit]:
        data = self._current()
        scores, ids = faiss_index.search(data.faiss, query, k)
        return [
            ChunkHit(data.chunks[i].id, float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]

    def search_sentences(self, query: np.ndarray, k: int) -> list[SentenceHit]:
        data = self._current()
        query = np.asarray(query, np.float32)
        vectors = ArrayVectors(data)
        top = vectors.nearest(query, k)[0]
        top = top[top >= 0]
        scores = vectors.sentences(top) @ query
        return [
            SentenceHit(data.sentences[i].doc_id, data.sentences[i].start, float(s))
            for i, s in zip(top, scores, strict=True)
        ]

    def rebuild_hint(self) -> str:
        return store.rebuild_hint(self.index_dir)

    def _current(self) -> IndexData:
        """The loaded index, read again when its generation changed."""
        with self._lock:
            generation = self.generation()
            if self._snapshot is None or self._snapshot[0] != generation:
                self._snapshot = (generation, self.load())
            return self._snapshot[1]
