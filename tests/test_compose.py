"""The extractive composer and sentence evidence: hand-made candidates and tiny fake-embedded indexes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from qa import prompts
from qa.compose.answer_type import AnswerType, supplies
from qa.compose.extractive import Candidate, candidates, compose, select
from qa.engine import Engine
from qa.pipeline import answer
from qa.retrieve.evidence import Evidence, is_prose, is_question
from qa.settings import ComposeSettings, Settings
from qa.types import Answer, Decision, Passage
from tests.fakes import FakeEmbedder
from vectorstore import store
from vectorstore.indexer import build
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.store import IndexData

# --------------------------------------------------------------------------------------- hand-made candidates


def _passage(source: str, sentences: list[str], language: str = "en", rank: int = 1) -> Passage:
    return Passage(
        rank=rank,
        chunk_id=f"chunk-{source}",
        source=source,
        title=source.upper(),
        date="2022-03-29",
        publisher=None,
        language=language,
        text=" ".join(sentences),
        score=1.0 / rank,
        dense=0.5,
    )


def _candidates(
    passage: Passage, sentences: list[str], scores: list[float], support: list[float] | None = None
) -> list[Candidate]:
    """One candidate per sentence of `passage` (whose text is the sentences joined by spaces); the
    support (similarity to the whole question) is the score unless given."""
    out, start = [], 0
    for text, score, sup in zip(sentences, scores, support or scores, strict=True):
        out.append(Candidate(passage, passage.source, start, start + len(text), text, score, sup))
        start += len(text) + 1
    return out


def _best_first(cands: list[Candidate]) -> list[Candidate]:
    return sorted(cands, key=lambda c: -c.score)


A_SENTENCES = ["Alpha opens the report.", "Alpha adds a detail.", "Alpha closes the report."]
B_SENTENCES = ["Beta starts here today.", "Beta gives the main fact.", "Beta ends with a remark."]
A = _passage("a.txt", A_SENTENCES, rank=2)
B = _passage("b.txt", B_SENTENCES, rank=1)
A0, A1, A2 = _candidates(A, A_SENTENCES, [0.89, 0.60, 0.80])
B0, B1, B2 = _candidates(B, B_SENTENCES, [0.85, 0.90, 0.50])
WIDE = ComposeSettings(max_sentences=10, max_words=500, margin=1.0, other_document_margin=1.0)
#: The question clears the collection's refusal bar.
RELEVANT = Decision("relevance", 0.6, 0.2)


def test_the_best_sentence_opens_the_answer_and_the_others_follow_by_score() -> None:
    # Default budgets: the best is B1 (0.90); A0 (0.89, another document) is within 0.03 of it, B0
    # (0.85, the same document) within 0.08; A2 (0.80) is not, and nothing after it is looked at.
    result = compose(
        "What happened?", "en", _best_first([A0, A1, A2, B0, B1, B2]), ComposeSettings(), RELEVANT
    )
    assert not result.refused and result.decision == RELEVANT
    assert result.text == (
        "Beta gives the main fact. [1] Alpha opens the report. [2] Beta starts here today. [3]"
    )
    assert [(c.n, c.source, c.quote) for c in result.citations] == [
        (1, "b.txt", B1.text),
        (2, "a.txt", A0.text),
        (3, "b.txt", B0.text),
    ]
    for c in result.citations:
        assert c.passage[c.quote_start : c.quote_end] == c.quote
        assert (c.title, c.chunk_id) == (c.source.upper(), f"chunk-{c.source}")


def test_select_takes_at_most_max_sentences_best_first() -> None:
    settings = WIDE.model_copy(update={"max_sentences": 2})
    assert select(_best_first([A0, A1, A2]), settings) == [A0, A2]
    assert select([], settings) == []


def test_select_stops_at_the_first_sentence_below_the_margin() -> None:
    settings = WIDE.model_copy(update={"margin": 0.12})
    # 0.89, 0.85 and 0.80 are within 0.12 of 0.90 (B1); 0.60 is not, and nothing after it is looked at.
    chosen = select(_best_first([A0, A1, A2, B0, B1, B2]), settings)
    assert chosen == [B1, A0, B0, A2]
    # One sentence that stands out is answered alone.
    assert select(_best_first([A0, A1, A2]), WIDE.model_copy(update={"margin": 0.05})) == [A0]


def test_another_document_must_be_within_other_document_margin_but_does_not_stop_the_search() -> None:
    settings = WIDE.model_copy(update={"other_document_margin": 0.02})
    # A0 (0.89) is 0.01 below the best and kept; A2 (0.80) is skipped, yet B0 (0.85) after it is taken.
    chosen = select(_best_first([A0, A2, B0, B1]), settings)
    assert chosen == [B1, A0, B0]
    strict = WIDE.model_copy(update={"other_document_margin": 0.0})
    assert select(_best_first([A0, A2, B0, B1]), strict) == [B1, B0]


def test_the_document_matching_the_whole_question_leads_even_if_another_answers_its_focus_better() -> None:
    # B's sentence answers the focus best (score) but A's matches the whole question (support).
    a = _candidates(A, A_SENTENCES, [0.50, 0.40, 0.30], support=[0.70, 0.45, 0.40])
    b = _candidates(B, B_SENTENCES, [0.60, 0.20, 0.10], support=[0.50, 0.20, 0.10])
    chosen = select(_best_first(a + b), ComposeSettings(margin=0.2, other_document_margin=0.05))
    assert [c.text for c in chosen] == A_SENTENCES  # B is left out: its support is too low


def test_a_question_below_the_collections_bar_is_refused_with_its_decision() -> None:
    weak = Decision("relevance", 0.19, 0.2)
    refused = compose("What did Alpha report?", "en", _best_first([A0, A1]), ComposeSettings(), weak)
    assert refused.refused and refused.citations == () and refused.text == prompts.REFUSAL["en"]
    assert refused.decision == weak
    answered = compose("What did Alpha report?", "en", _best_first([A0, A1]), ComposeSettings(), RELEVANT)
    assert not answered.refused and answered.decision == RELEVANT


def test_select_skips_a_sentence_that_would_break_the_word_budget_and_tries_the_next() -> None:
    long = "Beta explains at great length why the main fact matters so much to everyone involved here."
    short = "Beta ends briefly."
    sentences = ["Beta gives the main fact.", long, short]
    best, wordy, brief = _candidates(_passage("b.txt", sentences), sentences, [0.9, 0.85, 0.8])
    settings = WIDE.model_copy(update={"max_words": 10})
    assert select([best, wordy, brief], settings) == [best, brief]  # 5 + 16 > 10, 5 + 3 <= 10
    assert select([best, wordy, brief], WIDE.model_copy(update={"max_words": 21})) == [best, wordy]


def test_a_when_question_never_quotes_a_sentence_without_a_date() -> None:
    sentences = ["The talks began after long preparation.", "The talks began on 29 March 2022."]
    undated, dated = _candidates(_passage("t.txt", sentences), sentences, [0.9, 0.7])
    result = compose("When did the talks begin?", "en", [undated, dated], ComposeSettings(), RELEVANT)
    assert [c.quote for c in result.citations] == [dated.text]
    assert result.text == "The talks began on 29 March 2022. [1]"
    # Without the dated sentence nothing answers "when", however similar the rest is.
    refused = compose("When did the talks begin?", "en", [undated], ComposeSettings(), RELEVANT)
    assert refused.refused and refused.citations == ()
    assert refused.decision == Decision("answer type (date)", 0.0, 1.0)
    # The same sentence answers a question that asks for no date, or uses "when" as a conjunction.
    assert compose("How did the talks begin?", "en", [undated], ComposeSettings(), RELEVANT).citations
    assert compose("What began when talks began?", "en", [undated], ComposeSettings(), RELEVANT).citations


def test_the_source_language_note_appears_only_when_the_languages_differ() -> None:
    nl = _candidates(
        _passage("nl.txt", ["Oekraïne bood neutraliteit aan."], language="nl"),
        ["Oekraïne bood neutraliteit aan."],
        [0.8],
    )
    de = _candidates(
        _passage("de.txt", ["Die Ukraine bot Neutralität an."], language="de"),
        ["Die Ukraine bot Neutralität an."],
        [0.79],
    )
    settings = ComposeSettings()
    assert compose("What did Ukraine offer?", "en", nl, settings, RELEVANT).note == (
        "The sources are in Dutch; quotes are in the original language."
    )
    assert compose("What did Ukraine offer?", "en", nl + de, settings, RELEVANT).note == (
        "The sources are in Dutch and German; quotes are in the original language."
    )
    assert compose("Wat bood Oekraïne aan?", "nl", nl, settings, RELEVANT).note is None
    assert compose("Was bot die Ukraine an?", "de", nl + de, settings, RELEVANT).note == (
        "Die Quellen sind auf Niederländisch; Zitate stehen in der Originalsprache."
    )


# ------------------------------------------------------------------------------- Evidence on a tiny index


UKRAINE = "Wat bood Oekraïne aan?\n\nOekraïne bood neutraliteit aan.\n"
RUSSIA = (
    "Wat bood Rusland aan?\n\nRusland bood niets aan. Rusland bood steun aan.\n\nRusland bood wapens aan.\n"
)


@pytest.fixture
def interview_data(tmp_path: Path) -> IndexData:
    """Two interview-style documents indexed with the fake embedder; sentences embedded without context,
    so each sentence vector is the bag of its own words."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ukraine.txt").write_text(UKRAINE, encoding="utf-8")
    (docs / "russia.txt").write_text(RUSSIA, encoding="utf-8")
    index = tmp_path / "index"
    build(
        [docs],
        index,
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(sentence_context_chars=0),
        store_settings=StoreSettings(),
    )
    return store.load(index)


def _rows(data: IndexData, doc_id: str) -> dict[str, int]:
    text = data.documents[doc_id].text
    return {text[s.start : s.end]: row for row, s in enumerate(data.sentences) if s.doc_id == doc_id}


def test_an_interview_answer_borrows_from_the_question_before_it(interview_data: IndexData) -> None:
    rows = _rows(interview_data, "ukraine.txt")
    asked, answered = rows["Wat bood Oekraïne aan?"], rows["Oekraïne bood neutraliteit aan."]
    query = FakeEmbedder().embed_queries(["Wat bood Oekraïne aan?"])[0]
    vectors = interview_data.sentence_vectors
    # Bags of words in distinct hash buckets: the question is the query itself (cosine 1); the answer
    # shares three of its four words (wat | bood, oekraïne, aan | neutraliteit): cosine 3/4.
    assert float(vectors[asked] @ query) == pytest.approx(1.0)
    assert float(vectors[answered] @ query) == pytest.approx(0.75)
    scores = Evidence.from_index(interview_data).score(query, vectors, ComposeSettings())
    assert scores.sentences[asked] == -np.inf  # a question is never evidence
    # neighbour_weight 0.5: 0.5 * 0.75 (the answer itself) + 0.5 * 1.0 (the sentence before it).
    assert scores.sentences[answered] == pytest.approx(0.875)
    # Refusal looks at the best quotable sentence on its own: the answer's 0.75, not the question's 1.0.
    assert scores.best_own == pytest.approx(0.75)


def test_a_sentence_borrows_from_the_sentence_just_before_and_never_loses(
    interview_data: IndexData,
) -> None:
    rows = _rows(interview_data, "russia.txt")
    query = FakeEmbedder().embed_queries(["Wat bood Rusland aan?"])[0]
    vectors = interview_data.sentence_vectors
    first, second, later = (rows[f"Rusland bood {what} aan."] for what in ("niets", "steun", "wapens"))
    for row in (first, second, later):
        assert float(vectors[row] @ query) == pytest.approx(0.75)
    evidence = Evidence.from_index(interview_data)
    neighbour_only = ComposeSettings(context_weight=0.0)
    scores = evidence.score(query, vectors, neighbour_only).sentences
    assert scores[first] == pytest.approx(0.5 * 0.75 + 0.5 * 1.0)  # after the question
    assert scores[second] == pytest.approx(0.75)  # after a sentence that matches no better than itself
    assert scores[later] == pytest.approx(0.75)
    # An interview answer also borrows from its question further in, less each sentence (context_weight).
    lent = evidence.score(query, vectors, ComposeSettings()).sentences
    assert lent[second] == pytest.approx(0.5 * 1.0 + 0.5 * 0.75 - 0.02 * 1)
    assert lent[later] == pytest.approx(0.75)  # a new paragraph after a statement: nothing to borrow
    plain = evidence.score(
        query, vectors, neighbour_only.model_copy(update={"neighbour_weight": 0.0})
    ).sentences
    assert [plain[r] for r in (first, second, later)] == pytest.approx([0.75, 0.75, 0.75])
    # The first sentence of a document has nothing to borrow from.
    ukraine = _rows(interview_data, "ukraine.txt")["Wat bood Oekraïne aan?"]
    assert evidence.previous[ukraine] == ukraine


def test_language_centring_takes_off_half_of_each_languages_excess_similarity(
    interview_data: IndexData,
) -> None:
    query = FakeEmbedder().embed_queries(["Wat bood Rusland aan?"])[0]
    vectors = interview_data.sentence_vectors
    evidence = Evidence.from_index(interview_data)
    assert len(evidence.languages) == 1  # both documents are Dutch: nothing to correct
    settings = ComposeSettings(neighbour_weight=0.0)
    plain = evidence.score(query, vectors, settings.model_copy(update={"language_centring": 0.0}))
    np.testing.assert_allclose(evidence.score(query, vectors, settings).sentences, plain.sentences)
    # Pretend the Russian document is German: its sentences resemble this question more on average,
    # so they lose half of that excess over the collection's mean, the Ukrainian ones gain half theirs.
    german = np.array([s.doc_id == "russia.txt" for s in interview_data.sentences])
    two = dataclasses.replace(evidence, languages=(~german, german))
    centred = two.score(query, vectors, settings.model_copy(update={"language_centring": 0.5}))
    similarity = vectors @ query
    for mask in (german, ~german):
        excess = similarity[mask].mean() - similarity.mean()
        usable = mask & np.isfinite(plain.sentences)
        np.testing.assert_allclose(
            centred.sentences[usable], plain.sentences[usable] - 0.5 * excess, atol=1e-6
        )
    assert similarity[german].mean() > similarity[~german].mean()
    assert centred.best_own == plain.best_own  # refusal is decided before any centring


def test_focused_scores_are_the_plain_scores_and_their_focus_blend(interview_data: IndexData) -> None:
    embedder = FakeEmbedder()
    query, focus = embedder.embed_queries(["Wat bood Rusland aan?", "Wat bood aan?"])
    vectors = interview_data.sentence_vectors
    evidence = Evidence.from_index(interview_data)
    settings = ComposeSettings(focus_weight=0.3, neighbour_weight=0.0)
    scored = evidence.score(query, vectors, settings, focus)
    support, blended = scored.support, scored.sentences
    np.testing.assert_allclose(support, evidence.score(query, vectors, settings).sentences)
    usable = np.isfinite(support)
    assert (usable == np.isfinite(blended)).all()
    # A sentence that answers no question (and borrows nothing) is the plain 0.7/0.3 blend.
    row = _rows(interview_data, "russia.txt")["Rusland bood wapens aan."]
    expected = 0.7 * float(vectors[row] @ query) + 0.3 * float(vectors[row] @ focus)
    assert blended[row] == pytest.approx(expected)
    same = evidence.score(query, vectors, ComposeSettings(focus_weight=0.0), focus).sentences
    np.testing.assert_allclose(same, support)


def test_with_a_focus_an_interview_answer_inherits_the_topic_of_its_question(
    interview_data: IndexData,
) -> None:
    embedder = FakeEmbedder()
    query, focus = embedder.embed_queries(["Wat bood Rusland aan?", "Wat bood aan?"])
    vectors = interview_data.sentence_vectors
    evidence = Evidence.from_index(interview_data)
    rows = _rows(interview_data, "russia.txt")
    asked = rows["Wat bood Rusland aan?"]
    first, second = rows["Rusland bood niets aan."], rows["Rusland bood steun aan."]
    blended = evidence.score(query, vectors, ComposeSettings(focus_weight=0.3), focus).sentences
    # Topic: the question it answers matches the whole question best (cosine 1); what the answer says
    # is its own similarity to the focus; and credit still decays into the answer.
    assert float(vectors[asked] @ query) == pytest.approx(1.0)
    assert blended[first] == pytest.approx(0.7 * 1.0 + 0.3 * float(vectors[first] @ focus))
    assert blended[second] == pytest.approx(0.7 * 1.0 + 0.3 * float(vectors[second] @ focus) - 0.02)
    # That is more than the plain blend lends it, which halves the question's part.
    blend = 0.7 * (vectors @ query) + 0.3 * (vectors @ focus)
    assert blended[first] > 0.5 * blend[asked] + 0.5 * blend[first]


# ------------------------------------------------------------------------------ the pipeline, fake model

INTERVIEW = (
    "Gesprek over Istanbul\n\nWat bood Oekraïne aan in Istanbul?\n\n"
    "Oekraïne bood neutraliteit aan. Rusland zou zijn troepen terugtrekken.\n\n"
    "Wanneer begonnen de gesprekken?\n\nDe gesprekken in Istanbul begonnen op 29 maart 2022.\n"
)
SUMMIT = (
    "Summit notes\n\nThe foreign ministers met in Bucharest on 29 November 2022. "
    "The ministers discussed air defence for Ukraine. Ukraine asked for Patriot systems.\n"
)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "interview.txt").write_text(INTERVIEW, encoding="utf-8")
    (docs / "summit.txt").write_text(SUMMIT, encoding="utf-8")
    build(
        [docs],
        tmp_path / "index",
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(),
        store_settings=StoreSettings(),
    )
    return Engine.load(tmp_path / "index", FakeEmbedder(), ChunkingSettings())


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return Settings(index_dir=engine.index_dir)


def _check_citations(result: Answer, engine: Engine) -> None:
    """Every [n] follows its quote, and the quote is a sentence of the cited chunk's document."""
    assert [int(n) for n in re.findall(r"\[(\d+)\]", result.text)] == [c.n for c in result.citations]
    for c in result.citations:
        assert f"{c.quote} [{c.n}]" in result.text
        chunk = engine.data.chunks[engine.chunk_rows[c.chunk_id]]
        assert chunk.doc_id == c.source and c.quote in chunk.text
        assert c.passage == chunk.text and c.passage[c.quote_start : c.quote_end] == c.quote


def test_an_answer_quotes_the_best_sentence_first_and_the_others_by_score(
    engine: Engine, settings: Settings
) -> None:
    wide = settings.model_copy(update={"compose": settings.compose.model_copy(update={"margin": 1.0})})
    result = answer("What did the ministers discuss in Bucharest?", wide, engine=engine)
    assert {c.quote for c in result.citations} == {
        "The foreign ministers met in Bucharest on 29 November 2022.",
        "The ministers discussed air defence for Ukraine.",
        "Ukraine asked for Patriot systems.",
    }
    _check_citations(result, engine)
    assert {c.source for c in result.citations} == {"summit.txt"}
    scores = [c.score for c in result.citations]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert result.note is None  # an English question, English sources
    # With the default margin only the sentences close to the best are quoted.
    assert len(answer("What did the ministers discuss in Bucharest?", settings, engine=engine).citations) < 3


def test_the_interviewers_question_is_never_quoted_its_answer_is(engine: Engine, settings: Settings) -> None:
    question = "Wat bood Oekraïne aan in Istanbul?"
    result = answer(question, settings, engine=engine)
    assert not result.refused
    assert result.text.startswith("Oekraïne bood neutraliteit aan. [1]")
    _check_citations(result, engine)

    # The interviewer's question, word for word the user's, scores within the margin of the best quote
    # from the same document: only being a question keeps it out of the answer and out of the candidates.
    query = engine.embedder.embed_queries([question])[0]
    row = engine.sentence_rows[("interview.txt", INTERVIEW.index(question))]
    own = float(engine.data.sentence_vectors[row] @ query)
    assert own >= result.citations[0].score - settings.compose.margin
    scores = engine.evidence.score(query, engine.data.sentence_vectors, settings.compose).sentences
    assert scores[row] == -np.inf
    ranked = candidates(scores, list(result.passages), engine.data, engine.chunk_rows, engine.sentence_rows)
    assert ranked and not any(is_question(c.text) for c in ranked)
    assert not any(is_question(c.quote) for c in result.citations)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Who won the 1998 Tour de France?", "en"),
        ("Wie won de Tour de France in 1998?", "nl"),
        ("Wer gewann 1998 die Tour de France?", "de"),
    ],
)
def test_an_off_topic_question_is_refused_in_its_language_with_closest_matches(
    engine: Engine, settings: Settings, question: str, language: str
) -> None:
    result = answer(question, settings, engine=engine)
    assert result.refused and result.language == language
    assert result.text == prompts.REFUSAL[language]
    assert result.citations == () and result.note is None and "[1]" not in result.text
    assert result.passages and result.closest == result.passages[:3]


def test_a_when_question_skips_the_most_similar_undated_sentence(engine: Engine, settings: Settings) -> None:
    question = "Wanneer bood Oekraïne neutraliteit aan?"
    query = engine.embedder.embed_queries([question])[0]
    scores = engine.evidence.score(query, engine.data.sentence_vectors, settings.compose).sentences
    best = engine.data.sentences[int(np.argmax(scores))]
    assert engine.data.documents[best.doc_id].text[best.start : best.end] == "Oekraïne bood neutraliteit aan."
    result = answer(question, settings, engine=engine)
    assert result.text.startswith("De gesprekken in Istanbul begonnen op 29 maart 2022. [1]")
    assert all(supplies(AnswerType.DATE, c.quote) for c in result.citations)


def test_the_note_names_the_sources_language_in_the_questions_language(
    engine: Engine, settings: Settings
) -> None:
    german = answer("Was haben die ministers in Bucharest discussed?", settings, engine=engine)
    assert german.language == "de" and not german.refused
    assert german.note == "Die Quellen sind auf Englisch; Zitate stehen in der Originalsprache."
    dutch = answer("Wat bood Oekraïne aan in Istanbul?", settings, engine=engine)
    assert dutch.language == "nl" and dutch.note is None


@pytest.mark.parametrize(
    ("text", "prose"),
    [
        ("Aus Bukarest Bernd Riegert.", False),
        ("30. November 2022", False),
        ("Bernd Riegert Bukarest", False),
        ("Ukraine bittet um Flugabwehr", True),
        ("NATO-Außenminister am runden Tisch.", True),
    ],
)
def test_bylines_and_datelines_are_not_prose(text: str, prose: bool) -> None:
    assert is_prose(text) is prose
