"""The narrow embedding interface the index and the answerer depend on.

Implementations: `SentenceTransformerEmbedder` (real model, loaded lazily once per process) and the
fakes in `tests/fakes.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

#: Called with the number of texts just embedded, for progress bars.
Progress = Callable[[int], None]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 row vectors of shape (n, dimension)."""

    @property
    def model_id(self) -> str:
        """The configured model name or path, recorded in the index manifest."""
        ...

    @property
    def fingerprint(self) -> str:
        """A checksum of the weights (or the name when none is known), known without loading them."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(
        self,
        texts: Sequence[str],
        titles: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...
