"""Answer quality on every development collection, citeqa beside the plain LangChain pipeline, in one run.

    .venv/bin/python benchmarks/quality.py                # the per-collection, per-language table
    .venv/bin/python benchmarks/quality.py --ablation     # and each ranking/selection rule off in turn
    .venv/bin/python benchmarks/quality.py --markdown     # the same as Markdown, for the README

Each collection (documents folder, gold set) is indexed once into its own cached index under
`<cache>/quality/` (an unchanged collection is only checked), its gold questions are embedded once, and
every configuration answers from those vectors. `gold/holdout.jsonl` is reported for the seeds but is
never used to choose anything. `--collection NAME DOCS GOLD` (repeatable) replaces the default set.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from question_vectors import QuestionVectors  # benchmarks/, on the path when run as a script

from qa.engine import Engine, get_engine
from qa.evaluate.baseline import BaselinePipeline
from qa.evaluate.followups import text_table
from qa.evaluate.gold import GoldQuestion, load_gold
from qa.evaluate.metrics import EQUAL_LENGTH_WORDS, Row, summarize
from qa.evaluate.run import Record, score
from qa.pipeline import answer, answer_from_vector, embed_question
from qa.settings import Settings
from vectorstore.errors import IndexMismatch
from vectorstore.indexer import build
from vectorstore.models.embedding import SentenceTransformerEmbedder
from vectorstore.types import content_hash

ROOT = Path(__file__).resolve().parent.parent
XQUAD = ROOT / "gold" / "xquad-dev"
SQUAD2 = ROOT / "gold" / "squad2-dev"
#: name, documents, gold set, tuned on (False: only reported), family (collections of one family share
#: their articles, so one's questions are not off-topic for another)
DEFAULT_COLLECTIONS = (
    ("seeds", ROOT / "seeds", ROOT / "gold" / "seeds.jsonl", True, "seeds"),
    ("xquad-de", XQUAD / "de" / "docs", XQUAD / "de" / "gold.jsonl", True, "xquad"),
    ("xquad-en", XQUAD / "en" / "docs", XQUAD / "en" / "gold.jsonl", True, "xquad"),
    ("squad2-dev", SQUAD2 / "docs", SQUAD2 / "gold.jsonl", True, "squad2"),
    ("holdout", ROOT / "seeds", ROOT / "gold" / "holdout.jsonl", False, "seeds"),
)
FOLLOWUPS = ROOT / "gold" / "followups"
#: Conversations (gold lines with a history): name, documents, gold set.
FOLLOWUP_COLLECTIONS = (
    ("seeds", ROOT / "seeds", FOLLOWUPS / "seeds.jsonl"),
    ("xquad-de", XQUAD / "de" / "docs", FOLLOWUPS / "xquad-de.jsonl"),
    ("xquad-en", XQUAD / "en" / "docs", FOLLOWUPS / "xquad-en.jsonl"),
)

#: Each rule off in turn: a label and the settings it changes (nested sections as dicts).
ABLATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("focus", {"compose": {"focus_weight": 0.0}}),
    ("interview inheritance", {"compose": {"context_weight": 0.0}}),
    ("language centring", {"compose": {"language_centring": 0.0}}),
    ("sentence before (neighbour credit)", {"compose": {"neighbour_weight": 0.0}}),
    ("unknown names and numbers", {"compose": {"unknown_name_penalty": 0.0, "unknown_number_penalty": 0.0}}),
    ("answer types", {"compose": {"answer_types": False}}),
    ("selection window (one sentence)", {"compose": {"max_sentences": 1}}),
    ("bare sentences (200 characters of context embedded)", {"chunking": {"sentence_context_chars": 200}}),
)


@dataclass(frozen=True)
class Collection:
    name: str
    docs: Path
    gold: Path
    tuned: bool
    family: str = ""


@dataclass
class Prepared:
    """A collection's index, engine, gold questions and their embeddings (question and focus)."""

    collection: Collection
    settings: Settings
    engine: Engine
    gold: list[GoldQuestion]
    vectors: list[Any]


def with_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """`settings` with nested sections updated, validated as a whole."""
    data = settings.model_dump()
    for section, values in overrides.items():
        data[section] = {**data[section], **values} if isinstance(values, dict) else values
    return Settings(**data)


def index_for(collection: Collection, settings: Settings) -> Settings:
    """Settings answering from `collection`'s cached index, built or brought up to date now."""
    context = settings.chunking.sentence_context_chars
    suffix = "" if context == Settings().chunking.sentence_context_chars else f"-context{context}"
    if settings.chunking.chunk_vectors != Settings().chunking.chunk_vectors:
        suffix += f"-{settings.chunking.chunk_vectors}"
    where = content_hash(str(collection.docs.resolve()), length=8)
    index_dir = settings.cache_dir / "quality" / f"{collection.docs.name}-{where}{suffix}"
    settings = with_overrides(settings, {"index_dir": str(index_dir)})
    embedder = SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)

    def index(rebuild: bool) -> None:
        build([collection.docs], index_dir, embedder=embedder, chunking=settings.chunking,
              store_settings=settings.store, rebuild=rebuild)  # fmt: skip

    try:
        index(rebuild=False)
    except IndexMismatch:  # built by an earlier version of citeqa: the cache is only a cache
        index(rebuild=True)
    return settings


_VECTORS_DIR: list[Path] = []  # where question vectors are kept between runs, when given (`--vectors-cache`)
_VECTORS: list[QuestionVectors] = []


def question_vectors(engine: Engine, texts: Sequence[str]) -> list[Any]:
    """The question and focus vectors of `texts` on `engine`'s collection, from the run's cache if any."""
    if not _VECTORS_DIR:
        return [embed_question(t, engine) for t in texts]
    if not _VECTORS:
        _VECTORS.append(QuestionVectors(engine.embedder, _VECTORS_DIR[0]))
    return [_VECTORS[0].question(t, engine) for t in texts]


def prepare(collection: Collection, settings: Settings) -> Prepared:
    settings = index_for(collection, settings)
    engine = get_engine(settings)
    gold = load_gold(collection.gold)
    return Prepared(collection, settings, engine, gold, question_vectors(engine, [g.question for g in gold]))


def off_topic(target: Prepared, others: Sequence[Prepared]) -> Prepared:
    """`target`'s collection asked every question of the other families' collections (each text once),
    all of which it must refuse: a collection about other things does not answer them."""
    seen, gold = set(), []
    for other in others:
        if other.collection.family == target.collection.family or not other.collection.tuned:
            continue
        for g in other.gold:
            if g.question not in seen:
                seen.add(g.question)
                gold.append(
                    replace(g, id=f"{other.collection.name}:{g.id}", answerable=False, sources=(), facts=())
                )
    vectors = question_vectors(target.engine, [g.question for g in gold])
    return Prepared(target.collection, target.settings, target.engine, gold, vectors)


def records(prepared: Prepared, settings: Settings | None = None) -> list[Record]:
    """citeqa's scored answers for the collection under `settings` (default: the collection's own)."""
    settings = settings or prepared.settings
    out = []
    for g, (vector, focus) in zip(prepared.gold, prepared.vectors, strict=True):
        started = time.perf_counter()
        result = answer_from_vector(g.question, vector, prepared.engine, settings, focus_vector=focus)
        out.append(score(g, result, (time.perf_counter() - started) * 1000))
    return out


_PLAIN: dict[Path, BaselinePipeline] = {}


def baseline_records(prepared: Prepared) -> list[Record]:
    docs = prepared.collection.docs.resolve()
    if docs not in _PLAIN:  # the seeds' two gold sets share one plain index
        _PLAIN[docs] = BaselinePipeline(docs, prepared.settings)
    plain = _PLAIN[docs]
    out = []
    for g in prepared.gold:
        started = time.perf_counter()
        result = plain.answer(g.question)
        out.append(score(g, result, (time.perf_counter() - started) * 1000))
    return out


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _pair(ours: float | None, plain: float | None) -> str:
    return f"{_f(ours)} / {_f(plain)}"


def _refused(row: Row, answerable: bool) -> str:
    if answerable:
        return f"{row.answerable_refused} of {row.answerable}"
    if not row.unanswerable or row.unanswerable_refused is None:
        return "–"
    return f"{round(row.unanswerable_refused * row.unanswerable)} of {row.unanswerable}"


QUALITY_COLUMNS = (
    "collection",
    "questions",
    "hit@1",
    "facts in answer",
    f"facts in first {EQUAL_LENGTH_WORDS} words",
    "citation precision",
    "answerable refused",
    "unanswerable refused",
    "median words",
)


def quality_rows(name: str, ours: Sequence[Record], plain: Sequence[Record]) -> list[list[str]]:
    """One row per language (all first): citeqa / plain in each score cell."""
    mine, theirs = summarize(ours).rows, summarize(plain).rows
    out = []
    for lang, row in mine.items():
        other = theirs[lang]
        out.append(
            [
                name if lang == "all" else f"{name} {lang}",
                str(row.n),
                _pair(row.hit_at_1, other.hit_at_1),
                _pair(row.fact_recall_answer, other.fact_recall_answer),
                _pair(row.fact_recall_first_words, other.fact_recall_first_words),
                _pair(row.citation_precision, other.citation_precision),
                _refused(row, True),
                _refused(row, False),
                f"{_f(row.median_words)[:-3]} / {_f(other.median_words)[:-3]}",
            ]
        )
    return out


ABLATION_FIELDS = (
    ("hit@1", "hit_at_1"),
    ("facts", "fact_recall_answer"),
    (f"facts@{EQUAL_LENGTH_WORDS}", "fact_recall_first_words"),
    ("cite prec.", "citation_precision"),
    ("unans. refused", "unanswerable_refused"),
)


def ablation_cell(full: Row, off: Row) -> str:
    """The change when a rule is off: each score off minus on, and answerable refusals."""
    parts = []
    for label, field in ABLATION_FIELDS:
        a, b = getattr(full, field), getattr(off, field)
        if a is not None and b is not None and round(b - a, 2) != 0:
            parts.append(f"{label} {b - a:+.2f}")
    if off.answerable_refused != full.answerable_refused:
        parts.append(f"ans. refused {off.answerable_refused - full.answerable_refused:+d}")
    return ", ".join(parts) or "same"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    return text_table(header, rows, markdown)


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_collections(given: Sequence[Sequence[str]] | None) -> list[Collection]:
    if not given:
        return [Collection(*c) for c in DEFAULT_COLLECTIONS]
    return [Collection(name, Path(docs), Path(gold), True, name) for name, docs, gold in given]


def run_ablation(
    prepared: list[Prepared], base: Settings, full: dict[str, Row], say: Callable[[str], None], markdown: bool
) -> None:
    tuned = [p for p in prepared if p.collection.tuned]
    rows = []
    for label, overrides in ABLATIONS:
        cells = [label]
        for p in tuned:
            if "chunking" in overrides:  # needs its own index
                other = prepare(p.collection, with_overrides(base, overrides))
                row = summarize(records(other)).rows["all"]
            else:
                row = summarize(records(p, with_overrides(p.settings, overrides))).rows["all"]
            cells.append(ablation_cell(full[p.collection.name], row))
        rows.append(cells)
        say(f"  ablation: {label} done")
    print(f"\nEach rule off in turn (the change from the full pipeline), commit {commit()}:\n")
    print(table(["rule off", *(p.collection.name for p in tuned)], rows, markdown))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", nargs=3, action="append", metavar=("NAME", "DOCS", "GOLD"))
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--ablation", action="store_true", help="also turn each rule off in turn")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the plain pipeline")
    parser.add_argument(
        "--no-followups", action="store_true", help="leave out the follow-ups (gold/followups/)"
    )
    parser.add_argument("--no-off-topic", action="store_true", help="leave out the cross-collection rows")
    parser.add_argument(
        "--vectors-cache", type=Path, help="keep question vectors in this folder between runs (default: none)"
    )
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    if args.vectors_cache:
        _VECTORS_DIR.append(args.vectors_cache)
    base = Settings()
    prepared, rows, full = [], [], {}
    for collection in parse_collections(args.collection):
        say(f"{collection.name}: indexing {collection.docs} and embedding {collection.gold.name}")
        p = prepare(collection, base)
        prepared.append(p)
        ours = records(p)
        plain = ours if args.no_baseline else baseline_records(p)
        full[collection.name] = summarize(ours).rows["all"]
        rows += quality_rows(collection.name + ("" if collection.tuned else " (held out)"), ours, plain)
    if not args.no_off_topic:
        for p in prepared:
            if p.collection.tuned:
                say(f"{p.collection.name}: asking the other collections' questions")
                asked = off_topic(p, prepared)
                mine = records(asked)  # the plain pipeline refuses nothing: its cells are citeqa's
                rows += quality_rows(f"off-topic to {p.collection.name}", mine, mine)
    if _VECTORS:
        _VECTORS[0].save()
    print(f"Answer quality, citeqa / plain LangChain pipeline, commit {commit()}:\n")
    print(table(QUALITY_COLUMNS, rows, args.markdown))
    if args.ablation:
        run_ablation(prepared, base, full, say, args.markdown)
    if not args.no_followups:
        run_followups(base, say, args.markdown)
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


def run_followups(base: Settings, say: Callable[[str], None], markdown: bool) -> None:
    """Each follow-up alone, as its standalone rewrite and in its conversation (qa.evaluate.followups)."""
    from qa.evaluate.followups import FOLLOWUP_COLUMNS, evaluate_followups, followup_rows

    rows = []
    for name, docs, gold_path in FOLLOWUP_COLLECTIONS:
        say(f"follow-ups {name}: replaying {gold_path.name}")
        settings = index_for(Collection(name, docs, gold_path, True), base)
        engine = get_engine(settings)

        def ask(question: str, turns: Sequence[Any], s: Settings = settings, e: Engine = engine) -> Any:
            return answer(question, s, engine=e, history=turns)

        rows += followup_rows(name, evaluate_followups(load_gold(gold_path), ask))
    print(f"\nFollow-ups, each cell alone / standalone / in conversation, commit {commit()}:\n")
    print(table(FOLLOWUP_COLUMNS, rows, markdown))


# Used by benchmarks/run.py to price a Matryoshka dimension on the seeds.
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
    build(
        [docs],
        settings.resolved_index_dir,
        embedder=embedder,
        chunking=settings.chunking,
        store_settings=settings.store,
        rebuild=True,
    )
    return time.perf_counter() - started


def gold_quality(settings: Settings, gold: Path, build_s: float = 0.0) -> Quality:
    engine = get_engine(settings)
    scored = [score(g, answer(g.question, settings, engine=engine), 0.0) for g in load_gold(gold)]
    return Quality(engine.embedder.dimension, summarize(scored).rows["all"], build_s)


if __name__ == "__main__":
    raise SystemExit(main())
