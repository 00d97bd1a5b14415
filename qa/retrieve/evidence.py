"""Sentence-level evidence: how well each indexed sentence answers a question.

A sentence's own similarity to the question is its base score. Interrogative sentences are never
evidence: in an interview the interviewer's question resembles the user's question most, yet answers
nothing. Instead it lends its similarity to the paragraph that answers it ("What did Ukraine offer in
return?" → "Ukraine had agreed to renounce NATO membership ..."), which on its own may not name what
the user asked about. The same scores rank chunks for retrieval ("small to big") and pick the quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from qa.settings import ComposeSettings
from vectorstore.features import FOLLOW_UP_SENTENCES, MIN_WORDS, is_prose, is_question
from vectorstore.store import IndexData

__all__ = [
    "FOLLOW_UP_SENTENCES",
    "MIN_WORDS",
    "Evidence",
    "LanguageMeans",
    "Scores",
    "is_prose",
    "is_question",
]


@dataclass(frozen=True)
class Scores:
    """The evidence of one question: each sentence's score against the whole question (`support`)
    and against its blend with the question's focus (`sentences`, which rank and pick the quotes), and
    how well its best quotable sentence matches the whole question on its own, before any borrowing or
    centring (`best_own`, which decides refusal)."""

    support: np.ndarray  # -inf where a sentence may not be quoted
    sentences: np.ndarray
    best_own: float


@dataclass(frozen=True)
class LanguageMeans:
    """The collection's mean sentence vector per document language (in `Evidence.language_codes` order)
    and over all sentences, with the query vectors (columns) they are compared with."""

    vectors: np.ndarray  # (languages, d)
    overall: np.ndarray  # (d,)
    queries: np.ndarray  # (d, q)


@dataclass(frozen=True)
class Evidence:
    """Per-sentence arrays derived once from an index."""

    usable: np.ndarray  # bool per sentence: may be quoted as evidence
    sentence_chunk: np.ndarray  # int per sentence: row of the first chunk that contains it
    answer_rows: np.ndarray  # sentences that answer a preceding question...
    asked_rows: np.ndarray  # ...the question they answer...
    before_asked: np.ndarray  # ...the sentences just before that question (a follow-up refers to them)...
    positions: np.ndarray  # ...and how far into the answer paragraph they stand (0, 1, ...)
    languages: tuple[np.ndarray, ...] = ()  # masks of the sentences in each document language
    previous: np.ndarray | None = None  # row of the sentence before, in the same document (or itself)
    language_codes: tuple[str, ...] = ()  # the languages of `languages`, in order
    language_of: np.ndarray | None = None  # int per sentence: its index into `language_codes`

    @classmethod
    def from_index(cls, data: IndexData) -> Evidence:
        """The index's evidence arrays, from its stored sentence features (computed if it has none)."""
        feats = data.sentence_features()
        codes, language_of = data.sentence_languages()
        return cls(
            feats.usable,
            feats.sentence_chunk,
            feats.answer_rows,
            feats.asked_rows,
            feats.before_asked(),
            feats.positions,
            tuple(language_of == i for i in range(len(codes))),
            feats.previous,
            codes,
            language_of,
        )

    @cached_property
    def answer_index(self) -> dict[int, int]:
        """Row of an interview answer → its index in `answer_rows`."""
        return {int(row): i for i, row in enumerate(self.answer_rows)}

    @cached_property
    def answers_lent_by(self) -> dict[int, list[int]]:
        """Row of a question, or of a sentence just before one → the answer rows it lends its topic to."""
        lent: dict[int, list[int]] = {}
        for i, row in enumerate(self.answer_rows):
            for lender in {int(self.asked_rows[i]), *map(int, self.before_asked[i])}:
                lent.setdefault(lender, []).append(int(row))
        return lent

    def score(
        self,
        query_vector: np.ndarray,
        sentence_vectors: np.ndarray,
        settings: ComposeSettings,
        focus_vector: np.ndarray | None = None,
        means: LanguageMeans | None = None,
    ) -> Scores:
        """Every sentence's evidence for the question, and for its blend with the question's focus
        (the question without the names that only say where to look, see `qa.retrieve.focus`), from one scan
        of the sentence vectors.

        An interview answer inherits its topic: "What did Ukraine offer in return?" follows the talk
        of Istanbul, so its answer is about Istanbul though it never names it. For the blend its topic
        is the best whole-question similarity of itself, the question it answers and the sentences
        before that question; what it says is still judged by its own similarity to the focus.
        Without a focus (or with no weight on it) the blend is the support. `means` are the whole
        collection's mean sentence vectors when `sentence_vectors` are only some of its sentences (see
        `qa.retrieve.window`).
        """
        queries = query_vector[:, None] if focus_vector is None else np.stack([query_vector, focus_vector], 1)
        raw = sentence_vectors @ queries
        best_own = float(raw[self.usable, 0].max()) if self.usable.any() else float("-inf")
        both = self._centred(raw, settings, means)
        whole = both[:, 0]
        support = self._from_similarity(whole, settings)
        w = settings.focus_weight
        if focus_vector is None or w == 0:
            return Scores(support, support, best_own)
        focus = both[:, 1]
        scores = self._from_similarity((1 - w) * whole + w * focus, settings)
        if settings.context_weight > 0 and self.answer_rows.size:
            rows = self.answer_rows
            before = whole[self.before_asked].max(axis=1)
            topic = np.maximum.reduce([whole[rows], whole[self.asked_rows], before])
            inherited = (1 - w) * topic + w * focus[rows] - settings.context_decay * self.positions
            scores[rows] = np.where(self.usable[rows], np.maximum(scores[rows], inherited), -np.inf)
        return Scores(support, scores, best_own)

    def _centred(
        self, similarity: np.ndarray, settings: ComposeSettings, means: LanguageMeans | None = None
    ) -> np.ndarray:
        """Similarities (one column per query) less a share of their language's excess over the
        collection's mean.

        A question scores higher on text in its own language whatever the text says: a Dutch question
        ranked the Dutch interview above the German report that answers it. The mean similarity of
        the question to all sentences of a language estimates that bonus; `language_centring` of it is
        taken off. A collection in one language is left as it is. The mean of the similarities is the
        similarity to the mean vector, so with `means` the sentences scored need not be all of them.
        """
        share = settings.language_centring
        if share == 0 or len(self.languages) < 2 or similarity.size == 0:
            return similarity
        out = similarity.astype(np.float32, copy=True)
        if means is not None:
            overall = means.overall @ means.queries
            for mask, mean in zip(self.languages, means.vectors, strict=True):
                out[mask] -= share * (mean @ means.queries - overall)
            return out
        overall = similarity.mean(axis=0)
        for mask in self.languages:
            out[mask] -= share * (similarity[mask].mean(axis=0) - overall)
        return out

    def _from_similarity(self, own: np.ndarray, settings: ComposeSettings) -> np.ndarray:
        scores = own.astype(np.float32, copy=True)
        c = settings.neighbour_weight
        if c > 0 and self.previous is not None and own.size:
            scores = np.maximum(scores, (1 - c) * own + c * own[self.previous])
        if self.answer_rows.size:
            w = settings.context_weight
            asked = np.maximum(own[self.asked_rows], own[self.before_asked].max(axis=1))
            lent = w * asked + (1 - w) * own[self.answer_rows] - settings.context_decay * self.positions
            scores[self.answer_rows] = np.maximum(scores[self.answer_rows], lent)
        scores[~self.usable] = -np.inf
        return scores
