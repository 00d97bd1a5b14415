"""Names a question mentions that the collection never does, matched across spellings and languages."""

from __future__ import annotations

import pytest

from qa.retrieve.names import Vocabulary, fold, question_names, unknown_names, unknown_numbers
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def seeds() -> Vocabulary:
    """The five seed articles: Dutch and German, about Ukraine, NATO and Russia; never about Belgium."""
    return Vocabulary(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))


def test_fold_drops_case_and_accents_and_spells_out_eszett() -> None:
    assert fold("Oekraïne") == "oekraine"
    assert fold("Außenminister") == "aussenminister"
    assert fold("ÉLYSÉE") == "elysee"


def test_finnland_and_finland_are_the_same_name() -> None:
    dutch = Vocabulary(["Finland trad in 2023 toe tot de NAVO."])
    german = Vocabulary(["Finnland trat 2023 der NATO bei."])
    assert dutch.knows("Finnland") and dutch.knows("Finland")
    assert german.knows("Finland") and german.knows("Finnland")


def test_oekraine_and_ukraine_are_the_same_name() -> None:
    dutch = Vocabulary(["Oekraïne bood neutraliteit aan."])
    german = Vocabulary(["Die Ukraine forderte mehr Raketenabwehr."])
    assert dutch.knows("Ukraine") and dutch.knows("Oekraine") and dutch.knows("Oekraïne")
    assert german.knows("Oekraïne")


def test_unrelated_names_are_unknown() -> None:
    vocabulary = Vocabulary(["Oekraïne bood neutraliteit aan.", "Die Ukraine forderte mehr Raketenabwehr."])
    assert not vocabulary.knows("Belgium")
    assert not vocabulary.knows("Finland")
    assert not vocabulary.knows("Australia")


def test_the_seeds_know_ukraine_in_every_spelling_but_not_belgium_or_finland(seeds: Vocabulary) -> None:
    for name in ("Ukraine", "Oekraïne", "Kujat", "Bukarest", "NATO", "NAVO"):
        assert seeds.knows(name), name
    for name in ("Belgium", "België", "Belgien", "Finland", "Finnland", "Australia"):
        assert not seeds.knows(name), name


def test_question_names_are_capitalised_words_after_the_first_minus_stop_words() -> None:
    assert question_names("When did Finland join NATO?") == ["Finland", "NATO"]
    assert question_names("Wann ist Finnland der NATO beigetreten?") == ["Finnland", "NATO"]
    assert question_names("Wer führte das Interview mit Harald Kujat?") == ["Interview", "Harald", "Kujat"]
    assert question_names("What did Ukraine offer at Istanbul?") == ["Ukraine", "Istanbul"]
    assert question_names("Who is the Russian ambassador to the EU?") == ["Russian"]  # "EU" is too short


def test_unknown_names_of_questions_about_the_seeds(seeds: Vocabulary) -> None:
    assert unknown_names("When did Finland join NATO?", seeds) == ["Finland"]
    assert unknown_names("Wann ist Finnland der NATO beigetreten?", seeds) == ["Finnland"]
    assert unknown_names("What is the population of Belgium?", seeds) == ["Belgium"]
    assert unknown_names("Wer führte das Interview mit Harald Kujat?", seeds) == []
    assert unknown_names("Wat bood Oekraïne aan in Istanbul?", seeds) == []


def test_a_number_of_two_digits_or_more_the_collection_never_mentions_is_unknown() -> None:
    vocabulary = Vocabulary(["The talks began on 29 March 2022; 4 delegations came, 13,000 people watched."])
    assert unknown_numbers("What happened in 2022?", vocabulary) == []
    assert unknown_numbers("What was the first battle of 1754?", vocabulary) == ["1754"]
    assert unknown_numbers("Were there 13,000 or 14,000 people?", vocabulary) == ["14"]
    assert unknown_numbers("Did 5 delegations come?", vocabulary) == []  # one digit: too common to judge
