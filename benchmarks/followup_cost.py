"""What reading a follow-up with its conversation costs: warm answer p50 of follow-ups asked with their
history beside their standalone rewrites asked alone, in one run, without a chat model.

    .venv/bin/python benchmarks/followup_cost.py [--gold gold/followups/seeds.jsonl] [--repeat 3]

Each conversation's history is replayed once (untimed), with citeqa's own answers; then the follow-up
(with that history) and its standalone rewrite (alone) are each timed `--repeat` times, interleaved, so
that both meet the same machine load. The acceptance bound of issue 24 is a ratio of at most 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from qa.conversation import Turn
from qa.engine import get_engine
from qa.evaluate.followups import history_turns
from qa.evaluate.gold import load_gold
from qa.evaluate.metrics import percentile
from qa.pipeline import answer
from qa.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import ROOT, Collection, index_for  # noqa: E402 - a sibling script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "gold" / "followups" / "seeds.jsonl")
    parser.add_argument("--docs", type=Path, default=ROOT / "seeds")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    settings = index_for(Collection("cost", args.docs, args.gold, False), Settings())
    engine = get_engine(settings)
    gold = [g for g in load_gold(args.gold) if g.history]

    def ask(question: str, turns: tuple[Turn, ...] = ()) -> float:
        started = time.perf_counter()
        answer(question, settings, engine=engine, history=turns)
        return (time.perf_counter() - started) * 1000

    ask(gold[0].question)  # warm-up: model, index, calibration
    conversations = [
        (g, history_turns(g, lambda q, t: answer(q, settings, engine=engine, history=t))) for g in gold
    ]
    followed: list[float] = []
    standalone: list[float] = []
    used = 0
    for _ in range(args.repeat):
        for g, turns in conversations:
            followed.append(ask(g.question, turns))
            standalone.append(ask(g.standalone or g.question))
    for g, turns in conversations:
        used += answer(g.question, settings, engine=engine, history=turns).history_used

    print(f"{len(conversations)} follow-ups x {args.repeat} on {args.gold} ({engine.status()}), warm")
    print(f"  history used for {used} of {len(conversations)}")
    print(f"  {'':<34}{'p50 ms':>10}{'p95 ms':>10}")
    for label, times in (
        ("follow-up, with its history", followed),
        ("standalone rewrite, alone", standalone),
    ):
        print(f"  {label:<34}{percentile(times, 50):>10.1f}{percentile(times, 95):>10.1f}")
    ratio = percentile(followed, 50) / percentile(standalone, 50)
    print(f"ratio follow-up / standalone, p50: {ratio:.2f} (bound: 2.00)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
