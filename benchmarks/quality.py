"""Gold-set quality of an index, to price a Matryoshka dimension: the same seeds at full and reduced size."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from qa.engine import get_engine
from qa.evaluate import evaluate
from qa.gold import load_gold
from qa.metrics import Row, summarize
from qa.pipeline import answer
from qa.settings import Settings
from vectorstore.embedding import SentenceTransformerEmbedder
from vectorstore.indexer import build


@dataclass(frozen=True)
class Quality:
    dimension: int
    row: Row
    build_s: float

    def line(self) -> str:
        r = self.row
        return (
            f"  dim {self.dimension:>4}: hit@1 {r.hit_at_1:.3f}  fact recall {r.fact_recall_answer:.3f}  "
            f"MRR {r.mrr:.3f}  unanswerable refused {r.unanswerable_refused:.3f}  "
            f"vectors {self.dimension * 4} B each"
        )


def build_at(settings: Settings, docs: Path) -> float:
    """Index `docs` into `settings.index_dir` from scratch; seconds taken."""
    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
    build([docs], settings.resolved_index_dir, embedder=embedder, chunking=settings.chunking,
          store_settings=settings.store, rebuild=True)
    return time.perf_counter() - started


def gold_quality(settings: Settings, gold: Path, build_s: float = 0.0) -> Quality:
    engine = get_engine(settings)
    records = evaluate(load_gold(gold), lambda q: answer(q, settings, engine=engine))
    return Quality(engine.embedder.dimension, summarize(records).rows["all"], build_s)
