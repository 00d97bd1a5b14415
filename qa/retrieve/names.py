"""Names a question mentions that the collection never does.

"When did Finland join NATO?" over articles that never name Finland cannot be answered from them, however
close the best sentence comes. Capitalised words after the first are taken as names (in German every noun
is capitalised; the matching is lenient enough that ordinary nouns are found in some form), folded and
matched against the collection's words by prefix or character trigrams, so "Finland"/"Finnland" or
"Ukraine"/"Oekraïne" count as the same name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN, STOPWORDS_GERMAN

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Numbers of two digits or more: a year or a count the question names ("the first battle of 1754").
_NUMBER = re.compile(r"\d{2,}")
_STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_GERMAN) | frozenset(STOPWORDS_DUTCH)
_MIN_LENGTH = 4
_PREFIX = 5
_TRIGRAM_JACCARD = 0.5


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _trigrams(word: str) -> set[str]:
    return {word[i : i + 3] for i in range(len(word) - 2)}


class Vocabulary:
    """The folded words of a collection, indexed for lenient name lookup."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.words: set[str] = set()
        self.numbers: set[str] = set()
        for text in texts:
            self.words.update(fold(w) for w in _WORD.findall(text))
            self.numbers.update(_NUMBER.findall(text))
        self._by_trigram: dict[str, set[str]] = {}
        for word in self.words:
            for gram in _trigrams(word):
                self._by_trigram.setdefault(gram, set()).add(word)
        self._prefixes = {w[:_PREFIX] for w in self.words if len(w) >= _PREFIX}

    def knows(self, name: str) -> bool:
        word = fold(name)
        if word in self.words or (len(word) >= _PREFIX and word[:_PREFIX] in self._prefixes):
            return True
        grams = _trigrams(word)
        near = set().union(*(self._by_trigram.get(g, set()) for g in grams)) if grams else set()
        return any(len(grams & _trigrams(w)) / len(grams | _trigrams(w)) >= _TRIGRAM_JACCARD for w in near)


def question_names(question: str) -> list[str]:
    """Capitalised words of the question after its first word, minus stop words and short words."""
    words = _WORD.findall(question)
    return [w for w in words[1:] if w[0].isupper() and len(w) >= _MIN_LENGTH and w.lower() not in _STOPWORDS]


def unknown_names(question: str, vocabulary: Vocabulary, names: list[str] | None = None) -> list[str]:
    """The question's names (`names`, when already read) that the collection never mentions."""
    names = question_names(question) if names is None else names
    return [name for name in names if not vocabulary.knows(name)]


def unknown_numbers(question: str, vocabulary: Vocabulary) -> list[str]:
    """Numbers of two digits or more in `question` that occur nowhere in the collection."""
    return [n for n in _NUMBER.findall(question) if n not in vocabulary.numbers]
