"""Calibrate the extractive composer on a gold set: refusal threshold and evidence selection.

Embeds each gold question once with the real model, then replays retrieval and composition under a
grid of settings and prints, for each, the gold-set metrics. Also prints the best-evidence score of
every question, answerable or not, so the refusal threshold can be placed in the gap between them.

    .venv/bin/python benchmarks/calibrate.py gold/seeds.jsonl --index-dir DIR
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from pathlib import Path

from qa.engine import get_engine
from qa.evaluate import score
from qa.gold import load_gold
from qa.metrics import summarize
from qa.pipeline import answer_from_vector, embed_question
from qa.settings import ComposeSettings, Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", type=Path)
    parser.add_argument("--index-dir", type=Path)
    args = parser.parse_args()
    base = Settings(index_dir=args.index_dir) if args.index_dir else Settings()
    engine = get_engine(base)
    gold = load_gold(args.gold)
    vectors = [embed_question(g.question, engine) for g in gold]

    print("best evidence score per question (answerable a / unanswerable U):")
    best: list[tuple[float, bool, str]] = []
    for g, (vec, focus) in zip(gold, vectors, strict=True):
        ans = answer_from_vector(g.question, vec, engine, base, focus_vector=focus)
        best.append((ans.evidence_score, g.answerable, g.id))
    for value, answerable, qid in sorted(best):
        if answerable and value > 0.5:
            continue
        print(f"  {value:.3f} {'a' if answerable else 'U'} {qid}")
    worst_unanswerable = max((v for v, a, _ in best if not a), default=-1.0)
    answerable_scores = sorted(v for v, a, _ in best if a)
    print(f"highest unanswerable: {worst_unanswerable:.3f}; lowest answerable: {answerable_scores[:3]}")

    grid = itertools.product([0.03], [0.12, 0.16], [3, 4, 5], [85], [0, 8], [0.36])
    print(
        "\nother_doc margin max_sentences max_words top_sentences threshold"
        " | hit@1 facts cit_prec unans_ref ans_ref words"
    )
    for other, margin, max_sentences, max_words, top, threshold in grid:
        compose = base.compose.model_copy(
            update={
                "other_document_margin": other,
                "margin": margin,
                "max_sentences": max_sentences,
                "max_words": max_words,
                "top_sentences": top,
                "refuse_below": threshold,
            }
        )
        settings = base.model_copy(update={"compose": ComposeSettings(**compose.model_dump())})
        records = [
            score(g, answer_from_vector(g.question, vec, engine, settings, focus_vector=focus), 0.0)
            for g, (vec, focus) in zip(gold, vectors, strict=True)
        ]
        row = summarize(records).rows["all"]
        print(
            f"{other:>9} {margin:>6} {max_sentences:>13} {max_words:>9} {top:>12} {threshold:>9} | "
            f"{row.hit_at_1:.3f} "
            f"{row.fact_recall_answer:.3f} {row.citation_precision:.3f} {row.unanswerable_refused:.3f} "
            f"{row.answerable_refused:>7} {row.median_words}"
        )
    print(f"\nmedian best score answerable: {statistics.median(answerable_scores):.3f}")


if __name__ == "__main__":
    main()
