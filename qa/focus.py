"""The focus of a question: what it asks, without the names that only say where to look.

An embedding of "What was offered at Istanbul?" is dominated by "Istanbul": every sentence near the
talks scores alike, and the one stating the offer ("Oekraïne had toegezegd af te zien van het
NAVO-lidmaatschap ...") scores low. The same question without the collection's names, "What was
offered?", ranks exactly that sentence first. Evidence is scored against both (see `qa.evidence`):
the full question keeps the topic, the focus decides among the sentences on it.
"""

from __future__ import annotations

import re

from qa.names import Vocabulary, question_names

# "according to Kujat", "volgens Kujat", "laut Kujat": whose words, not what is asked.
_ATTRIBUTION = re.compile(r",?\s*\b(?:according to|volgens|laut|zufolge)\s+(?=\S)", re.IGNORECASE)
_MIN_WORDS = 2
# Little words left dangling before a removed name at the end of a clause ("offered at ?").
_DANGLING = (  # noqa: SIM905 - word lists read best as strings
    "at in on of to from the a an "
    "in op bij te van naar uit de het een "
    "in im am auf bei von vom nach aus zu zum zur der die das dem den des ein eine"
).split()
_DANGLING_RUN = re.compile(rf"(?:\s+(?:{'|'.join(_DANGLING)}))+\s*(?=[?.!,]|$)", re.IGNORECASE)


def focus_question(question: str, vocabulary: Vocabulary) -> str | None:
    """`question` without the names the collection knows, or None when that leaves it unchanged or
    too short to mean anything."""
    names = [name for name in question_names(question) if vocabulary.knows(name)]
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
