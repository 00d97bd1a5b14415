"""The focus of a question: the question without the names the collection knows (qa.retrieve.focus)."""

from __future__ import annotations

import pytest

from qa.retrieve.focus import focus_question
from qa.retrieve.names import Vocabulary

VOCABULARY = Vocabulary(
    [
        "De onderhandelingen in Istanbul. Oekraïne en Rusland. Harald Kujat zegt. "
        "Die NATO traf sich in Bukarest; Baerbock reiste weiter."
    ]
)


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("What was offered at Istanbul?", "What was offered?"),
        (
            "Who prevented the signing of the Istanbul agreement, according to Kujat?",
            "Who prevented the signing of the agreement?",
        ),
        # "Russia" is not in this vocabulary (only "Rusland"), so it stays.
        ("According to Kujat, what had Russia agreed to in Istanbul?", "what had Russia agreed?"),
        # Who acts stays; only the place after a preposition goes.
        ("Wat bood Oekraïne aan in Istanbul?", "Wat bood Oekraïne aan?"),
        (
            "What did Ukraine offer at the Istanbul negotiations?",
            "What did Ukraine offer at the negotiations?",
        ),
        ("Wohin reiste Baerbock nach dem Treffen in Bukarest?", "Wohin reiste Baerbock nach dem Treffen?"),
    ],
)
def test_names_that_say_where_to_look_and_their_dangling_words_are_removed(question: str, focus: str) -> None:
    assert focus_question(question, VOCABULARY) == focus


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 1998 Tour de France?",  # names the collection does not know stay: no focus
        "How many years were agreed?",  # no names at all
        "Kujat?",  # nothing left to ask
        "Istanbul, Kujat?",  # one word left is too little to mean anything
        "What did Kujat say about Oekraïne and Rusland?",  # who acts and what it is about stay
    ],
)
def test_no_focus_when_nothing_known_is_named_or_too_little_is_left(question: str) -> None:
    assert focus_question(question, VOCABULARY) is None
