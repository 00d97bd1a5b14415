"""The loaded state an answer needs: the index, the embedder, once per process.

`get_engine(settings)` returns the same Engine for the same store (index folder or database) and model
until the store's generation changes (a rebuild, an upload, another process's `citeqa index`), then
loads the new one. The generation is asked before every question: a stat of the folder's manifest, or
one small query to PostgreSQL, so several processes serving one database all follow its updates.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from qa.compose.calibration import Calibration, calibrate, calibrate_nearest, probe_vectors
from qa.retrieve.evidence import Evidence
from qa.retrieve.names import Vocabulary
from qa.settings import Settings
from vectorstore.errors import IndexCorrupt
from vectorstore.ingest.chunking import ChunkingSettings
from vectorstore.ingest.cleaning import CLEANING_VERSION
from vectorstore.models.embedding import Embedder, SentenceTransformerEmbedder
from vectorstore.settings import StoreSettings, default_cache_dir
from vectorstore.store import Fingerprint, IndexData
from vectorstore.stores.base import Store, Vectors
from vectorstore.stores.factory import open_store
from vectorstore.stores.folder import FolderStore


@dataclass
class Engine:
    data: IndexData
    embedder: Embedder
    chunk_rows: Mapping[str, int]
    sentence_rows: Mapping[tuple[str, int], int]
    evidence: Evidence
    vocabulary: Vocabulary
    store: Store
    generation: str
    vectors: Vectors  # all in memory, or read per question above the approximate threshold
    cache_dir: Path | None = None  # where the calibration probes' vectors are kept
    #: Nearest sentences a question (and its focus) starts from when `vectors.approximate`.
    hits: int = 64

    @cached_property
    def calibration(self) -> Calibration:
        """The collection's refusal calibration, measured on first use (it needs the model)."""
        cache = self.cache_dir or self.index_dir or default_cache_dir()
        probes = probe_vectors(self.embedder, cache)
        if self.vectors.approximate:
            return calibrate_nearest(self.vectors, self.evidence.usable, probes, self.hits)
        return calibrate(self.data.sentence_vectors, self.evidence.usable, probes)

    @classmethod
    def load(
        cls,
        source: Store | Path,
        embedder: Embedder,
        chunking: ChunkingSettings,
        cache_dir: Path | None = None,
        hits: int = 64,
    ) -> Engine:
        """Load the index from a store (or an index folder) for answering with `embedder`."""
        store = FolderStore(source, StoreSettings()) if isinstance(source, Path) else source
        expected = Fingerprint(
            embedder.model_id,
            embedder.fingerprint,
            embedder.dimension,
            chunking.model_dump(),
            CLEANING_VERSION,
        )
        # Read before loading: a change made while loading is then seen as new at the next question
        # (at worst one load too many, never a stale index kept).
        generation = store.generation()
        data = store.load(expected)
        return cls(
            data=data,
            embedder=embedder,
            chunk_rows=data.chunk_rows(),
            sentence_rows=data.sentence_row(),
            evidence=Evidence.from_index(data),
            vocabulary=data.vocabulary(),
            store=store,
            generation=generation,
            vectors=store.vectors(data),
            cache_dir=cache_dir,
            hits=hits,
        )

    @property
    def location(self) -> str:
        """Where the index lives: its folder, or its database URL without the password."""
        return self.store.location

    @property
    def index_dir(self) -> Path | None:
        """The index folder, when the index is kept in one."""
        return self.store.index_dir if isinstance(self.store, FolderStore) else None

    @property
    def index_option(self) -> str:
        """The command-line option that names this index: --index-dir DIR or --store URL."""
        if self.index_dir is not None:
            return f"--index-dir {self.index_dir}"
        return f"--store {shlex.quote(self.location)}"

    def status(self) -> str:
        counts = self.data.manifest.get("counts", {})
        return (
            f"{counts.get('documents', 0)} documents, {counts.get('chunks', 0)} chunks, "
            f"model {self.data.fingerprint.model_id}"
        )


_lock = threading.Lock()
_engines: dict[tuple[str, str, int | None, int], Engine] = {}


def store_key(settings: Settings) -> str:
    """What identifies the index the settings point at: the store URL, or the folder's real path."""
    return settings.store.url or str(settings.resolved_index_dir.resolve())


def get_engine(settings: Settings, embedder: Embedder | None = None) -> Engine:
    """The process-wide Engine for these settings, reloaded when the index in the store changes."""
    hits = settings.retrieval.approximate_hits  # kept by the Engine, so part of what names it
    key = (store_key(settings), settings.embedding.model, settings.embedding.dimension, hits)
    with _lock:
        engine = _engines.get(key)
        if engine is not None and engine.generation == engine.store.generation():
            return engine
        if embedder is None:
            embedder = (
                engine.embedder
                if engine
                else SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
            )
        store = engine.store if engine else open_store(settings.store, settings.resolved_index_dir)
        try:
            before = store.generation()
            try:
                engine = Engine.load(store, embedder, settings.chunking, settings.cache_dir, hits)
            except IndexCorrupt:
                # A build swapped in a new generation (and pruned this one's files) while it was read.
                if store.generation() == before:
                    raise
                engine = Engine.load(store, embedder, settings.chunking, settings.cache_dir, hits)
        except BaseException:
            if key not in _engines:
                store.close()
            raise
        _engines[key] = engine
        return engine


def clear_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.store.close()
        _engines.clear()
