"""Scoring follow-up questions: each asked three ways, in its conversation and beside two bounds.

A gold line with a `history` (see `qa.evaluate.gold`) is a follow-up. It is answered

- **alone**, as if it were the first question (what citeqa did before it read conversations),
- **standalone**: its `standalone` rewrite asked alone, the ceiling a perfect rewrite reaches, and
- **in its conversation**: the history's questions are asked in order, each with the turns before it
  and citeqa's own answers to them (`replay`), then the follow-up.

Only the follow-up's own answer is scored and timed. `followup_rows` gives one table row per language
with the three readings side by side; `citeqa eval` and `benchmarks/quality.py` print it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.conversation import Turn
from qa.evaluate import metrics
from qa.evaluate.gold import GoldQuestion
from qa.evaluate.run import Record, score
from qa.types import Answer

#: Answers a question given the earlier turns of its conversation (none: asked alone).
ConversationFn = Callable[[str, Sequence[Turn]], Answer]

ALONE, STANDALONE, IN_CONVERSATION = "alone", "standalone", "in conversation"
READINGS = (ALONE, STANDALONE, IN_CONVERSATION)


def is_followup_set(gold: Sequence[GoldQuestion]) -> bool:
    """Whether the gold set holds follow-ups (a line with a history), to be scored three ways."""
    return any(g.history for g in gold)


def replay(question: GoldQuestion, answer_fn: ConversationFn) -> Answer:
    """The follow-up's answer after its history was asked in order, each turn with citeqa's own answers."""
    return answer_fn(question.question, history_turns(question, answer_fn))


def _timed(
    answer_fn: ConversationFn, question: str, turns: Sequence[Turn], clock: Callable[[], float]
) -> tuple[Answer, float]:
    started = clock()
    result = answer_fn(question, turns)
    return result, (clock() - started) * 1000


def evaluate_followups(
    gold: Sequence[GoldQuestion],
    answer_fn: ConversationFn,
    progress: Callable[[int], object] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[Record]]:
    """Records of every gold question in each reading (`READINGS`), in gold order.

    A line without a history is one question: its three readings are the question asked alone. A line
    without a `standalone` rewrite uses its question as the rewrite. In conversation only the follow-up
    itself is timed, not the history's replay.
    """
    runs: dict[str, list[Record]] = {reading: [] for reading in READINGS}
    for g in gold:
        for reading in READINGS:
            if reading == IN_CONVERSATION:
                question, turns = g.question, history_turns(g, answer_fn)
            else:
                question, turns = (g.question if reading == ALONE else g.standalone or g.question), ()
            result, ms = _timed(answer_fn, question, turns, clock)
            runs[reading].append(score(g, result, ms))
        if progress is not None:
            progress(1)
    return runs


def history_turns(question: GoldQuestion, answer_fn: ConversationFn) -> tuple[Turn, ...]:
    """The turns of the follow-up's conversation: its history asked in order, with citeqa's answers."""
    turns: list[Turn] = []
    for earlier in question.history:
        turns.append(Turn.of(answer_fn(earlier, tuple(turns))))
    return tuple(turns)


@dataclass(frozen=True)
class FollowupRow:
    """One group of follow-ups (a language, or all) in the three readings."""

    label: str
    rows: dict[str, metrics.Row]  # by reading

    @property
    def gap_closed(self) -> float | None:
        """How much of the gap between alone and standalone the conversation closes (1: all of it)."""
        alone, best = self.rows[ALONE].fact_recall_answer, self.rows[STANDALONE].fact_recall_answer
        ours = self.rows[IN_CONVERSATION].fact_recall_answer
        if alone is None or best is None or ours is None or best <= alone:
            return None
        return (ours - alone) / (best - alone)

    @property
    def of_standalone(self) -> float | None:
        """Facts in conversation as a share of the standalone rewrite's."""
        best = self.rows[STANDALONE].fact_recall_answer
        ours = self.rows[IN_CONVERSATION].fact_recall_answer
        return None if not best or ours is None else ours / best


def followup_summary(runs: dict[str, list[Record]]) -> list[FollowupRow]:
    """All questions first, then one row per question language."""
    summaries = {reading: metrics.summarize(records) for reading, records in runs.items()}
    return [
        FollowupRow(label, {reading: summaries[reading].rows[label] for reading in READINGS})
        for label in summaries[ALONE].rows
    ]


FOLLOWUP_COLUMNS = (
    "follow-ups",
    "n",
    "facts: alone / standalone / in conversation",
    "of standalone",
    "gap closed",
    "ans. refused",
    "unans. refused",
    "median words",
)


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _triple(row: FollowupRow, cell: Callable[[metrics.Row], str]) -> str:
    return " / ".join(cell(row.rows[reading]) for reading in READINGS)


def _unanswerable(row: metrics.Row) -> str:
    if not row.unanswerable or row.unanswerable_refused is None:
        return "–"
    return f"{round(row.unanswerable_refused * row.unanswerable)} of {row.unanswerable}"


def followup_rows(name: str, runs: dict[str, list[Record]]) -> list[list[str]]:
    """Table rows (see `FOLLOWUP_COLUMNS`): each cell gives alone / standalone / in conversation."""
    out = []
    for row in followup_summary(runs):
        n = row.rows[ALONE]
        out.append(
            [
                name if row.label == "all" else f"{name} {row.label}",
                f"{n.n} ({n.unanswerable} unans.)",
                _triple(row, lambda r: _f(r.fact_recall_answer)),
                _f(row.of_standalone),
                _f(row.gap_closed),
                _triple(row, lambda r: f"{r.answerable_refused} of {r.answerable}"),
                _triple(row, _unanswerable),
                _triple(row, lambda r: "–" if r.median_words is None else f"{r.median_words:.0f}"),
            ]
        )
    return out


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    """A plain-text (or Markdown) table, columns padded to their widest cell."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
