"""Evaluation metrics: plain deterministic functions over gold facts, sources and answers.

Conventions used throughout:

- Sources are document file names (`000_d6b9d14a00a44e16.txt`); rankings are lists of *unique* file
  names in rank order (the first passage of each document decides its rank).
- Text comparison goes through `normalize` on both sides (NFKC, casefold, whitespace folding) and is a
  substring match, as `gold/README.md` specifies.
- A metric whose denominator is empty for a group of questions is `None` ("not measured"), never 0.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

#: Cut-off of `hit@k` in the summary.
SUMMARY_K = 5
#: Facts are also counted within this many first words of an answer: facts at equal length, since a
#: longer answer holds more facts.
EQUAL_LENGTH_WORDS = 60
#: Languages that get their own summary row, in this order; others follow alphabetically.
LANGUAGE_ORDER = ("en", "nl", "de")

#: Answer modes of a generative run: verified generated text, and the extractive answer shown instead.
GENERATED_MODES = ("generative", "extractive-fallback")

_MARKER = re.compile(r"\[\d+\]")
_WORDLIKE = re.compile(r"\w")


def normalize(text: str) -> str:
    """Text for matching: Unicode NFKC, casefolded, runs of whitespace folded to one space, stripped.

    Casefolding (not lowercasing) makes German "ß" match "ss", so an alias written either way matches.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def fact_present(aliases: Iterable[str], text: str) -> bool:
    """Whether any alias of one fact occurs in `text` (normalised substring match)."""
    haystack = normalize(text)
    return any(normalize(alias) in haystack for alias in aliases if normalize(alias))


def fact_recall(facts: Sequence[Sequence[str]], text: str) -> float:
    """The share of `facts` (each a list of aliases) present in `text`.

    Raises:
        ValueError: `facts` is empty; recall is only defined for questions with facts.
    """
    if not facts:
        raise ValueError("fact recall needs at least one fact")
    return sum(fact_present(aliases, text) for aliases in facts) / len(facts)


def unique_in_order(items: Iterable[str]) -> list[str]:
    """`items` without repeats, keeping the first occurrence of each."""
    return list(dict.fromkeys(items))


def hit_at_k(gold_sources: Collection[str], ranked_sources: Sequence[str], k: int) -> float:
    """1.0 when one of the first `k` ranked sources is a gold source, else 0.0.

    Raises:
        ValueError: `k` < 1 or no gold sources (an unanswerable question has nothing to hit).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if not gold_sources:
        raise ValueError("hit@k needs at least one gold source")
    return 1.0 if any(s in gold_sources for s in ranked_sources[:k]) else 0.0


def reciprocal_rank(gold_sources: Collection[str], ranked_sources: Sequence[str]) -> float:
    """1 / (1-based rank of the first gold source in `ranked_sources`), 0.0 when none is ranked.

    Raises:
        ValueError: no gold sources.
    """
    if not gold_sources:
        raise ValueError("reciprocal rank needs at least one gold source")
    for rank, source in enumerate(ranked_sources, start=1):
        if source in gold_sources:
            return 1.0 / rank
    return 0.0


def citation_precision(cited: Iterable[str], gold: Collection[str]) -> float:
    """The share of distinct cited documents that are gold sources.

    A document cited by several markers counts once: the metric judges which documents were cited.

    Raises:
        ValueError: nothing cited (precision is undefined; the summary leaves such answers out).
    """
    docs = set(cited)
    if not docs:
        raise ValueError("citation precision needs at least one cited document")
    return len(docs & set(gold)) / len(docs)


def citation_recall(cited: Iterable[str], gold: Collection[str]) -> float:
    """The share of distinct gold sources that were cited.

    Raises:
        ValueError: no gold sources.
    """
    wanted = set(gold)
    if not wanted:
        raise ValueError("citation recall needs at least one gold source")
    return len(set(cited) & wanted) / len(wanted)


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0 to 100) with linear interpolation between closest ranks.

    This is numpy's default ("linear", Hyndman & Fan type 7): sort the values, take the fractional
    rank `(n - 1) * p / 100` and interpolate between its two neighbours. The 50th percentile is the median.

    Raises:
        ValueError: no values, or `p` outside 0 to 100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def word_count(text: str) -> int:
    """Words in an answer: whitespace-separated tokens with a letter or digit; markers like [1] left out."""
    return sum(1 for token in _MARKER.sub(" ", text).split() if _WORDLIKE.search(token))


def first_words(text: str, n: int) -> str:
    """The beginning of `text` up to its `n`-th word as `word_count` counts words (markers dropped)."""
    kept: list[str] = []
    words = 0
    for token in _MARKER.sub(" ", text).split():
        if words == n:
            break
        kept.append(token)
        words += 1 if _WORDLIKE.search(token) else 0
    return " ".join(kept)


class Scored(Protocol):
    """What `summarize` reads from one evaluated question (`qa.evaluate.run.Record` provides it)."""

    @property
    def lang(self) -> str: ...
    @property
    def answerable(self) -> bool: ...
    @property
    def refused(self) -> bool: ...
    @property
    def sources(self) -> Sequence[str]: ...  # gold sources
    @property
    def cited_sources(self) -> Sequence[str]: ...
    @property
    def retrieved_sources(self) -> Sequence[str]: ...
    @property
    def facts(self) -> Sequence[str]: ...  # one label per gold fact
    @property
    def facts_found(self) -> Sequence[str]: ...  # labels of the facts found in the answer
    @property
    def facts_in_first_words(self) -> Sequence[str]: ...  # found within the answer's first words
    @property
    def facts_in_passages(self) -> Sequence[str]: ...  # labels of the facts found in the passages
    @property
    def answer_words(self) -> int: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def mode(self) -> str: ...  # the answer's: extractive, generative or extractive-fallback


@dataclass(frozen=True)
class Row:
    """The scores of one group of questions (all of them, or one language).

    How each value is averaged (a mean of per-question values unless stated; None when the group has
    no question to average over):

    - `hit_at_1`, `hit_at_k`, `mrr`: over answerable questions, on `retrieved_sources`.
    - `fact_recall_passages`: over answerable questions, facts found in the text of all retrieved passages.
    - `fact_recall_answer`: over answerable questions; a refused answer finds no facts.
    - `fact_recall_first_words`: the same within the answer's first `EQUAL_LENGTH_WORDS` words.
    - `citation_precision`: over answerable questions answered (not refused) with at least one citation.
    - `citation_recall`: over answerable questions; refused or uncited answers score 0.
    - `unanswerable_refused`: the share of unanswerable questions that were refused.
    - `answerable_refused`: the number (not share) of answerable questions that were refused.
    - `median_words`: median `word_count` of all answers that are not refusals.
    - `latency_p50_ms`, `latency_p95_ms`: `percentile` of every question's latency.
    - `verified`: over answers of the generative mode that are not refusals, the share whose generated
      text passed verification (mode "generative" rather than "extractive-fallback"); None for an
      extractive run.
    """

    n: int
    answerable: int
    unanswerable: int
    hit_at_1: float | None
    hit_at_k: float | None
    mrr: float | None
    fact_recall_passages: float | None
    fact_recall_answer: float | None
    fact_recall_first_words: float | None
    citation_precision: float | None
    citation_recall: float | None
    unanswerable_refused: float | None
    answerable_refused: int
    median_words: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    verified: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: round_value(key, value) for key, value in asdict(self).items()}


#: Row fields that are counts of questions rather than scores; a difference leaves them out.
COUNT_FIELDS = ("n", "answerable", "unanswerable")


@dataclass(frozen=True)
class Summary:
    """Scores overall (`rows["all"]`) and per question language, with `hit@k` taken at `k`."""

    k: int
    rows: dict[str, Row]

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "rows": {name: row.to_dict() for name, row in self.rows.items()}}


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def round_value(key: str, value: Any) -> Any:
    """A float for JSON: milliseconds and word counts to 0.1, shares to 4 decimals; others unchanged."""
    if isinstance(value, float):
        return round(value, 1 if key.endswith("_ms") or key == "median_words" else 4)
    return value


def score_row(records: Sequence[Scored], k: int = SUMMARY_K) -> Row:
    """One `Row` for `records`; see `Row` for how each value is averaged."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if not r.refused and r.cited_sources]
    words = [float(r.answer_words) for r in records if not r.refused]
    latencies = [r.latency_ms for r in records]
    generated = [r for r in records if r.mode in GENERATED_MODES and not r.refused]
    return Row(
        n=len(records),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        hit_at_1=_mean([hit_at_k(r.sources, r.retrieved_sources, 1) for r in answerable]),
        hit_at_k=_mean([hit_at_k(r.sources, r.retrieved_sources, k) for r in answerable]),
        mrr=_mean([reciprocal_rank(r.sources, r.retrieved_sources) for r in answerable]),
        fact_recall_passages=_mean([len(r.facts_in_passages) / len(r.facts) for r in answerable]),
        fact_recall_answer=_mean(
            [0.0 if r.refused else len(r.facts_found) / len(r.facts) for r in answerable]
        ),
        fact_recall_first_words=_mean(
            [0.0 if r.refused else len(r.facts_in_first_words) / len(r.facts) for r in answerable]
        ),
        citation_precision=_mean([citation_precision(r.cited_sources, r.sources) for r in answered]),
        citation_recall=_mean(
            [0.0 if r.refused else citation_recall(r.cited_sources, r.sources) for r in answerable]
        ),
        unanswerable_refused=_mean([1.0 if r.refused else 0.0 for r in unanswerable]),
        answerable_refused=sum(1 for r in answerable if r.refused),
        median_words=percentile(words, 50) if words else None,
        latency_p50_ms=percentile(latencies, 50) if latencies else None,
        latency_p95_ms=percentile(latencies, 95) if latencies else None,
        verified=_mean([1.0 if r.mode == GENERATED_MODES[0] else 0.0 for r in generated]),
    )


def summarize(records: Sequence[Scored], k: int = SUMMARY_K) -> Summary:
    """Rows for all records and for each question language present (en, nl, de first, then others)."""
    present = {r.lang for r in records}
    languages = [lang for lang in LANGUAGE_ORDER if lang in present] + sorted(present - set(LANGUAGE_ORDER))
    rows = {"all": score_row(records, k)}
    for lang in languages:
        rows[lang] = score_row([r for r in records if r.lang == lang], k)
    return Summary(k=k, rows=rows)


def difference(ours: Row, other: Row) -> dict[str, float | int | None]:
    """`ours - other` for every score of a row (counts of questions left out); None where either is None."""
    out: dict[str, float | int | None] = {}
    for key, mine in asdict(ours).items():
        if key in COUNT_FIELDS:
            continue
        theirs = getattr(other, key)
        out[key] = None if mine is None or theirs is None else mine - theirs
    return out
