"""A question, read once: its language, the names it mentions, its focus, and what the collection lacks.

Every stage reads the question through this value, so its language is detected once and its names are
extracted once, however many stages need them (embedding the focus, the relevance penalties,
composition's language and the generative mode's prompt).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.retrieve.focus import focus_question
from qa.retrieve.names import Vocabulary, question_names, unknown_names, unknown_numbers
from vectorstore.ingest.language import detect_language


@dataclass(frozen=True)
class Question:
    """A validated question and what is read from it against one collection's vocabulary."""

    text: str
    language: str | None  # detected; None when the text is too short or mixed to tell
    names: tuple[str, ...]  # capitalised words after the first, minus stop words
    focus: str | None  # the question without the names that only say where to look
    unknown_names: tuple[str, ...]  # names the collection never mentions
    unknown_numbers: tuple[str, ...]  # numbers of two digits or more it never mentions


def analyse(text: str, vocabulary: Vocabulary) -> Question:
    """Read `text` (already validated) once, against the collection's `vocabulary`."""
    names = question_names(text)
    return Question(
        text=text,
        language=detect_language(text),
        names=tuple(names),
        focus=focus_question(text, vocabulary, names),
        unknown_names=tuple(unknown_names(text, vocabulary, names)),
        unknown_numbers=tuple(unknown_numbers(text, vocabulary)),
    )
