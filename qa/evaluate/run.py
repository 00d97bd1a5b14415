"""`citeqa eval`: answer every gold question, score the answers, print the summary.

`evaluate(gold, answer_fn)` is the library function (tests pass fake answerers); `run_cli` wires it to
the engine, the optional plain LangChain baseline and the output formats.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.evaluate import metrics
from qa.evaluate.gold import GoldFormatError, GoldQuestion, load_gold
from qa.settings import Settings
from qa.types import Answer

#: Answers one question; the pipeline, the baseline or a test fake.
AnswerFn = Callable[[str], Answer]

OURS, BASELINE, DIFFERENCE = "ours", "plain", "difference"
_WARM_UP_QUESTION = "What is this collection about?"


@dataclass(frozen=True)
class Record:
    """One answered gold question and what was measured; `metrics.summarize` reads these."""

    id: str
    question: str
    lang: str
    answerable: bool
    sources: tuple[str, ...]  # gold sources
    answer: str
    refused: bool
    cited_sources: tuple[str, ...]  # file names in citation order, unique
    retrieved_sources: tuple[str, ...]  # file names of the passages in rank order, unique
    facts: tuple[str, ...]  # each gold fact by its first alias
    facts_found: tuple[str, ...]  # facts present in the answer (none when it refused)
    facts_in_passages: tuple[str, ...]  # facts present in at least one retrieved passage
    answer_words: int
    latency_ms: float
    mode: str = "extractive"  # the answer's: extractive, generative or extractive-fallback
    facts_in_first_words: tuple[str, ...] = ()  # found within its first metrics.EQUAL_LENGTH_WORDS words

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "lang": self.lang,
            "answerable": self.answerable,
            "sources": list(self.sources),
            "answer": self.answer,
            "refused": self.refused,
            "cited_sources": list(self.cited_sources),
            "retrieved_sources": list(self.retrieved_sources),
            "facts": list(self.facts),
            "facts_found": list(self.facts_found),
            "facts_in_first_words": list(self.facts_in_first_words),
            "facts_in_passages": list(self.facts_in_passages),
            "answer_words": self.answer_words,
            "latency_ms": round(self.latency_ms, 1),
            "mode": self.mode,
        }


def score(question: GoldQuestion, answer: Answer, latency_ms: float) -> Record:
    """Measure one answer against its gold question."""
    labels = question.fact_labels

    def found_in(text: str) -> tuple[str, ...]:
        if answer.refused:
            return ()
        pairs = zip(labels, question.facts, strict=True)
        return tuple(label for label, aliases in pairs if metrics.fact_present(aliases, text))

    in_answer = found_in(answer.text)
    in_first_words = found_in(metrics.first_words(answer.text, metrics.EQUAL_LENGTH_WORDS))
    # Each passage on its own: joined passages could make an alias match across a boundary.
    in_passages = tuple(
        label
        for label, aliases in zip(labels, question.facts, strict=True)
        if any(metrics.fact_present(aliases, p.text) for p in answer.passages)
    )
    return Record(
        id=question.id,
        question=question.question,
        lang=question.lang,
        answerable=question.answerable,
        sources=question.sources,
        answer=answer.text,
        refused=answer.refused,
        cited_sources=tuple(metrics.unique_in_order(c.source for c in answer.citations)),
        retrieved_sources=tuple(metrics.unique_in_order(p.source for p in answer.passages)),
        facts=labels,
        facts_found=in_answer,
        facts_in_first_words=in_first_words,
        facts_in_passages=in_passages,
        answer_words=metrics.word_count(answer.text),
        latency_ms=latency_ms,
        mode=answer.mode,
    )


def evaluate(
    gold: Sequence[GoldQuestion],
    answer_fn: AnswerFn,
    progress: Callable[[int], object] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Record]:
    """Answer every gold question with `answer_fn`, timing each call, and score the answers.

    Args:
        gold: The questions, e.g. from `load_gold`.
        answer_fn: Returns an `Answer` for a question text.
        progress: Called with 1 after each question.
        clock: Seconds, for the latencies; tests pass a scripted one.

    Returns:
        One Record per question, in gold order.
    """
    records = []
    for question in gold:
        started = clock()
        answer = answer_fn(question.question)
        latency_ms = (clock() - started) * 1000
        records.append(score(question, answer, latency_ms))
        if progress is not None:
            progress(1)
    return records


def check_sources(gold: Sequence[GoldQuestion], known: set[str], gold_path: str, where: str) -> None:
    """Fail when a gold source is not a document of the collection: every score would silently be 0."""
    for question in gold:
        for source in question.sources:
            if source not in known:
                raise GoldFormatError(
                    f"{gold_path}: question {question.id} names source {source!r}, which is not in {where}; "
                    f"index the documents this gold set is about."
                )


def _run(name: str, gold: Sequence[GoldQuestion], answer_fn: AnswerFn) -> list[Record]:
    from tqdm import tqdm

    answer_fn(_WARM_UP_QUESTION)  # first-call costs (model load, caches) stay out of the latencies
    with tqdm(total=len(gold), desc=name, unit="question", file=sys.stderr, dynamic_ncols=True) as bar:
        return evaluate(gold, answer_fn, bar.update)


def _write_records(path: Path, records: Sequence[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")


def baseline_records_path(out: Path) -> Path:
    """Where `--out records.jsonl --baseline` writes the baseline's records: `records.baseline.jsonl`."""
    return out.with_name(f"{out.stem}.baseline{out.suffix or '.jsonl'}")


def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`citeqa eval GOLD [--mode M] [--baseline --docs DIR] [--json] [--out FILE]`; returns the exit code."""
    from qa.engine import get_engine
    from qa.pipeline import answer

    started = time.perf_counter()
    gold = load_gold(args.gold)  # validates the whole file before anything runs
    mode = getattr(args, "mode", None) or settings.mode
    engine = get_engine(settings)
    check_sources(gold, set(engine.data.documents), args.gold, f"the index at {engine.location}")
    from qa.evaluate.followups import is_followup_set

    if is_followup_set(gold):
        return _run_followups(args, settings, gold, engine, mode, started)
    plain = None
    if args.baseline:  # built first, so a wrong --docs fails before the long run
        from qa.evaluate.baseline import BaselinePipeline

        docs = Path(args.docs)
        plain = BaselinePipeline(docs, settings)
        check_sources(gold, plain.sources, args.gold, f"--docs {docs}")
    runs = {OURS: _run(OURS, gold, lambda q: answer(q, settings, engine=engine, mode=mode))}
    if plain is not None:
        runs[BASELINE] = _run(BASELINE, gold, plain.answer)
    seconds = time.perf_counter() - started  # everything: loading, the baseline's index, both runs

    summaries = {name: metrics.summarize(records) for name, records in runs.items()}
    if args.out:
        out = Path(args.out)
        _write_records(out, runs[OURS])
        if BASELINE in runs:
            _write_records(baseline_records_path(out), runs[BASELINE])
    if args.json:
        print(json.dumps(summary_json(args.gold, mode, summaries, seconds), ensure_ascii=False))
    else:
        from rich.console import Console

        Console().print(summary_table(args.gold, mode, summaries, seconds))
    return 0


def _run_followups(
    args: argparse.Namespace,
    settings: Settings,
    gold: Sequence[GoldQuestion],
    engine: Any,
    mode: str,
    started: float,
) -> int:
    """`citeqa eval` of a follow-up set: each follow-up alone, as its standalone rewrite and in its
    conversation (see `qa.evaluate.followups`), one table row per language."""
    from tqdm import tqdm

    from qa.evaluate.followups import FOLLOWUP_COLUMNS, evaluate_followups, followup_rows, text_table
    from qa.pipeline import answer

    def ask(question: str, turns: Sequence[Any]) -> Answer:
        return answer(question, settings, engine=engine, mode=mode, history=turns)

    ask(_WARM_UP_QUESTION, ())
    with tqdm(total=len(gold), desc="follow-ups", unit="conversation", file=sys.stderr) as bar:
        runs = evaluate_followups(gold, ask, bar.update)
    seconds = time.perf_counter() - started
    if args.out:
        _write_records(Path(args.out), runs["in conversation"])
    if args.json:
        out = {"gold": str(args.gold), "mode": mode, "seconds": round(seconds, 1)}
        for reading, records in runs.items():
            out[reading] = {lang: row.to_dict() for lang, row in metrics.summarize(records).rows.items()}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"citeqa eval {args.gold}: follow-ups, mode {mode}, {seconds:.0f} s\n")
    print(text_table(FOLLOWUP_COLUMNS, followup_rows(Path(args.gold).stem, runs)))
    return 0


def summary_json(
    gold_path: str, mode: str, summaries: dict[str, metrics.Summary], seconds: float
) -> dict[str, Any]:
    """The `--json` object: the runs' rows by language and, with a baseline, ours minus the baseline."""
    out: dict[str, Any] = {
        "gold": str(gold_path),
        "mode": mode,
        "k": metrics.SUMMARY_K,
        "seconds": round(seconds, 1),
    }
    for name, summary in summaries.items():
        out[name] = {lang: row.to_dict() for lang, row in summary.rows.items()}
    if BASELINE in summaries:
        ours, plain = summaries[OURS].rows, summaries[BASELINE].rows
        out[DIFFERENCE] = {}
        for lang, row in ours.items():
            if lang in plain:
                diff = metrics.difference(row, plain[lang])
                out[DIFFERENCE][lang] = {key: metrics.round_value(key, v) for key, v in diff.items()}
    return out


#: Table rows: label, Row field, format.
_METRICS = (
    ("questions", "n", "d"),
    ("hit@1", "hit_at_1", ".2f"),
    (f"hit@{metrics.SUMMARY_K}", "hit_at_k", ".2f"),
    ("MRR", "mrr", ".2f"),
    ("facts in passages", "fact_recall_passages", ".2f"),
    ("facts in answer", "fact_recall_answer", ".2f"),
    (f"facts, {metrics.EQUAL_LENGTH_WORDS} words", "fact_recall_first_words", ".2f"),
    ("cite precision", "citation_precision", ".2f"),
    ("cite recall", "citation_recall", ".2f"),
    ("unans. refused", "unanswerable_refused", ".2f"),
    ("ans. refused (n)", "answerable_refused", "d"),
    ("words (median)", "median_words", ".0f"),
    ("p50 ms", "latency_p50_ms", ".0f"),
    ("p95 ms", "latency_p95_ms", ".0f"),
    ("verified", "verified", ".2f"),
)


def _cell(value: float | int | None, fmt: str, signed: bool = False) -> str:
    if value is None:
        return "–"
    return format(value, ("+" if signed else "") + fmt)


def summary_table(gold_path: str, mode: str, summaries: dict[str, metrics.Summary], seconds: float) -> Any:
    """Two rich tables, one metric per row (so they fit 80 columns): overall, then by language.

    Overall has a column per run (ours, plain) and ours minus plain; by language a column per
    language and run.
    """
    from rich import box
    from rich.console import Group
    from rich.table import Table

    overall = summaries[OURS].rows["all"]
    first = Table(title=f"citeqa eval {gold_path}", box=box.SIMPLE_HEAD)
    first.add_column("all languages", no_wrap=True)
    for name in summaries:
        first.add_column(name, justify="right")
    diff = metrics.difference(overall, summaries[BASELINE].rows["all"]) if BASELINE in summaries else None
    if diff is not None:
        first.add_column(DIFFERENCE, justify="right")
    for label, field, fmt in _METRICS:
        cells = [_cell(getattr(s.rows["all"], field), fmt) for s in summaries.values()]
        if diff is not None:
            cells.append(_cell(diff[field], fmt, signed=True) if field in diff else "")
        first.add_row(label, *cells)

    languages = [lang for lang in summaries[OURS].rows if lang != "all"]
    caption = (
        f"{overall.n} questions ({overall.unanswerable} unanswerable), mode {mode}, {seconds:.0f} s; "
        f"averages as defined in qa/evaluate/metrics.py"
    )
    second = Table(box=box.SIMPLE_HEAD, caption=caption)
    second.add_column("by language", no_wrap=True)
    columns = [(lang, name) for lang in languages for name in summaries if lang in summaries[name].rows]
    for lang, name in columns:
        second.add_column(f"{lang}\n{name}" if len(summaries) > 1 else lang, justify="right")
    for label, field, fmt in _METRICS:
        rows = [summaries[name].rows[lang] for lang, name in columns]
        second.add_row(label, *(_cell(getattr(row, field), fmt) for row in rows))
    return Group(first, second)
