"""FAISS index choice and a pure search function over query vectors.

Exact inner product for small collections; above a threshold an IVF index whose lists are visited
`nprobe` at a time. Vectors are L2-normalised, so inner product is cosine similarity.

Sentence vectors get their own approximate index above the threshold (`sentence_index`): IVF over 8-bit
scalar-quantised codes, a quarter of the float32 vectors' memory (read into memory: mapped from the
file, a search took three times as long), whose hits are rescored exactly from the float32 vectors
(memory-mapped from disk). On 2 cores it builds several times faster than HNSW at the
same recall (README, Performance; `benchmarks/ann.py`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import faiss
import numpy as np

from vectorstore.settings import StoreSettings


def _centroids(previous: faiss.Index | None, nlist: int, dim: int) -> faiss.IndexFlatIP | None:
    """A flat quantizer holding `previous`'s list centroids, when `previous` is a trained IVF index
    with `nlist` lists over `dim` dimensions (inner product); else None (the caller trains)."""
    if (
        not isinstance(previous, faiss.IndexIVF)
        or previous.nlist != nlist
        or previous.d != dim
        or previous.metric_type != faiss.METRIC_INNER_PRODUCT
        or not previous.is_trained
    ):
        return None
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(previous.quantizer.reconstruct_n(0, nlist))
    return quantizer


def build_index(
    vectors: np.ndarray, settings: StoreSettings, previous: faiss.Index | None = None
) -> faiss.Index:
    """An index over `vectors` (n, d) float32; row i of `vectors` is id i.

    Above the threshold an IVF index; `previous` (the last generation's, given by an update that kept
    most vectors) lends its trained centroids when it has as many lists, instead of k-means again:
    training was most of the chunk index's build, and a few changed documents hardly move the lists.
    """
    n, dim = vectors.shape
    index: faiss.Index
    if n <= settings.approximate_threshold:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(4 * math.sqrt(n))
        trained = _centroids(previous, nlist, dim) if isinstance(previous, faiss.IndexIVFFlat) else None
        quantizer = trained if trained is not None else faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        if trained is not None:
            index.is_trained = True
        else:
            rng = np.random.default_rng(0)
            sample = vectors[rng.choice(n, size=min(n, nlist * 64), replace=False)]
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = settings.nprobe
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


#: Hits of a product-quantised sentence index re-ranked exactly at the least: its 4-bit codes order
#: candidates roughly (recall@10 0.95 from the 50 best at 400k sentences, 0.995 from the 200 best).
MIN_FETCH = 200

#: Training points per IVF list (FAISS warns below 39).
_TRAIN_PER_LIST = 40
_ADD_BLOCK = 100_000


def sentence_index(
    vectors: np.ndarray, settings: StoreSettings, previous: faiss.Index | None = None
) -> faiss.Index | None:
    """An approximate index over sentence `vectors` (n, d), row i = id i; None at or below the
    settings' approximate threshold, where every sentence is scored exactly anyway.

    sqrt(n) lists (each then holds about sqrt(n) codes), at least 39 training points per list, and a
    share of the lists visited per query (`sentence_probe_share`); `vectors` may be a memory map: it is
    read in blocks, never copied whole. The codes are 4-bit product quantisation of d/4 sub-vectors,
    scanned with FAISS's fast-scan kernels (d/8 bytes a vector; at 400k sentences of benchmarks/ann.py
    recall@10 0.995 at 0.73 ms against 8.4 ms for 8-bit scalar codes visiting the same lists), when d is
    a multiple of 8; 8-bit scalar codes otherwise. Their hits are re-ranked exactly
    (`nearest_rescored`, at least `MIN_FETCH` of them). `previous`, as for `build_index`, is emptied and
    refilled when it is of the same kind with as many lists: the result is what training gave it.
    """
    n, dim = vectors.shape
    if n <= settings.approximate_threshold:
        return None
    nlist = max(1, min(int(math.sqrt(n)), n // _TRAIN_PER_LIST))
    fast = dim % 8 == 0
    kind = faiss.IndexIVFPQFastScan if fast else faiss.IndexIVFScalarQuantizer
    index: faiss.IndexIVF
    if (
        isinstance(previous, kind)
        and _centroids(previous, nlist, dim) is not None
        and (
            isinstance(previous, faiss.IndexIVFPQFastScan)
            or previous.sq.qtype == faiss.ScalarQuantizer.QT_8bit
        )
    ):
        index = cast(faiss.IndexIVF, faiss.clone_index(previous))  # clone_index returns the same kind
        index.reset()
    else:
        quantizer = faiss.IndexFlatIP(dim)
        if fast:
            index = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, dim // 4, 4, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(n, size=min(n, nlist * _TRAIN_PER_LIST), replace=False))
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, n, _ADD_BLOCK):
        index.add(np.ascontiguousarray(vectors[start : start + _ADD_BLOCK], dtype=np.float32))
    index.nprobe = max(1, min(nlist, math.ceil(settings.sentence_probe_share * nlist)))
    return index


def sentence_index_kind(index: faiss.Index) -> dict[str, object]:
    """What built a sentence index, for the manifest."""
    assert isinstance(index, faiss.IndexIVF)
    return {
        "kind": "ivf-pq4-fastscan" if isinstance(index, faiss.IndexIVFPQFastScan) else "ivf-sq8",
        "nlist": int(index.nlist),
        "nprobe": int(index.nprobe),
        "ntotal": int(index.ntotal),
        "faiss_version": faiss.__version__,
    }


def nearest_rescored(
    index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, k: int, fetch: int
) -> np.ndarray:
    """Rows of the `k` best `vectors` per query: the index's `fetch` best, ordered again by their exact
    inner product (the quantised codes only choose them). -1 pads a row with fewer hits."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    if isinstance(index, faiss.IndexIVFPQFastScan):
        fetch = max(fetch, MIN_FETCH)
    _, ids = search(index, queries, max(k, fetch))
    out = np.full((len(queries), k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        found = row[row >= 0]
        order = np.sort(found)  # ascending rows: sequential reads of a memory map
        exact = np.asarray(vectors[order], dtype=np.float32) @ queries[i]
        best = order[np.argsort(-exact, kind="stable")[:k]]
        out[i, : len(best)] = best
    return out


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


def read(path: Path, mapped: bool = False) -> faiss.Index:
    """Read an index; `mapped`: memory-map its inverted lists (IVF), so that a large index's codes
    stay in the page cache and a process holds only the lists its questions visit."""
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mapped else 0)
