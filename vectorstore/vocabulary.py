"""A collection's words, for lenient name lookup: does the collection ever mention "Finnland"?

`Vocabulary` holds them in memory: a small index reads every text when it is loaded, and PostgreSQL
streams a large index's texts past `Vocabulary.add` once, keeping none. `StoredVocabulary` asks the
tables a large folder index writes at build time (`write_tables`), so a serving process never reads
every text. Both answer the same questions the same way: a folded word is
known when it is a word of the collection, shares its first `PREFIX` letters with one, or has a word
whose character trigrams overlap its own by `TRIGRAM_JACCARD`.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator

WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Numbers of two digits or more: a year or a count the question names ("the first battle of 1754").
NUMBER = re.compile(r"\d{2,}")
PREFIX = 5
TRIGRAM_JACCARD = 0.5


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def trigrams(word: str) -> set[str]:
    return {word[i : i + 3] for i in range(len(word) - 2)}


def _close(grams: set[str], near: Iterable[str]) -> bool:
    return any(len(grams & trigrams(w)) / len(grams | trigrams(w)) >= TRIGRAM_JACCARD for w in near)


class Vocabulary:
    """The folded words and numbers of some texts, in memory."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._words: set[str] = set()
        self._numbers: set[str] = set()
        self._by_trigram: dict[str, set[str]] = {}
        self._prefixes: set[str] = set()
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        """Learn the words and numbers of one more text (a store that streams its texts while loading
        feeds them one at a time, keeping none)."""
        for word in {fold(w) for w in WORD.findall(text)} - self._words:
            self._words.add(word)
            for gram in trigrams(word):
                self._by_trigram.setdefault(gram, set()).add(word)
            if len(word) >= PREFIX:
                self._prefixes.add(word[:PREFIX])
        self._numbers.update(NUMBER.findall(text))

    @property
    def words(self) -> Iterable[str]:
        return self._words

    def has_number(self, number: str) -> bool:
        return number in self._numbers

    def knows(self, name: str) -> bool:
        word = fold(name)
        if word in self._words or (len(word) >= PREFIX and word[:PREFIX] in self._prefixes):
            return True
        grams = trigrams(word)
        return _close(grams, set().union(*(self._by_trigram.get(g, set()) for g in grams)) if grams else ())


_SCHEMA = (
    "CREATE TABLE words (word TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE numbers (number TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE prefixes (prefix TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE trigrams (gram TEXT, word TEXT, PRIMARY KEY (gram, word)) WITHOUT ROWID",
)


def write_tables(db: sqlite3.Connection, texts: Iterable[str]) -> None:
    """Create and fill the vocabulary tables from `texts`, one text at a time (memory: the distinct
    words of the collection, not its texts)."""
    raw: set[str] = set()
    numbers: set[str] = set()
    for text in texts:
        raw.update(WORD.findall(text))
        numbers.update(NUMBER.findall(text))
    words = {fold(w) for w in raw}  # folded once per distinct word, not per occurrence
    for statement in _SCHEMA:
        db.execute(statement)
    db.executemany("INSERT INTO words VALUES (?)", ((w,) for w in sorted(words)))
    db.executemany("INSERT INTO numbers VALUES (?)", ((n,) for n in sorted(numbers)))
    db.executemany(
        "INSERT OR IGNORE INTO prefixes VALUES (?)", ((w[:PREFIX],) for w in words if len(w) >= PREFIX)
    )
    db.executemany(
        "INSERT OR IGNORE INTO trigrams VALUES (?, ?)", ((g, w) for w in words for g in trigrams(w))
    )


class StoredVocabulary(Vocabulary):
    """The same lookups as `Vocabulary`, asked of the tables `write_tables` made."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:  # noqa: D107 - no texts read
        self._connect = connect

    def _one(self, query: str, value: str) -> bool:
        return self._connect().execute(query, (value,)).fetchone() is not None

    @property
    def words(self) -> Iterator[str]:
        return (row[0] for row in self._connect().execute("SELECT word FROM words"))

    def has_number(self, number: str) -> bool:
        return self._one("SELECT 1 FROM numbers WHERE number = ?", number)

    def knows(self, name: str) -> bool:
        word = fold(name)
        if self._one("SELECT 1 FROM words WHERE word = ?", word):
            return True
        if len(word) >= PREFIX and self._one("SELECT 1 FROM prefixes WHERE prefix = ?", word[:PREFIX]):
            return True
        grams = trigrams(word)
        if not grams:
            return False
        marks = ",".join("?" * len(grams))
        near = self._connect().execute(
            f"SELECT DISTINCT word FROM trigrams WHERE gram IN ({marks})", sorted(grams)
        )
        return _close(grams, (row[0] for row in near))
