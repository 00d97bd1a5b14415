"""Reading a follow-up without a chat model: the dependence signals, the names, the retrieval question,
the bounded history and the choice between the two readings (qa.retrieve.followup, qa.conversation)."""

from __future__ import annotations

import pytest

from qa.conversation import HISTORY_TURNS, MAX_TURN_CHARS, Turn, better, bounded
from qa.retrieve.followup import context_terms, dependence, names_in, retrieval_question
from qa.types import Answer, Citation, Decision


@pytest.mark.parametrize(
    ("question", "pronouns", "opener", "own"),
    [
        # Own words leave out stop words, pronouns and question words: "interviewed" is the only one.
        ("Who interviewed him?", ("him",), None, 1),
        ("Who said that?", ("that",), None, 1),
        ("Wer hat das bestätigt?", ("das",), None, 1),  # "das" before a verb: a pronoun
        ("Sinds wanneer bekleedt hij die functie?", ("hij",), None, 3),  # Sinds, bekleedt, functie
        ("En wat bood Oekraïne daartegenover?", ("daartegenover",), "en", 2),
        ("Und Selenskyj?", (), "und", 1),
        ("What about the howitzers?", (), "what about", 1),
        ("Tegen wanneer?", (), None, 0),
    ],
)
def test_a_follow_up_is_told_by_its_pronouns_its_opening_or_its_few_words(
    question: str, pronouns: tuple[str, ...], opener: str | None, own: int
) -> None:
    found = dependence(question)
    assert (found.pronouns, found.opener, found.own_words) == (pronouns, opener, own)
    assert found.depends


@pytest.mark.parametrize(
    "question",
    [
        "Warum hat Merkel laut Kujat über das Minsk-II-Abkommen verhandelt?",  # "das" before a noun
        "Who wrote the Foreign Affairs article that Kujat mentions?",  # a relative "that"
        "Welke status wil de Sloveense minister Fajon dat Bosnië-Herzegovina krijgt?",
        "When did Putin announce the partial mobilisation?",
        "Wie lange soll das russische Militär auf Angriffe verzichten?",  # "das" before an adjective
        "What did Putin say when he announced it?",  # "he" follows the name it stands for
    ],
)
def test_a_question_that_names_its_subject_stands_alone(question: str) -> None:
    found = dependence(question)
    assert not found.depends and found.reasons() == ()


def test_reasons_name_each_signal() -> None:
    assert dependence("Und wer hat es gesagt?").reasons() == ("ellipsis", "short")
    assert dependence("Who interviewed him?").reasons() == ("pronoun", "short")
    assert dependence("Sinds wanneer bekleedt hij die functie?").reasons() == ("pronoun",)


def test_names_are_runs_of_capitalised_words_not_a_sentences_first_word() -> None:
    text = "Het interview met Harald Kujat werd gevoerd door Thomas Kaiser. Daarna sprak hij met Die Welt."
    # "Het" and "Daarna" open a sentence; "Die" is a stop word heading a name.
    assert names_in(text) == ["Harald Kujat", "Thomas Kaiser", "Welt"]


def test_context_terms_are_the_answers_new_names_only() -> None:
    quotes = ["Fiona Hill schreef in Foreign Affairs, zegt Kujat.", "Hill werkte in het Witte Huis."]
    terms = context_terms("What was her previous job?", ["Who wrote the Foreign Affairs article?"], quotes, 5)
    # "Foreign Affairs" is named by the previous question; "Hill" alone opens its sentence.
    assert terms == ["Fiona Hill", "Kujat", "Witte Huis"]
    assert context_terms("Q?", [], quotes, 2) == ["Fiona Hill", "Foreign Affairs"]


def test_the_retrieval_question_is_the_follow_up_then_its_context() -> None:
    text = retrieval_question(
        "Who interviewed him?",
        ["Where did he study?", "What positions did Harald Kujat hold?"],
        ["Het interview met Kujat voerde Thomas Kaiser."],
        limit=2,
    )
    # Latest question first after the follow-up; "Kujat" is already named, so only Thomas Kaiser is added.
    assert text == (
        "Who interviewed him? What positions did Harald Kujat hold? Where did he study? Thomas Kaiser."
    )


def test_the_history_read_is_the_last_turns_each_cut_to_size() -> None:
    turns = [Turn(f"Question {i}?", "x" * (MAX_TURN_CHARS + 10), ("q",) * 20) for i in range(1000)]
    kept = bounded(turns)
    assert [t.question for t in kept] == [f"Question {i}?" for i in range(1000 - HISTORY_TURNS, 1000)]
    assert all(len(t.answer) == MAX_TURN_CHARS and len(t.quotes) == 8 for t in kept)
    assert bounded(None) == () and bounded([Turn("   ")]) == ()


def test_a_turn_from_the_apis_takes_quotes_or_citation_objects() -> None:
    turn = Turn.from_dict(
        {"question": "Q?", "answer": "A [1]", "citations": [{"quote": "A.", "source": "a.txt"}, "B."]}
    )
    assert (turn.question, turn.answer, turn.quotes, turn.sources) == (
        "Q?",
        "A [1]",
        ("A.", "B."),
        ("a.txt",),
    )


def _answer(refused: bool, value: float, bar: float = 0.5) -> Answer:
    citation = Citation(1, "a.txt", "A", None, None, "en", "c1", "Quote.", "Quote.", 0, 6, value)
    return Answer(
        question="Q?",
        text="Quote. [1]",
        refused=refused,
        mode="extractive",
        language="en",
        citations=() if refused else (citation,),
        decision=Decision("relevance", value, bar),
    )


def test_the_reading_in_context_is_kept_when_it_answers_better() -> None:
    assert better(_answer(False, 0.6), _answer(True, 0.4))  # answers where alone is refused
    assert not better(_answer(True, 0.4), _answer(False, 0.6))
    assert better(_answer(False, 0.62), _answer(False, 0.61))  # clears the bar by more
    assert not better(_answer(False, 0.55), _answer(False, 0.61))


def test_a_turn_of_an_answer_keeps_its_quotes_and_drops_a_refusal() -> None:
    turn = Turn.of(_answer(False, 0.6))
    assert (turn.question, turn.answer, turn.quotes, turn.sources) == (
        "Q?",
        "Quote. [1]",
        ("Quote.",),
        ("a.txt",),
    )
    refused = Turn.of(_answer(True, 0.3))
    assert refused.answer == "" and refused.quotes == () and refused.refused
