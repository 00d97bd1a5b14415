"""Warm query latency by stage, ours beside the plain pipeline, questions interleaved.

Ours: `qa.pipeline.answer` with its `timings_ms`; "search" is the sentence evidence scores and the
ranking of chunks by them. Plain: `embed_query` then `similarity_search_with_score_by_vector` on its
in-memory FAISS store; it has no composition.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.engine import get_engine
from qa.evaluate.metrics import percentile
from qa.pipeline import answer
from qa.settings import Settings

STAGES = ("embed", "search", "compose", "total", "bare embed")
_PLAIN_STAGES = ("embed", "search", "total")
_SEARCH_PARTS = ("sentence_scores", "ranking")


@dataclass
class Latencies:
    ours: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    plain: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in _PLAIN_STAGES})

    def lines(self, label: str) -> list[str]:
        def cell(values: list[float]) -> str:
            if not values:
                return f"{'-':>9}{'-':>9}"
            return f"{percentile(values, 50):>9.1f}{percentile(values, 95):>9.1f}"

        n = len(self.ours["total"])
        out = [
            f"warm query latency ({label}; {n} questions, each asked of both in turn), ms:",
            f"  {'stage':<10}{'ours p50':>9}{'p95':>9}   {'plain p50':>9}{'p95':>9}",
        ]
        for stage in STAGES:
            out.append(f"  {stage:<10}{cell(self.ours[stage])}   {cell(self.plain.get(stage, []))}")
        p50 = percentile(self.ours["total"], 50) / percentile(self.plain["total"], 50)
        p95 = percentile(self.ours["total"], 95) / percentile(self.plain["total"], 95)
        out.append(
            f"  query latency ratio ours/plain: p50 {p50:.2f}x, p95 {p95:.2f}x (both embed the"
            " question with one model; ours also scores sentences and composes an answer)"
        )
        bare = percentile(self.ours["total"], 50) / percentile(self.ours["bare embed"], 50)
        out.append(
            f"  ours: answer p50 / bare question embedding p50 = {bare:.2f}x (bare: the question"
            " alone, one model call, no focus)"
        )
        return out


def measure(settings: Settings, plain_store: Any, questions: Sequence[str]) -> Latencies:
    """Ask every question of both pipelines after one warm-up question each."""
    engine = get_engine(settings)
    answer(questions[0], settings, engine=engine)
    plain_embed = plain_store.embedding_function
    plain_store.similarity_search_with_score_by_vector(plain_embed.embed_query(questions[0]), k=4)
    result = Latencies()
    for question in questions:
        timings = answer(question, settings, engine=engine).timings_ms
        result.ours["embed"].append(timings["embed"])
        result.ours["search"].append(sum(timings.get(part, 0.0) for part in _SEARCH_PARTS))
        result.ours["compose"].append(timings.get("compose", 0.0))
        result.ours["total"].append(timings["total"])
        t0 = time.perf_counter()
        engine.embedder.embed_queries([question])
        result.ours["bare embed"].append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        vector = plain_embed.embed_query(question)
        t1 = time.perf_counter()
        plain_store.similarity_search_with_score_by_vector(vector, k=4)
        t2 = time.perf_counter()
        result.plain["embed"].append((t1 - t0) * 1000)
        result.plain["search"].append((t2 - t1) * 1000)
        result.plain["total"].append((t2 - t0) * 1000)
    return result
