"""FAISS index choice and a pure search function over query vectors.

Exact inner product for small collections; above a threshold an IVF index whose lists are visited
`nprobe` at a time. Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from vectorstore.settings import StoreSettings


def build_index(vectors: np.ndarray, settings: StoreSettings) -> faiss.Index:
    """An index over `vectors` (n, d) float32; row i of `vectors` is id i."""
    n, dim = vectors.shape
    index: faiss.Index
    if n <= settings.approximate_threshold:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(4 * math.sqrt(n))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(n, size=min(n, nlist * 64), replace=False)]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = settings.nprobe
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_kind(index: faiss.Index) -> str:
    return "ivf-flat" if isinstance(index, faiss.IndexIVF) else "flat-ip"


def describe(index: faiss.Index) -> str:
    """The parameters that set an index's speed and recall, for reports."""
    if isinstance(index, faiss.IndexIVF):
        return f"nlist={index.nlist} nprobe={index.nprobe}"
    return "exact"


def set_nprobe(index: faiss.Index, nprobe: int) -> None:
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = nprobe


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` (scores, ids) per query row; missing results have id -1 and are trimmed by callers."""
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    scores, ids = index.search(queries, k)
    return scores, ids


def write(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def read(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))
