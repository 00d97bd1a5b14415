"""Every fixed message shown to users, in English, Dutch and German, and (later) the model prompts.

The refusal text is shared by the composer, the evaluation and the tests.
"""

from __future__ import annotations

LANGUAGES = ("en", "nl", "de")

REFUSAL = {
    "en": "The documents do not answer this.",
    "nl": "De documenten geven hier geen antwoord op.",
    "de": "Die Dokumente beantworten diese Frage nicht.",
}

CLOSEST_MATCHES = {"en": "Closest matches", "nl": "Dichtstbijzijnde passages", "de": "Nächste Treffer"}

LANGUAGE_NAMES = {
    "en": {"en": "English", "nl": "Dutch", "de": "German", "fr": "French"},
    "nl": {"en": "Engels", "nl": "Nederlands", "de": "Duits", "fr": "Frans"},
    "de": {"en": "Englisch", "nl": "Niederländisch", "de": "Deutsch", "fr": "Französisch"},
}

SOURCE_LANGUAGE_NOTE = {
    "en": "The sources are in {names}; quotes are in the original language.",
    "nl": "De bronnen zijn in het {names}; citaten staan in de oorspronkelijke taal.",
    "de": "Die Quellen sind auf {names}; Zitate stehen in der Originalsprache.",
}

_AND = {"en": "and", "nl": "en", "de": "und"}


def ui_language(language: str | None) -> str:
    """The language messages are shown in: the question's, when we have messages for it."""
    return language if language in LANGUAGES else "en"


def refusal(language: str | None) -> str:
    return REFUSAL[ui_language(language)]


def source_language_note(question_language: str | None, source_languages: list[str]) -> str | None:
    """One line saying the quotes are in another language than the question, else None."""
    lang = ui_language(question_language)
    others = [s for s in dict.fromkeys(source_languages) if s and s != lang]
    if not others:
        return None
    names = [LANGUAGE_NAMES[lang].get(code, code) for code in others]
    joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {_AND[lang]} {names[-1]}"
    return SOURCE_LANGUAGE_NOTE[lang].format(names=joined)
