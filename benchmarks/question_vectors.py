"""Question embeddings kept on disk between benchmark runs: the same text embeds to the same vector.

The quality benchmark asks each collection its own questions and, as off-topic questions, every other
collection's; fitting the answerability model asks thousands more. Embedding them is most of a run's
time, so vectors are kept per model (`<folder>/questions-<model key>.npz`, texts as a JSON list
beside the array, never pickle) and only new texts are embedded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from qa.engine import Engine
from qa.retrieve.question import analyse
from vectorstore.models.embedding import Embedder


class QuestionVectors:
    """Text → query vector for one embedding model, read from and written back to `path`."""

    def __init__(self, embedder: Embedder, cache_dir: Path) -> None:
        """Vectors of `embedder`'s model, read from `cache_dir` when kept there before."""
        key = hashlib.sha256(f"{embedder.model_id}\n{embedder.fingerprint}\n{embedder.dimension}".encode())
        self.path = cache_dir / f"questions-{key.hexdigest()[:16]}.npz"
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}  # the texts embedded together, NUL-joined → their vectors
        self._dirty = False
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                texts = json.loads(str(stored["texts"]))
                rows = np.cumsum([0, *stored["counts"]])
                for i, text in enumerate(texts):
                    self.vectors[text] = stored["vectors"][rows[i] : rows[i + 1]]
        except (OSError, ValueError, KeyError):
            pass

    def question(self, text: str, engine: Engine) -> tuple[np.ndarray, np.ndarray | None]:
        """As `qa.pipeline.embed_question` for `engine`'s collection (the focus depends on it), in the
        same call to the model (a batch of two pads differently from one: the vectors must be the
        product's, to the last digit)."""
        read = analyse(" ".join(text.split()), engine.vocabulary)
        texts = [read.text] if read.focus is None else [read.text, read.focus]
        key = "\x00".join(texts)
        if key not in self.vectors:
            self.vectors[key] = np.asarray(self.embedder.embed_queries(texts), dtype=np.float32)
            self._dirty = True
        vectors = self.vectors[key]
        return vectors[0], (vectors[1] if read.focus is not None else None)

    def save(self) -> None:
        """Write the vectors back when new ones were embedded (a cache that cannot be written is only
        slower)."""
        if not self._dirty:
            return
        texts = list(self.vectors)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
            with os.fdopen(fd, "wb") as fh:
                counts = np.array([len(self.vectors[t]) for t in texts])
                vectors = np.concatenate([self.vectors[t] for t in texts])
                np.savez(fh, texts=np.array(json.dumps(texts)), counts=counts, vectors=vectors)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            pass
