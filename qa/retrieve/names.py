"""Names a question mentions that the collection never does.

"When did Finland join NATO?" over articles that never name Finland cannot be answered from them, however
close the best sentence comes. Capitalised words after the first are taken as names (in German every noun
is capitalised; the matching is lenient enough that ordinary nouns are found in some form), folded and
matched against the collection's words by prefix or character trigrams, so "Finland"/"Finnland" or
"Ukraine"/"Oekraïne" count as the same name.
"""

from __future__ import annotations

from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN, STOPWORDS_GERMAN

from vectorstore.vocabulary import NUMBER, WORD, Vocabulary, fold

__all__ = ["Vocabulary", "fold", "question_names", "unknown_names", "unknown_numbers"]

_STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_GERMAN) | frozenset(STOPWORDS_DUTCH)
_MIN_LENGTH = 4


def question_names(question: str) -> list[str]:
    """Capitalised words of the question after its first word, minus stop words and short words."""
    words = WORD.findall(question)
    return [w for w in words[1:] if w[0].isupper() and len(w) >= _MIN_LENGTH and w.lower() not in _STOPWORDS]


def unknown_names(question: str, vocabulary: Vocabulary, names: list[str] | None = None) -> list[str]:
    """The question's names (`names`, when already read) that the collection never mentions."""
    names = question_names(question) if names is None else names
    return [name for name in names if not vocabulary.knows(name)]


def unknown_numbers(question: str, vocabulary: Vocabulary) -> list[str]:
    """Numbers of two digits or more in `question` that occur nowhere in the collection."""
    return [n for n in NUMBER.findall(question) if not vocabulary.has_number(n)]
