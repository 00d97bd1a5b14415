"""Scale on synthetic chunk vectors: the FAISS index `build_index` chooses, against exact search.

The vectors are a normalised mixture of Gaussians shaped like the seed index's EmbeddingGemma vectors:
a direction all share (unrelated passages have cosine ~0.45), topic centres (one per 500 vectors), a
low-rank spread (real embeddings vary along few directions) and isotropic noise. A Matryoshka dimension
is the 768-d draw cut to its first `dim` components and renormalised, as the model does. Queries are
fresh draws from the same mixture, never in the index.

Run one case per process, so its peak memory is its own; prints one JSON object:

    .venv/bin/python benchmarks/scale.py --n 1000000 --dim 768 [--sweep 16,32,64]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.evaluate.metrics import percentile
from vectorstore import faiss_index
from vectorstore.settings import StoreSettings

MODEL_DIM = 768
VECTORS_PER_TOPIC = 500
SPREAD_RANK = 64
_BLOCK = 50_000


@dataclass(frozen=True)
class Mixture:
    """Topic centres and a shared spread basis; `sample` draws unit vectors from them."""

    common: np.ndarray  # (MODEL_DIM,): real embeddings share a direction (unrelated texts have cosine ~0.45)
    centres: np.ndarray  # (topics, MODEL_DIM)
    basis: np.ndarray  # (SPREAD_RANK, MODEL_DIM)
    # Squared weights sum to ~1: common 0.45, topic 0.15, low-rank spread 0.25, isotropic noise 0.15.
    common_weight: float = 0.67
    centre_weight: float = 0.39
    spread: float = 0.0625  # per basis direction
    noise: float = 0.014  # per dimension

    @classmethod
    def create(cls, topics: int, seed: int = 0) -> Mixture:
        rng = np.random.default_rng(seed)
        common = rng.standard_normal(MODEL_DIM, dtype=np.float32)
        centres = rng.standard_normal((topics, MODEL_DIM), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        basis = rng.standard_normal((SPREAD_RANK, MODEL_DIM), dtype=np.float32)
        basis /= np.linalg.norm(basis, axis=1, keepdims=True)
        return cls(common / np.linalg.norm(common), centres, basis)

    def sample(self, n: int, dim: int, seed: int) -> np.ndarray:
        """`n` unit vectors of `dim` components (a Matryoshka prefix of the 768-d draw)."""
        rng = np.random.default_rng(seed)
        out = np.empty((n, dim), dtype=np.float32)
        for start in range(0, n, _BLOCK):
            m = min(_BLOCK, n - start)
            topic = rng.integers(0, len(self.centres), size=m)
            block = self.common_weight * self.common + self.centre_weight * self.centres[topic]
            block += (self.spread * rng.standard_normal((m, SPREAD_RANK), dtype=np.float32)) @ self.basis
            block += self.noise * rng.standard_normal((m, MODEL_DIM), dtype=np.float32)
            block = block[:, :dim]
            out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact inner-product top-`k` ids per query, in blocks (no second copy of the vectors)."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        scores = queries @ vectors[start : start + 200_000].T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        merged_ids = np.concatenate([best_ids, top + start], axis=1)
        keep = np.argsort(-merged_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_ids = np.take_along_axis(merged_ids, keep, axis=1)
    return best_ids


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k found by the index's top-k."""
    k = exact.shape[1]
    return float(np.mean([len(set(f[f >= 0]) & set(e)) / k for f, e in zip(found, exact, strict=True)]))


def index_bytes(index: faiss.Index) -> int:
    """Memory the index holds: stored vectors and ids, plus IVF centroids."""
    if isinstance(index, faiss.IndexIVF):
        return int(index.ntotal * (index.code_size + 8) + index.nlist * index.d * 4)
    return index.ntotal * index.d * 4


def timed_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """One query at a time, as the app searches; ids and per-query milliseconds."""
    ids, times = [], []
    for query in queries:
        started = time.perf_counter()
        _, found = faiss_index.search(index, query[None, :], k)
        times.append((time.perf_counter() - started) * 1000)
        ids.append(found[0])
    return np.stack(ids), times


def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the benchmark parent's peak, carried over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def run_case(
    n: int, dim: int, queries: int, k: int, sweep: list[int], exact_search: bool
) -> dict[str, object]:
    mixture = Mixture.create(max(20, n // VECTORS_PER_TOPIC))
    started = time.perf_counter()
    vectors = mixture.sample(n, dim, seed=1)
    query_vectors = mixture.sample(queries, dim, seed=2)
    generate_s = time.perf_counter() - started
    exact = exact_top_k(vectors, query_vectors, k)
    settings = StoreSettings()

    started = time.perf_counter()
    index = faiss_index.build_index(vectors, settings)
    build_s = time.perf_counter() - started
    found, times = timed_search(index, query_vectors, k)
    result: dict[str, object] = {
        "n": n,
        "dim": dim,
        "kind": faiss_index.index_kind(index),
        "params": faiss_index.describe(index),
        "build_s": round(build_s, 2),
        "generate_s": round(generate_s, 2),
        "index_mb": round(index_bytes(index) / 2**20, 1),
        "search_p50_ms": round(percentile(times, 50), 3),
        "search_p95_ms": round(percentile(times, 95), 3),
        f"recall@{k}": round(recall_at_k(found, exact), 4),
        "queries": queries,
        "threads": faiss.omp_get_max_threads(),
    }
    if sweep and isinstance(index, faiss.IndexIVF):
        rows = []
        for nprobe in sweep:
            faiss_index.set_nprobe(index, nprobe)
            swept, swept_times = timed_search(index, query_vectors, k)
            rows.append(
                {
                    "nprobe": nprobe,
                    "recall": round(recall_at_k(swept, exact), 4),
                    "p50_ms": round(percentile(swept_times, 50), 3),
                }
            )
        result["sweep"] = rows
    result["peak_rss_mb"] = round(peak_rss_mb(), 0)  # the vectors as built from, plus the index
    if exact_search:
        # Exact inner-product search straight over the array (IndexFlatIP's kernel, without its copy).
        flat_times = []
        for query in query_vectors[:50]:
            started = time.perf_counter()
            faiss.knn(query[None, :], vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
            flat_times.append((time.perf_counter() - started) * 1000)
        result["exact_p50_ms"] = round(percentile(flat_times, 50), 3)
    result["load"] = round(os.getloadavg()[0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--dim", type=int, default=MODEL_DIM)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--sweep", default="", help="comma-separated nprobe values to try on the same index")
    parser.add_argument("--exact", action="store_true", help="also time exact IndexFlatIP search")
    args = parser.parse_args()
    sweep = [int(v) for v in args.sweep.split(",") if v]
    print(json.dumps(run_case(args.n, args.dim, args.queries, args.k, sweep, args.exact)))


if __name__ == "__main__":
    main()
