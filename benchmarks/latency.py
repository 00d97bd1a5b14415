"""Warm query latency on the seeds, split by stage, beside the plain LangChain pipeline's query.

Both pipelines answer the same gold questions in the same run, after one warm-up question each; the
table gives p50 and p95 per stage and the ratio of the totals.

    .venv/bin/python benchmarks/latency.py [--gold gold/seeds.jsonl] [--index-dir DIR] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qa.engine import get_engine
from qa.evaluate.baseline import BaselinePipeline
from qa.evaluate.gold import load_gold
from qa.evaluate.metrics import percentile
from qa.pipeline import answer
from qa.settings import Settings

STAGES = ("embed", "sentence_scores", "ranking", "compose", "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("gold/seeds.jsonl"))
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--docs", type=Path, default=Path("seeds"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    settings = Settings(index_dir=args.index_dir) if args.index_dir else Settings()
    questions = [g.question for g in load_gold(args.gold)] * args.repeat

    engine = get_engine(settings)
    answer(questions[0], settings, engine=engine)  # warm-up: model, index, caches
    ours: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for question in questions:
        timings = answer(question, settings, engine=engine).timings_ms
        for stage in STAGES:
            ours[stage].append(timings.get(stage, 0.0))

    plain = BaselinePipeline(args.docs, settings)
    plain.answer(questions[0])
    plain_ms = []
    for question in questions:
        started = time.perf_counter()
        plain.answer(question)
        plain_ms.append((time.perf_counter() - started) * 1000)

    print(f"{len(questions)} warm queries on {args.gold} ({engine.status()})")
    print(f"{'stage':<18}{'p50 ms':>10}{'p95 ms':>10}")
    for stage in STAGES:
        print(f"{stage:<18}{percentile(ours[stage], 50):>10.1f}{percentile(ours[stage], 95):>10.1f}")
    print(f"{'plain LangChain':<18}{percentile(plain_ms, 50):>10.1f}{percentile(plain_ms, 95):>10.1f}")
    ratio = percentile(ours["total"], 50) / percentile(plain_ms, 50)
    print(f"ratio ours/plain, p50 total: {ratio:.2f}")
    without_embed = [t - e for t, e in zip(ours["total"], ours["embed"], strict=True)]
    print(
        f"retrieval + composition without the query embedding: p50 {percentile(without_embed, 50):.1f} ms, "
        f"p95 {percentile(without_embed, 95):.1f} ms"
    )


if __name__ == "__main__":
    main()
