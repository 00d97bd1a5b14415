"""BM25 over chunks with Dutch, German and English normalisation (bm25s + Snowball stemmers).

Each word becomes the set of its Dutch, German and English stems, for documents and questions alike:
the collection mixes languages and a question need not be in its documents' language, so no single
stemmer is right. Stop words of all three languages are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN, STOPWORDS_GERMAN

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_GERMAN) | frozenset(STOPWORDS_DUTCH)


@lru_cache(maxsize=1)
def _stemmers() -> tuple[Stemmer.Stemmer, ...]:
    return tuple(Stemmer.Stemmer(lang) for lang in ("dutch", "german", "english"))


def _fold(word: str) -> str:
    # "Oekraïne"/"Oekraine" and "Außenminister"/"aussenminister" should meet.
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Stems of the content words of `text`, each word contributing its distinct stems."""
    tokens: list[str] = []
    for raw in _WORD.findall(text):
        word = raw.lower()
        if word in _STOPWORDS or len(word) < 2:
            continue
        folded = _fold(word)
        for part in {folded, *folded.split("-")} if "-" in folded else {folded}:
            if part:
                tokens.extend(dict.fromkeys(stemmer.stemWord(part) for stemmer in _stemmers()))
    return tokens


class LexicalIndex:
    """BM25 scores of a question against every chunk."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._size = len(texts)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t) or ["\x00empty"] for t in texts]
        if corpus:
            self._bm25.index(corpus, show_progress=False)
        self._vocab = set(self._bm25.vocab_dict) if corpus else set()

    def scores(self, question: str) -> np.ndarray:
        """BM25 score per chunk (zeros when no question word occurs in the collection)."""
        tokens = [t for t in tokenize(question) if t in self._vocab]
        if not tokens or not self._size:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
