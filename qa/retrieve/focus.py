"""The focus of a question: what it asks, without the names that only say where to look.

An embedding of "What was offered at Istanbul?" is dominated by "Istanbul": every sentence near the
talks scores alike, and the one stating the offer ("Oekraïne had toegezegd af te zien van het
NAVO-lidmaatschap ...") scores low. The same question without the place, "What was offered?", ranks
exactly that sentence first. Evidence is scored against both (see `qa.retrieve.evidence`): the full question
keeps the topic, the focus decides among the sentences on it.

Only names that say where or when to look are dropped: those after a preposition ("at Istanbul", "nach
dem Treffen in Bukarest", "of the Istanbul agreement") and whose words are quoted ("according to
Kujat"). Who acts, and what the question is about, stay: "What did Russia agree to at Istanbul?" asks
for Russia's side, not Ukraine's, and "What did Kujat say about Ukraine?" keeps both names.
"""

from __future__ import annotations

import re

from qa.retrieve.names import Vocabulary, question_names

# "according to Kujat", "volgens Kujat", "laut Kujat": whose words, not what is asked.
_ATTRIBUTION = re.compile(r",?\s*\b(?:according to|volgens|laut|zufolge)\s+(?=\S)", re.IGNORECASE)
_MIN_WORDS = 2
_PREPOSITIONS = (  # noqa: SIM905 - word lists read best as strings
    "at in on of to from near during after before "
    "op bij te van naar uit tijdens na voor "
    "im am auf bei von vom nach aus zu zum zur während vor"
).split()
_ARTICLES = "the a an de het een der die das dem den des ein eine einem einen".split()  # noqa: SIM905
_AFTER_PREPOSITION = rf"\b(?:{'|'.join(_PREPOSITIONS)})\s+(?:(?:{'|'.join(_ARTICLES)})\s+)?"
# Little words left dangling before a removed name at the end of a clause ("offered at ?").
_DANGLING_RUN = re.compile(
    rf"(?:\s+(?:{'|'.join(_PREPOSITIONS + _ARTICLES)}))+\s*(?=[?.!,]|$)", re.IGNORECASE
)


def _says_where(question: str, name: str) -> bool:
    """True when `name` follows a preposition or an attribution in `question`."""
    pattern = rf"(?:{_AFTER_PREPOSITION}|{_ATTRIBUTION.pattern}){re.escape(name)}\b"
    return re.search(pattern, question, flags=re.IGNORECASE) is not None


def focus_question(question: str, vocabulary: Vocabulary, names: list[str] | None = None) -> str | None:
    """`question` without the names the collection knows that say where to look, or None when that
    leaves it unchanged or too short to mean anything. `names` are the question's, when already read."""
    names = question_names(question) if names is None else names
    names = [n for n in names if vocabulary.knows(n) and _says_where(question, n)]
    if not names:
        return None
    text = question
    for name in names:
        text = re.sub(rf"(?:{_ATTRIBUTION.pattern})?\b{re.escape(name)}\b", "", text, flags=re.IGNORECASE)
    text = _DANGLING_RUN.sub("", " ".join(text.split()))
    text = re.sub(r"\s+([?.!,])", r"\1", text)
    text = re.sub(r",+([?.!])", r"\1", text).lstrip(" ,;:")
    if len(re.findall(r"\w+", text)) < _MIN_WORDS or text == question:
        return None
    return text
