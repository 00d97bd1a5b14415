"""citeqa against the plain LangChain pipeline (same model), and FAISS at scale; ratios from one run.

    .venv/bin/python benchmarks/run.py --quick   # ~2 min: two seeds, warm queries, 10k vectors
    .venv/bin/python benchmarks/run.py           # the seeds and xquad-dev's 24 articles, cold start,
                                                 # memory, Matryoshka, 1M vectors

The headline is ingestion as whole processes (`wall.py`): the same files from process start to saved
index, citeqa against the plain pipeline with library defaults and against it given citeqa's dtype
and batch size, with files/s, KB/s and peak memory; chunks/s with the models loaded beforehand follows.

The machine may be shared: the load average is printed at the start and the end, ours and plain are
measured alternately, and each comparison is a ratio taken within this run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ingest
import processes
import query
import wall

from qa.evaluate.gold import load_gold
from qa.evaluate.metrics import percentile
from qa.settings import Settings
from vectorstore.settings import EmbeddingSettings

MATRYOSHKA_DIM = 256
QUICK_QUESTIONS = 8
COLD_RUNS = 3
COLD_QUESTION = "What did Ukraine offer at the Istanbul negotiations?"


#: The full run's files: the seeds and both xquad-dev article sets, each in its own subfolder.
FULL_COLLECTIONS = {
    "seeds": Path("seeds"),
    "xquad-de": Path("gold/xquad-dev/de/docs"),
    "xquad-en": Path("gold/xquad-dev/en/docs"),
}


def header(settings: Settings, quick: bool) -> None:
    e = settings.embedding
    print(
        f"citeqa benchmark ({'quick' if quick else 'full'}), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{ingest.load_now()}"
    )
    print(
        f"model {e.model} ({e.dtype}, batch {e.batch_size}, backend {e.backend}); "
        f"chunking {settings.chunking.model_dump()}"
    )


def cold_start(index_dir: Path, plain_dir: Path) -> list[str]:
    """`citeqa ask` from process start to printed answer, against the plain pipeline's load-and-search."""
    ours, plain = [], []
    for _ in range(COLD_RUNS):
        ours.append(processes.citeqa("ask", COLD_QUESTION, "--index-dir", index_dir).seconds)
        plain.append(processes.plain("plain-ask", plain_dir, COLD_QUESTION).seconds)
    o, p = percentile(ours, 50), percentile(plain, 50)
    return [
        f"cold start, process start to answer ({COLD_RUNS} alternating runs each): `citeqa ask` median "
        f"{o:.1f} s (min {min(ours):.1f}); plain load_local + search {p:.1f} s (min {min(plain):.1f}); "
        f"ratio ours/plain {o / p:.2f}x"
    ]


def memory(index_dir: Path, plain_dir: Path, gold: Path) -> list[str]:
    """Peak RSS of serving the gold questions from the indexes the headline built, each in a fresh
    process (indexing's peak is in the headline)."""
    ours_serve = processes.ours_serve(index_dir, gold)
    plain_serve = processes.plain("plain-serve", plain_dir, gold, "0")
    return [
        f"peak memory serving the {len(load_gold(gold))} gold questions (VmHWM of a fresh process, model "
        f"load included): ours {ours_serve.peak_rss_mb:.0f} MB, plain {plain_serve.peak_rss_mb:.0f} MB; "
        f"ratio {ours_serve.peak_rss_mb / plain_serve.peak_rss_mb:.2f}x",
    ]


def matryoshka(settings: Settings, docs: Path, gold: Path, workdir: Path) -> list[str]:
    """Gold-set quality of the full-dimension index (already built) against a 256-d one built now."""
    import quality

    # Both built here from the gold set's own folder: the headline's documents sit in subfolders, whose
    # document ids the gold set's sources do not name.
    full_settings = Settings(index_dir=workdir / "dim-full", embedding=settings.embedding)
    full = quality.gold_quality(full_settings, gold, quality.build_at(full_settings, docs))
    reduced_settings = Settings(
        index_dir=workdir / f"dim{MATRYOSHKA_DIM}",
        embedding=EmbeddingSettings(**{**settings.embedding.model_dump(), "dimension": MATRYOSHKA_DIM}),
    )
    build_s = quality.build_at(reduced_settings, docs)
    reduced = quality.gold_quality(reduced_settings, gold, build_s)
    loss_hit = full.row.hit_at_1 - reduced.row.hit_at_1  # type: ignore[operator]
    loss_facts = full.row.fact_recall_answer - reduced.row.fact_recall_answer  # type: ignore[operator]
    return [
        f"Matryoshka quality on {gold} (seeds indexed at each dimension, same pipeline):",
        full.line(),
        reduced.line(),
        f"  loss at {MATRYOSHKA_DIM}: hit@1 {loss_hit:+.3f}, fact recall {loss_facts:+.3f} (positive: worse)",
    ]


def scale(sizes: list[int], dims: list[int], sweep: str, sentences_per_chunk: float) -> list[str]:
    """One fresh process per (size, dimension): build, memory, search p50 and recall@10 vs exact.

    Also an estimate of what FAISS does not cover: `qa.retrieve.evidence` scores every sentence vector
    exactly, so a query also scans `sentences_per_chunk` times the exact search's vectors.
    """
    out = [
        "scale on synthetic vectors (normalised mixture of Gaussians shaped like EmbeddingGemma vectors; "
        "200 held-out queries, k=10, one query at a time):",
        f"  {'vectors':>9} {'dim':>4} {'index (auto)':<28}{'build s':>8}{'index MB':>9}{'peak RSS MB':>12}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'exact p50':>10}{'recall@10':>10}",
    ]
    sweeps, scans = [], []
    for n in sizes:
        for dim in dims:
            command = [
                sys.executable,
                Path(__file__).with_name("scale.py"),
                "--n",
                str(n),
                "--dim",
                str(dim),
                "--exact",
            ]
            if sweep and n >= 1_000_000:
                command += ["--sweep", sweep]
            proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=True)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            label = f"{r['kind']} {r['params']}"
            out.append(
                f"  {n:>9,} {dim:>4} {label:<28}{r['build_s']:>8.1f}{r['index_mb']:>9.0f}"
                f"{r['peak_rss_mb']:>12.0f}{r['search_p50_ms']:>8.2f}{r['search_p95_ms']:>8.2f}"
                f"{r.get('exact_p50_ms', float('nan')):>10.1f}{r['recall@10']:>10.3f}"
            )
            if "exact_p50_ms" in r:
                sentences, scan_ms = n * sentences_per_chunk, sentences_per_chunk * r["exact_p50_ms"]
                scans.append(
                    f"  {n:,} chunks x {dim}: ~{sentences:,.0f} sentence vectors, "
                    f"~{sentences * dim * 4 / 2**30:.1f} GB, ~{scan_ms:.0f} ms per query"
                )
            if "sweep" in r:
                sweeps.append(
                    f"  nprobe sweep at {n:,} x {dim}: "
                    + ", ".join(
                        f"{s['nprobe']}: recall {s['recall']:.3f} p50 {s['p50_ms']:.2f} ms"
                        for s in r["sweep"]
                    )
                )
    note = (
        f"estimate, not FAISS: citeqa also scores every sentence vector exactly per query "
        f"({sentences_per_chunk:.1f} sentences per chunk on the seeds; time = that many exact scans):"
    )
    return out + sweeps + [note] + scans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two seeds, 10k vectors: under a minute")
    parser.add_argument("--seeds", type=Path, default=Path("seeds"))
    parser.add_argument("--gold", type=Path, default=Path("gold/seeds.jsonl"))
    parser.add_argument("--rounds", type=int, help="whole-process ingestion rounds (default 1 quick, 3 full)")
    parser.add_argument("--sizes", help="synthetic sizes (default 10000; full 10000,100000,1000000)")
    parser.add_argument("--sweep", default="16,32,64,128", help="nprobe values tried at 1M vectors")
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="citeqa-bench-"))
    try:
        settings = Settings(index_dir=workdir / "ours-index")
        header(settings, args.quick)
        if args.quick:
            docs = ingest.copy_collection(args.seeds, workdir / "docs", ingest.QUICK_FILES)
            label = f"{len(ingest.QUICK_FILES)} seed files"
        else:
            docs = workdir / "docs"
            for name, source in FULL_COLLECTIONS.items():
                ingest.copy_collection(args.seeds if name == "seeds" else source, docs / name)
            label = "the seeds and xquad-dev's articles"
        whole = wall.measure(docs, workdir, args.rounds or (1 if args.quick else 3))
        print("\n".join(whole.lines(label)), flush=True)

        t0 = time.perf_counter()
        ingestion = ingest.Ingestion(settings, workdir)
        print(f"models loaded (ours and plain, one copy each) in {time.perf_counter() - t0:.1f} s")
        comparison = ingest.compare(ingestion, docs, 1)
        print("\n".join(comparison.lines(label + "; plain with library defaults, float32")), flush=True)

        gold = load_gold(args.gold)
        if args.quick:
            subset = [g.question for g in gold if set(g.sources) & set(ingest.QUICK_FILES)]
            questions = subset[:QUICK_QUESTIONS]
        else:
            questions = [g.question for g in gold]
        print("\n".join(query.measure(settings, ingestion.plain_store, questions).lines(label)), flush=True)

        if not args.quick:
            print("\n".join(matryoshka(settings, args.seeds, args.gold, workdir)), flush=True)
            print("\n".join(cold_start(settings.resolved_index_dir, workdir / "plain-index")), flush=True)
            print("\n".join(memory(workdir / "wall-0", workdir / "wall-1", args.gold)), flush=True)
        if not args.skip_scale:
            default = "10000" if args.quick else "10000,100000,1000000"
            sizes = [int(float(v)) for v in (args.sizes or default).split(",")]
            per_chunk = comparison.ours[0].texts / comparison.ours[0].chunks - 1
            print("\n".join(scale(sizes, [768, MATRYOSHKA_DIM], args.sweep, per_chunk)), flush=True)
        print(f"done in {time.perf_counter() - started:.0f} s; {ingest.load_now()}")
        print(
            f"ingestion, whole processes: {whole.ratio('plain'):.2f}x the plain pipeline's wall time with "
            f"library defaults, {whole.ratio(wall.PIPELINES[2]):.2f}x given citeqa's dtype and batch size, "
            f"peak memory {whole.memory_ratio('plain'):.2f}x / {whole.memory_ratio(wall.PIPELINES[2]):.2f}x; "
            f"{comparison.throughput_ratio:.2f}x chunks/s with models loaded ({label})"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
