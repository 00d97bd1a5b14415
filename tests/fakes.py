"""Deterministic stand-ins for models, so unit tests run in milliseconds."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vectorstore.models.embedding import Progress

_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Hashed bag-of-words vectors: texts sharing words are similar, unrelated texts are not."""

    def __init__(
        self, dimension: int = 64, model_id: str = "fake-embedder", checksum: str = "fake-1"
    ) -> None:
        self._dimension = dimension
        self._model_id = model_id
        self._checksum = checksum
        self.calls: list[int] = []  # number of texts per embed_documents call

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def fingerprint(self) -> str:
        return self._checksum

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.sha256(word.encode()).digest()
            vec[int.from_bytes(digest[:4], "little") % self._dimension] += 1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return vec / norm

    def embed_documents(
        self, texts: Sequence[str], titles: Sequence[str] | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        self.calls.append(len(texts))
        out = (
            np.stack([self._vector(t) for t in texts])
            if texts
            else np.zeros((0, self._dimension), np.float32)
        )
        if progress:
            progress(len(texts))
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])


def index_with_fake(docs_dir: Path, index_dir: Path) -> None:
    """Build an index of `docs_dir` into `index_dir` with the fake embedder and default settings."""
    from vectorstore.indexer import build
    from vectorstore.settings import ChunkingSettings, StoreSettings

    build(
        [docs_dir],
        index_dir,
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(),
        store_settings=StoreSettings(),
    )


def fake_collection(root: Path, documents: dict[str, str]) -> Path:
    """Write `documents` (file name → text) into `root/docs`, index them into `root/index`, return it."""
    docs = root / "docs"
    docs.mkdir()
    for name, text in documents.items():
        (docs / name).write_text(text, encoding="utf-8")
    index_with_fake(docs, root / "index")
    return root / "index"
