"""The narrow embedding interface the index and the answerer depend on.

Implementations: `SentenceTransformerEmbedder` (real model, loaded lazily once per process) and the
fakes in `tests/fakes.py`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from vectorstore.errors import ModelUnavailable
from vectorstore.models.provision import bfloat16_model_dir, is_pulled, openvino_model_dir, packaged_model_dir
from vectorstore.models.specs import EMBEDDINGGEMMA
from vectorstore.settings import DEFAULT_MODEL, EmbeddingSettings

if TYPE_CHECKING:  # torch and sentence-transformers take seconds to import: only when a model loads
    from sentence_transformers import SentenceTransformer

    from vectorstore.models.openvino_model import OpenVinoModel

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


@dataclass
class _Loaded:
    """A loaded model and the lock that serialises its use: HF fast tokenizers are not thread-safe."""

    model: SentenceTransformer | OpenVinoModel
    lock: threading.Lock = field(default_factory=threading.Lock)


# One model per (location, dtype, backend) per process, shared by every embedder and every web-app thread.
_LOADED: dict[tuple[str, str, str], _Loaded] = {}
_LOAD_LOCK = threading.Lock()
_DTYPES = ("bfloat16", "float32")


class SentenceTransformerEmbedder:
    """The real embedder: a sentence-transformers model on CPU, loaded on first use.

    `settings.model` is the packaged model (`embeddinggemma-300m`, assembled by `citeqa models pull`), a
    local sentence-transformers folder, or a hub name (which needs internet).

    Args:
        settings: Model, dtype, batch size, Matryoshka dimension and CPU threads.
        cache_dir: The citeqa cache holding the packaged model.
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path) -> None:
        if settings.dtype not in _DTYPES:
            raise ModelUnavailable(
                f"Unsupported embedding dtype {settings.dtype!r}; use bfloat16 or float32."
            )
        self._settings = settings
        self._cache_dir = cache_dir
        self._fingerprint: str | None = None

    @property
    def model_id(self) -> str:
        return self._settings.model

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            kind, location = self._location()
            if kind == "packaged":
                self._fingerprint = EMBEDDINGGEMMA.weights_sha256
            elif location is not None:
                self._fingerprint = _folder_fingerprint(location)
            else:
                self._fingerprint = self._settings.model
        return self._fingerprint

    @property
    def dimension(self) -> int:
        kind, _ = self._location()
        native = EMBEDDINGGEMMA.dimension if kind == "packaged" else self._native_dimension()
        wanted = self._settings.dimension
        if wanted is None:
            return native
        if wanted > native:
            raise ModelUnavailable(
                f"embedding.dimension {wanted} exceeds the {native} dimensions of {self.model_id}; "
                f"lower it or leave it unset."
            )
        return wanted

    def warm_up(self) -> None:
        """Load the model now (it is otherwise loaded by the first embedding call)."""
        self._loaded()

    def embed_documents(
        self,
        texts: Sequence[str],
        titles: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Embed passages with the model's document prompt, in batches of similar length.

        Args:
            texts: The passages.
            titles: One title per passage (its document's), used by models whose document prompt has a
                title slot (EmbeddingGemma: `title: {title} | text: `); None fills the slot with "none".
            progress: Called with the number of passages after each batch.

        Returns:
            Unit-length float32 rows in the order of `texts`.
        """
        if titles is not None and len(titles) != len(texts):
            raise ValueError(f"Got {len(titles)} titles for {len(texts)} texts.")
        dimension = self.dimension
        out = np.zeros((len(texts), dimension), dtype=np.float32)
        if not texts:
            return out
        loaded = self._loaded()
        prompt = _document_prompt(loaded.model)
        prompts = [_with_title(prompt, titles[i] if titles else None) for i in range(len(texts))]
        if _pooling_includes_prompt(loaded.model):
            # The prompt is then just text: prefixing it ourselves gives identical vectors and lets texts
            # with different titles share a batch (sentence-transformers takes one prompt per call).
            inputs, prompts = [p + t for p, t in zip(prompts, texts, strict=True)], [""] * len(texts)
        else:
            inputs = list(texts)
        # Longest first, by tokens: texts in a batch have similar lengths, so little padding is computed
        # (sorting by characters, as sentence-transformers does, padded the seed collection's batches 12%
        # beyond their real tokens; by tokens 4%), and the slowest, most memory-hungry batch comes first.
        # Batching here rather than in one `encode` call is what lets progress be reported.
        lengths = _token_lengths(loaded.model, inputs)
        order = sorted(range(len(texts)), key=lambda i: (prompts[i], -lengths[i]))
        for rows in _batches(order, prompts, self._settings.batch_size):
            out[rows] = self._encode(loaded, [inputs[i] for i in rows], prompts[rows[0]], query=False)
            if progress is not None:
                progress(len(rows))
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the model's query prompt; unit-length float32 rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(self._loaded(), list(texts), None, query=True)

    def _encode(self, loaded: _Loaded, inputs: list[str], prompt: str | None, *, query: bool) -> np.ndarray:
        encode = loaded.model.encode_query if query else loaded.model.encode_document
        with loaded.lock:
            vectors = encode(
                inputs,
                prompt=prompt,
                batch_size=self._settings.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=False,
                truncate_dim=self._settings.dimension,
            )
        # Normalise here, in float32: sentence-transformers would do it in bf16 (norms off by ~1e-4).
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _native_dimension(self) -> int:
        dimension = self._loaded().model.get_embedding_dimension()
        if dimension is None:
            raise ModelUnavailable(f"{self.model_id} does not state its embedding dimension.")
        return int(dimension)

    def _location(self) -> tuple[str, Path | None]:
        """Classify the configured model: ("packaged", folder), ("local", folder) or ("hub", None)."""
        name = self._settings.model
        if name == DEFAULT_MODEL:
            return "packaged", packaged_model_dir(self._cache_dir, EMBEDDINGGEMMA)
        path = Path(name).expanduser()
        if path.is_dir():
            return "local", path.resolve()
        if name.startswith(("/", ".", "~")) or path.exists():
            raise ModelUnavailable(f"Embedding model folder {name} not found (or not a folder).")
        return "hub", None

    def _loaded(self) -> _Loaded:
        kind, location = self._location()
        backend = "torch"
        if kind == "packaged" and self._settings.backend == "openvino":
            # Converted once at pull time (vectorstore.models.openvino_model); a cache pulled before there
            # were such copies, or an install without OpenVINO, runs on PyTorch as it always did.
            converted = openvino_model_dir(self._cache_dir, EMBEDDINGGEMMA)
            if converted is not None:
                location, backend = converted, "openvino"
        if backend == "torch" and kind == "packaged" and self._settings.dtype == "bfloat16":
            # The copy converted once at pull time: mapped as it is, no float32 file read and converted
            # (same weights bit for bit, so the fingerprint stays the float32 file's). A cache pulled
            # before there were such copies still loads, converting as it always did.
            location = bfloat16_model_dir(self._cache_dir, EMBEDDINGGEMMA) or location
        key = (str(location) if location else self._settings.model, self._settings.dtype, backend)
        with _LOAD_LOCK:
            if key not in _LOADED:
                if kind == "packaged" and not is_pulled(self._cache_dir, EMBEDDINGGEMMA):
                    raise ModelUnavailable("Embedding model not found; run `citeqa models pull`.")
                if backend == "openvino" and location is not None:
                    _LOADED[key] = _Loaded(_load_openvino(location, self._settings))
                else:
                    _LOADED[key] = _Loaded(_load(key[0], self._settings, local=location is not None))
            return _LOADED[key]


def _load_openvino(folder: Path, settings: EmbeddingSettings) -> OpenVinoModel:
    from vectorstore.models.openvino_model import OpenVinoModel

    try:
        return OpenVinoModel(folder, settings.dtype, settings.threads)
    except Exception as err:  # a damaged conversion; say it in one line
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelUnavailable(
            f"Could not load the OpenVINO copy of the embedding model at {folder} ({detail}); delete "
            f"that folder and run `citeqa models pull`, or set embedding.backend to torch."
        ) from err


def _load(source: str, settings: EmbeddingSettings, *, local: bool) -> SentenceTransformer:
    """Load a model on CPU, never running code shipped with it."""
    if local:
        # Nothing on disk should make the hub client phone home (model card, tokenizer lookups).
        os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if settings.threads is not None:
        torch.set_num_threads(settings.threads)  # process-wide: the model is shared process-wide too
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise next to citeqa's own
    try:
        return SentenceTransformer(
            source,
            device="cpu",
            model_kwargs={_dtype_keyword(): getattr(torch, settings.dtype)},
            trust_remote_code=False,
            local_files_only=local,
        )
    except Exception as err:  # anything from hub lookups to a damaged folder; say it in one line
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        hint = "delete the folder and run `citeqa models pull`" if local else "check the name and network"
        raise ModelUnavailable(f"Could not load embedding model {source} ({detail}); {hint}.") from err
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()


def _batches(order: list[int], prompts: list[str], size: int) -> list[list[int]]:
    """Cut `order` into runs of at most `size` rows that share one prompt."""
    batches: list[list[int]] = []
    for row in order:
        if batches and len(batches[-1]) < size and prompts[batches[-1][0]] == prompts[row]:
            batches[-1].append(row)
        else:
            batches.append([row])
    return batches


def _token_lengths(model: SentenceTransformer | OpenVinoModel, inputs: list[str]) -> list[int]:
    """Tokens per input as the model will see them; characters when the model has no text tokenizer.

    Tokenising costs ~0.1% of embedding (60 ms for the seeds' 412 texts), so doing it twice is cheaper
    than bypassing `encode`.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return [len(text) for text in inputs]
    try:
        limit = getattr(model, "max_seq_length", None)
        encoded = tokenizer(inputs, add_special_tokens=True, truncation=limit is not None, max_length=limit)
        ids = encoded["input_ids"]
    except Exception:  # an unusual processor: length order only saves padding, characters do too
        return [len(text) for text in inputs]
    return [len(row) for row in ids]


def _dtype_keyword() -> str:
    # transformers 4.56 renamed `torch_dtype` to `dtype` and 5.x warns about the old name.
    from transformers import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _document_prompt(model: SentenceTransformer | OpenVinoModel) -> str:
    # The same candidates, in the same order, as `SentenceTransformer.encode_document`.
    for name in ("document", "passage", "corpus"):
        prompt = model.prompts.get(name)
        if prompt is not None:
            return prompt
    return ""


def _with_title(prompt: str, title: str | None) -> str:
    """Fill EmbeddingGemma's title slot ("title: none | ..."); other prompts are left as they are."""
    if not title or "title: none" not in prompt:
        return prompt
    return prompt.replace("title: none", f"title: {' '.join(title.split())}", 1)


def _pooling_includes_prompt(model: SentenceTransformer | OpenVinoModel) -> bool:
    return all(getattr(module, "include_prompt", True) for module in model)


def _folder_fingerprint(folder: Path) -> str:
    """A cheap checksum of a model folder: file names, sizes and modification times, no contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
