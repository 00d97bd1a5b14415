"""The loaded state an answer needs: the index, the embedder, once per process.

`get_engine(settings)` returns the same Engine for the same index folder and model until the index's
manifest changes on disk (a rebuild or an upload), then loads the new generation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from qa.calibration import Calibration, calibrate, probe_vectors
from qa.evidence import Evidence
from qa.names import Vocabulary
from qa.settings import Settings
from vectorstore import store
from vectorstore.chunking import ChunkingSettings
from vectorstore.cleaning import CLEANING_VERSION
from vectorstore.embedding import Embedder, SentenceTransformerEmbedder
from vectorstore.errors import IndexCorrupt
from vectorstore.store import Fingerprint, IndexData


@dataclass
class Engine:
    data: IndexData
    embedder: Embedder
    chunk_rows: dict[str, int]
    sentence_rows: dict[tuple[str, int], int]
    evidence: Evidence
    vocabulary: Vocabulary
    index_dir: Path
    manifest_mtime: int
    cache_dir: Path | None = None  # where the calibration probes' vectors are kept

    @cached_property
    def calibration(self) -> Calibration:
        """The collection's refusal calibration, measured on first use (it needs the model)."""
        cache = self.cache_dir if self.cache_dir is not None else self.index_dir
        probes = probe_vectors(self.embedder, cache)
        return calibrate(self.data.sentence_vectors, self.evidence.usable, probes)

    @classmethod
    def load(
        cls, index_dir: Path, embedder: Embedder, chunking: ChunkingSettings, cache_dir: Path | None = None
    ) -> Engine:
        expected = Fingerprint(
            embedder.model_id,
            embedder.fingerprint,
            embedder.dimension,
            chunking.model_dump(),
            CLEANING_VERSION,
        )
        mtime = _manifest_mtime(index_dir)
        data = store.load(index_dir, expected)
        return cls(
            data=data,
            embedder=embedder,
            chunk_rows={c.id: i for i, c in enumerate(data.chunks)},
            sentence_rows=data.sentence_row(),
            evidence=Evidence.from_index(data),
            vocabulary=Vocabulary(d.text for d in data.documents.values()),
            index_dir=index_dir,
            manifest_mtime=mtime,
            cache_dir=cache_dir,
        )

    def status(self) -> str:
        counts = self.data.manifest.get("counts", {})
        return (
            f"{counts.get('documents', 0)} documents, {counts.get('chunks', 0)} chunks, "
            f"model {self.data.fingerprint.model_id}"
        )


def _manifest_mtime(index_dir: Path) -> int:
    try:
        return (index_dir / store.MANIFEST).stat().st_mtime_ns
    except OSError:
        return -1


_lock = threading.Lock()
_engines: dict[tuple[Path, str, int | None], Engine] = {}


def get_engine(settings: Settings, embedder: Embedder | None = None) -> Engine:
    """The process-wide Engine for these settings, reloaded when the index on disk changes."""
    index_dir = settings.resolved_index_dir
    key = (index_dir.resolve(), settings.embedding.model, settings.embedding.dimension)
    with _lock:
        engine = _engines.get(key)
        if engine is not None and engine.manifest_mtime == _manifest_mtime(index_dir):
            return engine
        if embedder is None:
            embedder = (
                engine.embedder
                if engine
                else SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
            )
        before = _manifest_mtime(index_dir)
        try:
            engine = Engine.load(index_dir, embedder, settings.chunking, settings.cache_dir)
        except IndexCorrupt:
            # A build swapped in a new generation (and pruned this one's files) while it was read.
            if _manifest_mtime(index_dir) == before:
                raise
            engine = Engine.load(index_dir, embedder, settings.chunking, settings.cache_dir)
        _engines[key] = engine
        return engine


def clear_engines() -> None:
    with _lock:
        _engines.clear()
