"""Gold sets: JSON Lines of questions with their sources, facts and a reference answer.

One object per line with exactly these fields (see `gold/README.md`):
`{"id", "question", "lang", "answerable", "sources", "facts", "reference"}`, and for a follow-up in a
conversation (see `gold/followups/README.md`) also `"history"` (the earlier user questions, oldest
first) and `"standalone"` (the follow-up rewritten to stand alone). Blank lines are allowed.
A file is validated completely before anything is scored: the first problem raises `GoldFormatError`
naming the file and the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorstore.errors import CiteqaError

FIELDS = ("id", "question", "lang", "answerable", "sources", "facts", "reference")
#: A follow-up's fields, optional: without them a line is one question asked alone.
CONVERSATION_FIELDS = ("history", "standalone")
_LANG = re.compile(r"^[a-z]{2}$")


class GoldFormatError(CiteqaError):
    """A gold file is missing or malformed; the message is `<file>:<line>: <what is wrong>`."""


@dataclass(frozen=True)
class GoldQuestion:
    """One gold question. `facts` holds one tuple of aliases per fact; any alias counts as the fact."""

    id: str
    question: str
    lang: str  # ISO 639-1 code of the question's language
    answerable: bool
    sources: tuple[str, ...]  # document file names that hold the answer
    facts: tuple[tuple[str, ...], ...]
    reference: str
    history: tuple[str, ...] = ()  # the earlier user questions of its conversation, oldest first
    standalone: str | None = None  # the follow-up rewritten to stand alone (a perfect rewrite)

    @property
    def fact_labels(self) -> tuple[str, ...]:
        """Each fact named by its first alias, for records and reports."""
        return tuple(aliases[0] for aliases in self.facts)


def load_gold(path: Path | str) -> list[GoldQuestion]:
    """Read and validate a gold file.

    Args:
        path: A JSON Lines file.

    Returns:
        The questions in file order.

    Raises:
        GoldFormatError: the file cannot be read, holds no question, or a line is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GoldFormatError(f"{path}: no such gold file") from None
    except IsADirectoryError:
        raise GoldFormatError(f"{path}: is a folder, not a gold file (JSON Lines)") from None
    except UnicodeDecodeError as err:
        raise GoldFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise GoldFormatError(f"{path}: cannot be read ({err.strerror})") from None

    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = _parse(line)
        except ValueError as err:
            raise GoldFormatError(f"{path}:{number}: {err}") from None
        if question.id in seen:
            raise GoldFormatError(
                f"{path}:{number}: duplicate id {question.id!r} (first on line {seen[question.id]})"
            )
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise GoldFormatError(f"{path}: holds no questions")
    return questions


def _parse(line: str) -> GoldQuestion:
    """One line as a GoldQuestion; ValueError with a one-line reason otherwise."""
    try:
        obj = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, found {type(obj).__name__}")
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    unknown = sorted(set(obj) - set(FIELDS) - set(CONVERSATION_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)} "
            f"(and for a follow-up {', '.join(CONVERSATION_FIELDS)})"
        )

    qid = _text(obj, "id")
    question = _text(obj, "question")
    lang = obj["lang"]
    if not isinstance(lang, str) or not _LANG.match(lang):
        raise ValueError(f"'lang' must be a two-letter lowercase language code such as \"en\", not {lang!r}")
    answerable = obj["answerable"]
    if not isinstance(answerable, bool):
        raise ValueError(f"'answerable' must be true or false, not {answerable!r}")
    sources = _strings(obj["sources"], "sources")
    facts = _facts(obj["facts"])
    reference = obj["reference"]
    if not isinstance(reference, str):
        raise ValueError(f"'reference' must be a string, not {_kind(reference)}")

    if answerable and not sources:
        raise ValueError("an answerable question needs at least one source")
    if answerable and not facts:
        raise ValueError("an answerable question needs at least one fact")
    if not answerable and (sources or facts):
        raise ValueError("an unanswerable question must have empty 'sources' and 'facts'")
    if len(set(sources)) != len(sources):
        raise ValueError("'sources' lists a document twice")
    history = _strings(obj["history"], "history") if "history" in obj else ()
    if "history" in obj and not history:
        raise ValueError("'history' must list at least one earlier question (or be left out)")
    standalone = _text(obj, "standalone") if "standalone" in obj else None
    if standalone is not None and not history:
        raise ValueError("'standalone' rewrites a follow-up: it needs a 'history'")
    return GoldQuestion(qid, question, lang, answerable, sources, facts, reference, history, standalone)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads would silently keep the last of two equal keys; a gold line must say one thing.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"field {key!r} appears twice")
        obj[key] = value
    return obj


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string, not {value!r}"[:200])
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise ValueError(f"{key!r} must be a list of non-empty strings")
    return tuple(value)


def _facts(value: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list):
        raise ValueError(f"'facts' must be a list of facts, not {_kind(value)}")
    facts = []
    for i, fact in enumerate(value, start=1):
        if not isinstance(fact, list) or not fact or not all(isinstance(a, str) and a.strip() for a in fact):
            raise ValueError(f"fact {i} must be a non-empty list of non-empty alias strings")
        facts.append(tuple(fact))
    return tuple(facts)
