"""No exact scan at scale: a synthetic index of N chunks in the folder and in PostgreSQL, answered through
the approximate path (`qa.retrieve.window`).

The collection is synthetic but shaped like a real one: documents in Dutch, German and English of 50
chunks, 3.8 sentences per chunk (as the seeds have), an interviewer's question every 40 sentences, and
sentence vectors drawn from `benchmarks/scale.py`'s Gaussian mixture (fitted to the seeds' EmbeddingGemma
vectors: a shared direction, topic centres, a low-rank spread, noise); queries are fresh draws. Vectors
are generated into a memory-mapped file, never held whole.

Per store it measures the build (folder: the IVF-SQ8 sentence index, the chunk index and writing the
generation; PostgreSQL: COPY of every row, then the two HNSW indexes, as a bulk load would), recall@10 of
the sentence search against exact search over the same vectors, the search's p50/p95, the answering
step's p50 (`answer_from_vector`: everything after the question's embedding) and the peak memory of
the process that loads the index and answers (a fresh one, after the build). `--both` runs the folder,
then PostgreSQL, each in its own process, and prints both. `--ingest` times `citeqa index` of the seeds
with the real model into each store.

    .venv/bin/python benchmarks/ann.py --chunks 1000000 --both --workdir /tmp/ann
    .venv/bin/python benchmarks/ann.py --ingest
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scale import Mixture, exact_top_k, peak_rss_mb, recall_at_k  # noqa: E402
from qa.evaluate.metrics import percentile  # noqa: E402
from vectorstore.settings import StoreSettings  # noqa: E402
from vectorstore.store import Fingerprint, IndexData, SentenceRef  # noqa: E402
from vectorstore.types import Chunk, DocMeta, Document, Span  # noqa: E402

DIM = 768
CHUNKS_PER_DOC = 50
SENTENCES_PER_CHUNK = (4, 4, 4, 3, 4)  # 3.8 on average
QUESTION_EVERY = 40
LANGUAGES = ("nl", "de", "en")
K = 10
_BLOCK = 100_000


class SyntheticEmbedder:
    """Stands in for the model where an Engine needs one: the calibration probes are mixture draws."""

    model_id = "synthetic"
    fingerprint = "synthetic-1"
    dimension = DIM

    def __init__(self, mixture: Mixture) -> None:
        self.mixture = mixture

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.mixture.sample(len(texts), DIM, seed=3)


def fingerprint() -> Fingerprint:
    from vectorstore.ingest.cleaning import CLEANING_VERSION
    from vectorstore.settings import ChunkingSettings

    return Fingerprint("synthetic", "synthetic-1", DIM, ChunkingSettings().model_dump(), CLEANING_VERSION)


def synthetic(chunks: int, workdir: Path, mixture: Mixture) -> IndexData:
    """An index of `chunks` chunks whose vectors live in `workdir` (memory-mapped .npy files)."""
    documents: dict[str, Document] = {}
    chunk_list: list[Chunk] = []
    sentences: list[SentenceRef] = []
    n_docs = -(-chunks // CHUNKS_PER_DOC)
    for d in range(n_docs):
        doc_id = f"doc{d:07d}.txt"
        parts: list[str] = []
        offset = 0
        spans: list[tuple[int, int]] = []
        wanted = min(CHUNKS_PER_DOC, chunks - d * CHUNKS_PER_DOC)
        n_sent = sum(SENTENCES_PER_CHUNK[c % len(SENTENCES_PER_CHUNK)] for c in range(wanted))
        for j in range(n_sent):
            if j % QUESTION_EVERY == QUESTION_EVERY - 1:
                text, sep = f"What happened next on road {j} of report {d}?", "\n"
            else:
                text, sep = (
                    f"Report {d} notes in line {j} that the river {j % 97} crossed valley {d % 89}.",
                    " ",
                )
            spans.append((offset, offset + len(text)))
            parts.append(text + sep)
            offset += len(text) + len(sep)
        doc_text = "".join(parts)
        language = LANGUAGES[d % len(LANGUAGES)]
        meta = DocMeta(source=doc_id, title=f"Report {d}", date="2024-01-01", language=language)
        documents[doc_id] = Document(doc_id, doc_text, meta, f"hash{d}")
        sentences.extend(SentenceRef(doc_id, s, e) for s, e in spans)
        j = 0
        for c in range(wanted):
            size = SENTENCES_PER_CHUNK[c % len(SENTENCES_PER_CHUNK)]
            mine = spans[j : j + size]
            start, end = mine[0][0], mine[-1][1]
            chunk_list.append(
                Chunk(
                    f"{d:07d}{c:03d}", doc_id, doc_text[start:end], start, end, tuple(Span(*s) for s in mine)
                )
            )
            j += size
    from numpy.lib.format import open_memmap

    n = len(sentences)
    sentence_vectors = open_memmap(workdir / "sentence_vectors.npy", "w+", np.float32, (n, DIM))
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        sentence_vectors[start : start + m] = mixture.sample(m, DIM, seed=10 + start // _BLOCK)
    chunk_vectors = open_memmap(workdir / "chunk_vectors.npy", "w+", np.float32, (len(chunk_list), DIM))
    row = 0
    for c, chunk in enumerate(chunk_list):  # each chunk's vector: the mean of its sentences'
        size = len(chunk.sentences)
        vector = sentence_vectors[row : row + size].mean(axis=0)
        chunk_vectors[c] = vector / np.linalg.norm(vector)
        row += size
    sentence_vectors.flush()
    chunk_vectors.flush()
    import faiss

    return IndexData(
        fingerprint(),
        documents,
        chunk_list,
        sentences,
        chunk_vectors,
        sentence_vectors,
        faiss.IndexFlatIP(DIM),
    )


def build_folder(data: IndexData, index_dir: Path, settings: StoreSettings) -> dict[str, float]:
    from vectorstore import faiss_index, store

    started = time.perf_counter()
    data.sentence_index = faiss_index.sentence_index(data.sentence_vectors, settings)
    sentence_s = time.perf_counter() - started
    data.faiss = faiss_index.build_index(np.asarray(data.chunk_vectors), settings)
    chunk_s = time.perf_counter() - started - sentence_s
    store.save(data, index_dir, "bench", {})
    return {
        "build_s": round(time.perf_counter() - started, 1),
        "sentence_index_s": round(sentence_s, 1),
        "chunk_index_s": round(chunk_s, 1),
    }


def build_postgres(data: IndexData, url: str, settings: StoreSettings) -> dict[str, float]:
    """Bulk load: the tables without their HNSW indexes, COPY every row, then build the indexes."""
    from psycopg.types.json import Jsonb

    from vectorstore.stores.pg_index import _schema, prepare
    from vectorstore.stores.postgres import PostgresStore

    pg = PostgresStore(url, settings)
    started = time.perf_counter()
    with pg.cursor() as conn:
        prepare(conn, pg, data.fingerprint, rebuild=True)
        indexes = [s for s in _schema(DIM) if "USING hnsw" in s.as_string(conn)]
        conn.execute("DROP INDEX citeqa_chunks_hnsw, citeqa_sentences_hnsw")
        conn.commit()
        pg.register_vectors(conn)
        with conn.cursor() as cur:
            with cur.copy(
                "COPY citeqa_documents (doc_id, content_hash, meta, layout, text, indexed_by) FROM STDIN"
            ) as copy:
                for doc in data.documents.values():
                    meta, layout = Jsonb(doc.meta.to_dict()), Jsonb(doc.layout.to_dict())
                    copy.write_row((doc.doc_id, doc.content_hash, meta, layout, doc.text, "bench"))
            for table, rows, vectors in (
                ("citeqa_chunks", data.chunks, data.chunk_vectors),
                ("citeqa_sentences", data.sentences, data.sentence_vectors),
            ):
                columns = (
                    "doc_id, ord, chunk_id, text, start_offset, end_offset, sentences, embedding"
                    if table == "citeqa_chunks"
                    else "doc_id, ord, start_offset, end_offset, embedding"
                )
                types = (
                    ["text", "int4", "text", "text", "int4", "int4", "int4[]", "vector"]
                    if table == "citeqa_chunks"
                    else ["text", "int4", "int4", "int4", "vector"]
                )
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(types)
                    previous, ord_ = None, 0
                    for start in range(0, len(rows), _BLOCK):
                        block = np.asarray(vectors[start : start + _BLOCK])
                        for i, item in enumerate(rows[start : start + _BLOCK]):
                            ord_ = ord_ + 1 if item.doc_id == previous else 0
                            previous = item.doc_id
                            if isinstance(item, Chunk):
                                spans = [x for s in item.sentences for x in (s.start, s.end)]
                                copy.write_row(
                                    [
                                        item.doc_id,
                                        ord_,
                                        item.id,
                                        item.text,
                                        item.start,
                                        item.end,
                                        spans,
                                        block[i],
                                    ]
                                )
                            else:
                                copy.write_row([item.doc_id, ord_, item.start, item.end, block[i]])
        conn.execute(
            "UPDATE citeqa_manifest SET generation = generation + 1, "
            "documents = %s, chunks = %s, sentences = %s",
            (len(data.documents), len(data.chunks), len(data.sentences)),
        )
        conn.commit()
        insert_s = time.perf_counter() - started
        # The whole graph in memory while it is built (else pgvector builds on disk, far slower).
        conn.execute("SET maintenance_work_mem = '8GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        for statement in indexes:
            conn.execute(statement)
        conn.commit()
        sizes = conn.execute(
            "SELECT pg_database_size(current_database()), pg_relation_size('citeqa_sentences_hnsw')"
        ).fetchone()
    pg.close()
    assert sizes is not None
    return {
        "build_s": round(time.perf_counter() - started, 1),
        "insert_s": round(insert_s, 1),
        "hnsw_s": round(time.perf_counter() - started - insert_s, 1),
        "database_mb": round(sizes[0] / 2**20),
        "sentence_hnsw_mb": round(sizes[1] / 2**20),
    }


def measure(engine: Any, queries: np.ndarray, exact: np.ndarray, answers: int) -> dict[str, Any]:
    """Recall@10 and latency of the sentence search, and the answering step's p50."""
    from qa.pipeline import answer_from_vector
    from qa.settings import Settings

    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(engine.vectors.nearest(query, K)[0])
        times.append((time.perf_counter() - started) * 1000)
    settings = Settings()
    engine.calibration  # noqa: B018 - measured once per collection, outside the answer latencies
    answer_times, refused = [], 0
    for query in queries[:answers]:
        started = time.perf_counter()
        answer = answer_from_vector("What did the report say about the river?", query, engine, settings)
        answer_times.append((time.perf_counter() - started) * 1000)
        refused += answer.refused
    return {
        f"recall@{K}": round(recall_at_k(np.stack(found), exact), 4),
        "search_p50_ms": round(percentile(times, 50), 2),
        "search_p95_ms": round(percentile(times, 95), 2),
        "answer_p50_ms": round(percentile(answer_times, 50), 2),
        "answer_p95_ms": round(percentile(answer_times, 95), 2),
        "answers": len(answer_times),
        "refused": refused,
    }


def search_only(engine: Any, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(engine.vectors.nearest(query, K)[0])
        times.append((time.perf_counter() - started) * 1000)
    return round(recall_at_k(np.stack(found), truth), 4), round(percentile(times, 50), 2)


def sweep(engine: Any, queries: np.ndarray, truth: np.ndarray) -> dict[str, tuple[float, float]]:
    """Recall@10 and search p50 as the index's search breadth varies: the folder's lists visited
    (nprobe), PostgreSQL's HNSW candidate list (ef_search)."""
    out = {}
    index = getattr(engine.vectors, "data", None) and engine.vectors.data.sentence_index
    if index is not None:
        default = index.nprobe
        for share in (16, 8, 4, 2):
            index.nprobe = max(1, index.nlist // share)
            out[f"nprobe={index.nprobe}/{index.nlist}"] = search_only(engine, queries, truth)
        index.nprobe = default
    elif hasattr(engine.vectors, "ef_search"):
        for ef in (100, 200, 400, 800):
            engine.vectors.ef_search = ef
            out[f"ef_search={ef}"] = search_only(engine, queries, truth)
        engine.vectors.ef_search = None
    return out


def run_store(
    kind: str, chunks: int, workdir: Path, n_queries: int, answers: int, settings: StoreSettings
) -> dict[str, Any]:
    """Generate and build in this process; load and answer in a fresh one (`--serve`), so that its
    peak memory is the answering process's own, not the generator's."""
    mixture = Mixture.create(max(20, chunks * 4 // 500))
    started = time.perf_counter()
    data = synthetic(chunks, workdir, mixture)
    queries = mixture.sample(n_queries, DIM, seed=2)
    np.save(workdir / "queries.npy", queries, allow_pickle=False)
    np.save(workdir / "truth.npy", exact_top_k(data.sentence_vectors, queries, K), allow_pickle=False)
    result: dict[str, Any] = {
        "store": kind,
        "chunks": len(data.chunks),
        "sentences": len(data.sentences),
        "documents": len(data.documents),
        "generate_s": round(time.perf_counter() - started, 1),
    }
    server = workdir / "pg"
    if kind == "folder":
        result.update(build_folder(data, workdir / "index", settings))
        target = str(workdir / "index")
    else:
        from vectorstore.stores import pgserver

        target = pgserver.start(server)
    try:
        if kind == "postgres":
            result.update(build_postgres(data, target, settings))
        result["build_peak_rss_mb"] = round(peak_rss_mb())  # with the generator's mapped vector files
        del data
        command = [
            sys.executable,
            __file__,
            "--serve",
            target,
            "--store",
            kind,
            "--topics",
            str(len(mixture.centres)),
        ]
        command += ["--threshold", str(settings.approximate_threshold), "--answers", str(answers)]
        command += ["--workdir", str(workdir)]
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        result.update(json.loads(out.strip().splitlines()[-1]))
    finally:
        if kind == "postgres":
            from vectorstore.stores import pgserver

            pgserver.stop(server)
    result["load_average"] = round(os.getloadavg()[0], 2)
    return result


def serve(
    kind: str, target: str, workdir: Path, topics: int, answers: int, settings: StoreSettings
) -> dict[str, Any]:
    """Load the built index as `citeqa` would and measure the sentence search and the answering step."""
    from qa.engine import Engine
    from vectorstore.settings import ChunkingSettings
    from vectorstore.stores.folder import FolderStore
    from vectorstore.stores.postgres import PostgresStore

    mixture = Mixture.create(topics)
    started = time.perf_counter()
    source: Any = FolderStore(Path(target), settings) if kind == "folder" else PostgresStore(target, settings)
    try:
        engine = Engine.load(source, SyntheticEmbedder(mixture), ChunkingSettings(), workdir)
        result: dict[str, Any] = {"load_s": round(time.perf_counter() - started, 1)}
        anon = [anon_rss_mb()]
        result["approximate"] = engine.vectors.approximate
        queries = np.load(workdir / "queries.npy", allow_pickle=False)
        truth = np.load(workdir / "truth.npy", allow_pickle=False)
        result.update(measure(engine, queries, truth, answers))
        anon.append(anon_rss_mb())
        result["sweep"] = sweep(engine, queries, truth)
        anon.append(anon_rss_mb())
    finally:
        source.close()
    # VmHWM counts the pages of the memory-mapped files (vectors, IVF lists) a process has read: page
    # cache the kernel can take back. The process's own memory is its anonymous part.
    result["serve_peak_rss_mb"] = round(peak_rss_mb())
    result["serve_anon_mb"] = round(max(anon))
    return result


def anon_rss_mb() -> float:
    """The anonymous (not file-backed) resident memory of this process now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_ingest(attempts: int) -> dict[str, Any]:
    """`index` of the seeds with the real model into a folder and into PostgreSQL, each from scratch."""
    from qa.settings import Settings
    from vectorstore.models.embedding import SentenceTransformerEmbedder
    from vectorstore.stores import pgserver
    from vectorstore.stores.folder import FolderStore
    from vectorstore.stores.postgres import PostgresStore

    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
    embedder.embed_queries(["warm up"])  # the model's load is no store's cost
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    with tempfile.TemporaryDirectory() as tmp:
        url = pgserver.start(Path(tmp) / "pg")
        try:
            times: dict[str, list[float]] = {"folder": [], "postgres": []}
            for attempt in range(attempts):  # alternately: a busy moment does not land on one store only
                for kind in ("folder", "postgres"):
                    store: Any = (
                        FolderStore(Path(tmp) / f"index{attempt}", StoreSettings())
                        if kind == "folder"
                        else PostgresStore(url, StoreSettings())
                    )
                    started = time.perf_counter()
                    store.index([seeds], embedder=embedder, chunking=settings.chunking, rebuild=True)
                    times[kind].append(time.perf_counter() - started)
                    store.close()
        finally:
            pgserver.stop(Path(tmp) / "pg")
    folder, postgres = min(times["folder"]), min(times["postgres"])
    return {
        "ingest_folder_s": round(folder, 2),
        "ingest_postgres_s": round(postgres, 2),
        "postgres_over_folder": round(postgres / folder, 3),
        "runs": {k: [round(v, 2) for v in vs] for k, vs in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--store", choices=("folder", "postgres"), default="folder")
    parser.add_argument("--both", action="store_true", help="the folder, then PostgreSQL, in two processes")
    parser.add_argument("--ingest", action="store_true", help="time indexing the seeds into each store")
    parser.add_argument("--attempts", type=int, default=2, help="--ingest: pairs of runs (the best counts)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None, help="where the vectors and indexes go")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)  # the answering process
    parser.add_argument("--topics", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--threshold",
        type=int,
        default=StoreSettings().approximate_threshold,
        help="store.approximate_threshold",
    )
    args = parser.parse_args()
    if args.ingest:
        print(json.dumps(run_ingest(args.attempts)))
        return
    settings = StoreSettings(approximate_threshold=args.threshold)
    if args.serve:
        print(json.dumps(serve(args.store, args.serve, args.workdir, args.topics, args.answers, settings)))
        return
    if args.both:
        results = []
        for kind in ("folder", "postgres"):
            command = [sys.executable, __file__, "--chunks", str(args.chunks), "--store", kind]
            command += ["--queries", str(args.queries), "--answers", str(args.answers)]
            command += ["--threshold", str(args.threshold)]
            if args.workdir:
                command += ["--workdir", str(args.workdir)]
            out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        print(json.dumps(results))
        return
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:  # removed afterwards, whatever happens
        print(json.dumps(run_store(args.store, args.chunks, Path(tmp), args.queries, args.answers, settings)))


if __name__ == "__main__":
    main()
