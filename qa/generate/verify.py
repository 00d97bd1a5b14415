"""Checks on a generated draft, in code, before anything is shown (see `qa.generate.rewrite`).

A draft is split into claims: the text before each group of keys like [S1] or [S1][S2]. A claim
passes when it cites at least one key the model was given, every number, date and proper name in it
occurs in the evidence it cites, and it is close enough in meaning to that evidence (embedding
cosine). Numbers compare by digits after NFKC; months match across English, Dutch, German and French
("9 April" is supported by "9 avril" or "2022-04-09"); names match leniently as in `qa.retrieve.names`
(folded, by prefix or character trigrams, or one edit apart), so "Oekraïne" is supported by "Ukraine" and
"NAVO" by "NATO".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from qa.retrieve.names import _STOPWORDS, Vocabulary, fold
from vectorstore.models.embedding import Embedder

_KEYS = re.compile(r"\[\s*([A-Za-z]?\d+(?:\s*[,;]\s*[A-Za-z]?\d+)*)\s*\]")
_KEY_SPLIT = re.compile(r"\s*[,;]\s*")
_LEADING_PUNCT = re.compile(r"^\s*[.!?…]+[\"'”’»)]*")
_SENTENCE_END = re.compile(r"(?<=[^\W\d_]{2}[.!?])\s+(?=[\"'“„«(]?[^\W\d_])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’-][^\W\d_]+)*")
_ISO_DATE = re.compile(r"\b\d{4}-(\d{1,2})-\d{1,2}\b")
_DOTTED_DATE = re.compile(r"\b\d{1,2}[./](\d{1,2})[./]\d{2,4}\b")

_MONTHS = {
    name: month
    for month, names in enumerate(
        (
            "january januar jänner januari janvier",
            "february februar februari fevrier",
            "march marz maart mars",
            "april avril",
            "may mai mei",
            "june juni juin",
            "july juli juillet",
            "august augustus aout",
            "september septembre",
            "october oktober octobre",
            "november novembre",
            "december dezember decembre",
        ),
        start=1,
    )
    for name in (fold(n) for n in names.split())
}
_NUMBER_WORDS = {
    fold(word): value
    for value, words in (
        ("2", "two twee zwei"),
        ("3", "three drie drei"),
        ("4", "four vier"),
        ("5", "five vijf fünf"),
        ("6", "six zes sechs"),
        ("7", "seven zeven sieben"),
        ("8", "eight acht"),
        ("9", "nine negen neun"),
        ("10", "ten tien zehn"),
        ("11", "eleven elf"),
        ("12", "twelve twaalf zwölf"),
        ("100", "hundred honderd hundert"),
        ("1000", "thousand duizend tausend"),
        ("1000000", "million miljoen millionen"),
        ("1000000000", "billion miljard milliarde milliarden"),
    )
    for word in words.split()
}
# Capitalised only because they open a sentence; any other capitalised first word is checked as a name.
_OPENERS = frozenset(
    fold(word)
    for words in (
        "according after also although as because before besides both but during finally first however "
        "later meanwhile moreover since so still then therefore thus until when while yet",
        "daarna daarom dan echter ook na sinds terwijl tijdens toen volgens voor want",
        "aber auch außerdem bevor dabei danach dann daher deshalb jedoch laut nach nachdem seit sowohl "
        "trotz während weil zudem",
    )
    for word in words.split()
)
_EDIT_MIN_LENGTH = 4
_SHARED_PREFIX = 4
_SHARED_PREFIX_SHARE = 0.6


@dataclass(frozen=True)
class Claim:
    """One generated sentence: its text without keys, the known keys it cites and the unknown ones."""

    text: str
    keys: tuple[str, ...]
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The claims of a draft and every problem found; the draft may be shown only when `ok`."""

    claims: tuple[Claim, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.claims) and not self.problems


# ---------------------------------------------------------------------------------------------- parsing


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def parse_claims(draft: str, known: Collection[str]) -> list[Claim]:
    """Split `draft` into claims, each with the keys that follow it; keys not in `known` are dropped.

    A piece of text holding several sentences before one key group yields the earlier sentences as
    claims without keys; so does text after the last key group.
    """
    parts = _KEYS.split(unicodedata.normalize("NFKC", draft))
    texts, groups = parts[0::2], parts[1::2]
    claims: list[Claim] = []
    for i, piece in enumerate(texts):
        if i > 0 and (lead := _LEADING_PUNCT.match(piece)):
            # A full stop right after a key group ends the claim before it: "... [S1]. Next ..."
            piece = piece[lead.end() :]
            last = claims[-1]
            if not last.text.endswith((".", "!", "?", "…")):
                claims[-1] = Claim(last.text + lead.group(0).strip(), last.keys, last.dropped)
        keys = [k.upper() for k in _KEY_SPLIT.split(groups[i].strip())] if i < len(groups) else []
        if claims and keys and not any(ch.isalnum() for ch in piece):
            # "[S1][S2]" or "[S1], [S2]": more keys for the same claim
            last = claims[-1]
            cited = last.keys + tuple(k for k in keys if k in known and k not in last.keys)
            claims[-1] = Claim(last.text, cited, last.dropped + tuple(k for k in keys if k not in known))
            continue
        sentences = _sentences(piece)
        for sentence in sentences[:-1]:
            claims.append(Claim(sentence, ()))
        if sentences:
            cited = tuple(dict.fromkeys(k for k in keys if k in known))
            claims.append(Claim(sentences[-1], cited, tuple(k for k in keys if k not in known)))
    return [c for c in claims if any(ch.isalnum() for ch in c.text)]


# ---------------------------------------------------------------------------------------------- facts


def _digits(text: str) -> str:
    """NFKC with every decimal digit (Arabic-Indic, fullwidth, ...) written as ASCII."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _number_key(token: str) -> str:
    """A number compared by its digits: separators dropped, leading zeros ignored ("09" is "9")."""
    return re.sub(r"[.,]", "", token).lstrip("0") or "0"


def _is_name(token: str, first: bool) -> bool:
    if not token[0].isupper() or fold(token) in _STOPWORDS:
        return False
    if first and fold(token) in _OPENERS:
        return False
    return len(token) >= 2 if token.isupper() else len(token) >= 3


@dataclass(frozen=True)
class Facts:
    """The numbers (by digits), months (1-12) and names of a text."""

    numbers: frozenset[str]
    months: frozenset[int]
    names: tuple[str, ...]


def facts(text: str, *, evidence: bool = False) -> Facts:
    """What a text states that must be backed by evidence; `evidence=True` reads a cited text, where
    every month word and numeric date counts and number words count as numbers."""
    tokens = _TOKEN.findall(_digits(text))
    numbers, months, names = set(), set(), []
    for i, token in enumerate(tokens):
        folded = fold(token)
        if token[0].isdigit():
            numbers.add(_number_key(token))
            if evidence:  # "09.04.2022" backs "9", "4" and "2022" too
                numbers.update(_number_key(part) for part in re.split(r"[.,]", token))
        elif folded in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[folded])
        elif folded in _MONTHS and (evidence or token[0].isupper() or _next_to_number(tokens, i)):
            months.add(_MONTHS[folded])
        elif _is_name(token, first=i == 0):
            names.append(token)
    if evidence:
        plain = _digits(text)
        months.update(int(m) for m in _ISO_DATE.findall(plain) + _DOTTED_DATE.findall(plain))
    return Facts(frozenset(numbers), frozenset(months), tuple(names))


def _next_to_number(tokens: list[str], i: int) -> bool:
    return any(0 <= j < len(tokens) and tokens[j][0].isdigit() for j in (i - 1, i + 1))


def _one_edit_apart(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < _EDIT_MIN_LENGTH:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _shares_stem(a: str, b: str) -> bool:
    common = len(next((a[:i] for i in range(min(len(a), len(b)), 0, -1) if a[:i] == b[:i]), ""))
    return common >= _SHARED_PREFIX and common >= _SHARED_PREFIX_SHARE * min(len(a), len(b))


def name_supported(name: str, vocabulary: Vocabulary) -> bool:
    """Whether `name` occurs in the evidence words in some spelling or inflection."""
    if vocabulary.knows(name):
        return True
    word = fold(name)
    return any(_one_edit_apart(word, w) or _shares_stem(word, w) for w in vocabulary.words)


def unsupported_facts(sentence: str, evidence: str) -> list[str]:
    """The numbers, months and names of `sentence` that `evidence` does not back, as readable strings."""
    claimed, backed = facts(sentence), facts(evidence, evidence=True)
    missing = [f"number {n}" for n in sorted(claimed.numbers - backed.numbers)]
    missing += [f"month {m}" for m in sorted(claimed.months - backed.months)]
    vocabulary = Vocabulary([evidence])
    missing += [f"name {n}" for n in claimed.names if not name_supported(n, vocabulary)]
    return missing


# ---------------------------------------------------------------------------------------------- verdict


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def support(claims: list[Claim], evidence: Mapping[str, str], embedder: Embedder) -> list[float]:
    """Cosine similarity of each claim to the evidence it cites (joined), in one call per side."""
    if not claims:
        return []
    cited = [" ".join(evidence[k] for k in c.keys) for c in claims]
    left = _unit(np.asarray(embedder.embed_queries([c.text for c in claims]), dtype=np.float32))
    right = _unit(np.asarray(embedder.embed_documents(cited), dtype=np.float32))
    return [float(x) for x in np.sum(left * right, axis=1)]


def verify(draft: str, evidence: Mapping[str, str], embedder: Embedder, threshold: float) -> Verdict:
    """Check a draft against the keyed evidence sentences the model was given.

    Args:
        draft: The model's text, citing keys like [S1].
        evidence: Key → the evidence sentence shown under it (its neighbours are not citable).
        embedder: The cross-lingual embedding model, for the support check.
        threshold: Minimum cosine between a claim and its cited evidence.

    Returns:
        The claims and every problem found (empty when the draft may be shown).
    """
    claims = parse_claims(draft, evidence.keys())
    problems = [] if claims else ["the draft has no sentences"]
    for i, claim in enumerate(claims, 1):
        if not claim.keys:
            problems.append(f"sentence {i} cites no given key")
            continue
        cited = " ".join(evidence[k] for k in claim.keys)
        missing = unsupported_facts(claim.text, cited)
        problems += [f"sentence {i}: {m} is not in its evidence" for m in missing]
    if problems:  # no embedding work for a draft that already failed
        return Verdict(tuple(claims), tuple(problems))
    for i, score in enumerate(support(claims, evidence, embedder), 1):
        if score < threshold:
            problems.append(f"sentence {i} is too far from its evidence ({score:.2f} < {threshold:g})")
    return Verdict(tuple(claims), tuple(problems))
