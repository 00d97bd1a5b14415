"""What a question asks for (a date, a number, anything) in English, Dutch and German, and who supplies it."""

from __future__ import annotations

import pytest

from qa.compose.answer_type import AnswerType, answer_type, supplies


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did Russia annex four Ukrainian regions?", AnswerType.DATE),
        ("In what year was PESCO founded?", AnswerType.DATE),
        ("Since when has Finland been a member?", AnswerType.DATE),
        ("How many combat-ready soldiers were freed up?", AnswerType.NUMBER),
        ("How much weapons aid had the United States delivered?", AnswerType.NUMBER),
        ("What did Ukraine offer at the Istanbul negotiations?", AnswerType.ANY),
        ("How does Chizhov describe EU-Russia relations?", AnswerType.ANY),
        ("Whenever it rains, who decides?", AnswerType.ANY),  # "when" only as a whole word
        ("Wanneer werd PESCO opgericht?", AnswerType.DATE),
        ("In welk jaar begon de oorlog?", AnswerType.DATE),
        ("Hoeveel projecten moeten er binnen PESCO komen?", AnswerType.NUMBER),
        ("Hoe lang duurde het gesprek?", AnswerType.NUMBER),
        ("Wat zei Merkel over het Minsk II-akkoord?", AnswerType.ANY),
        ("Wann wurde PESCO gegründet?", AnswerType.DATE),
        ("Seit wann ist Schweden Mitglied?", AnswerType.DATE),
        ("Wie viele Soldaten hat Nordkorea geschickt?", AnswerType.NUMBER),
        ("Wie lange dauerte das Telefonat?", AnswerType.NUMBER),
        ("Wie beschreibt die NATO China?", AnswerType.ANY),  # "wie" alone is "how", not "how many"
        ("Wer führte das Interview mit Harald Kujat?", AnswerType.ANY),
        ("Wohin reiste Baerbock nach dem Treffen?", AnswerType.ANY),
    ],
)
def test_question_kinds_in_three_languages(question: str, kind: AnswerType) -> None:
    assert answer_type(question) is kind


@pytest.mark.parametrize(
    ("sentence", "has_date"),
    [
        ("PESCO was founded in 2017.", True),
        ("Russia agreed to withdraw to the line of 23 February.", True),
        ("De gesprekken begonnen op 29 maart.", True),
        ("Die Außenminister trafen sich am 30. November in Bukarest.", True),
        ("Gestern telefonierte Putin mit Trump.", True),
        ("Op maandag vertrok de delegatie.", True),
        ("Russia annexed four Ukrainian regions.", False),
        ("Het akkoord werd nooit ondertekend.", False),
        ("Die Allianz ist geeint.", False),
    ],
)
def test_a_date_is_a_year_a_month_a_weekday_or_a_relative_day(sentence: str, has_date: bool) -> None:
    assert supplies(AnswerType.DATE, sentence) is has_date


@pytest.mark.parametrize(
    ("sentence", "has_number"),
    [
        ("The US delivered weapons worth 19 billion dollars.", True),
        ("Ukraine asked for three Patriot systems.", True),
        ("Binnen PESCO komen er Honderd projecten.", True),  # matched case-insensitively
        ("Die Allianz schickte zwei Minister.", True),
        ("The alliance is united.", False),
        ("Het gesprek verliep moeizaam.", False),
        ("Die Allianz ist geeint.", False),
        # Indefinite articles are spelled like "one" in Dutch and German: not a number.
        ("Rusland bood een Russische deelname aan.", False),
        ("Russland lehnt eine Waffenruhe ab, sagte ein Sprecher.", False),
        ("It was one of the hardest talks.", False),
    ],
)
def test_a_number_is_digits_or_a_number_word(sentence: str, has_number: bool) -> None:
    assert supplies(AnswerType.NUMBER, sentence) is has_number


def test_any_sentence_supplies_an_open_question() -> None:
    assert supplies(AnswerType.ANY, "Het gesprek verliep moeizaam.")
    assert supplies(AnswerType.ANY, "")


@pytest.mark.parametrize(
    "question",
    [
        "What happened when cyanobacteria was assimilated?",
        "Was passiert mit der Norm, wenn eine Zahl mit p multipliziert wird?",
        "Wat gebeurt er wanneer het ijs smelt?",
    ],
)
def test_when_as_a_conjunction_asks_for_no_date(question: str) -> None:
    assert answer_type(question) is AnswerType.ANY


@pytest.mark.parametrize(
    "sentence", ["Rapid warming began about 13,000 BP.", "Theorien der 1950er Jahre.", "Vor 22.000 Jahren."]
)
def test_any_figure_can_date_an_answer(sentence: str) -> None:
    assert supplies(AnswerType.DATE, sentence)
