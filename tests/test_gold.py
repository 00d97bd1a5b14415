"""Gold files: valid ones load, every kind of malformed line is named by file and line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.evaluate.gold import GoldFormatError, GoldQuestion, load_gold
from tests.conftest import ROOT
from vectorstore.errors import CiteqaError

GOOD = {
    "id": "q1",
    "question": "Wat bood Oekraïne aan in Istanbul?",
    "lang": "nl",
    "answerable": True,
    "sources": ["000_d6b9d14a00a44e16.txt"],
    "facts": [["navo-lidmaatschap", "nato membership"], ["veiligheidsgaranties"]],
    "reference": "Afzien van NAVO-lidmaatschap, in ruil voor veiligheidsgaranties.",
}
UNANSWERABLE = {
    "id": "q2",
    "question": "How many soldiers died?",
    "lang": "en",
    "answerable": False,
    "sources": [],
    "facts": [],
    "reference": "Not in the documents.",
}


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _line(**changes: Any) -> str:
    obj = {**GOOD, "id": "bad", **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP}, ensure_ascii=False)


_DROP = object()


def test_a_valid_file_loads_in_order_with_tuples(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(GOOD), "", json.dumps(UNANSWERABLE))
    first, second = load_gold(path)
    assert first == GoldQuestion(
        id="q1",
        question="Wat bood Oekraïne aan in Istanbul?",
        lang="nl",
        answerable=True,
        sources=("000_d6b9d14a00a44e16.txt",),
        facts=(("navo-lidmaatschap", "nato membership"), ("veiligheidsgaranties",)),
        reference="Afzien van NAVO-lidmaatschap, in ruil voor veiligheidsgaranties.",
    )
    assert first.fact_labels == ("navo-lidmaatschap", "veiligheidsgaranties")
    assert (second.id, second.answerable, second.sources, second.facts) == ("q2", False, (), ())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "bad", "question": ', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, found list"),
        (_line(reference=_DROP), "missing field(s) reference"),
        (_line(note="extra"), "unknown field(s) note"),
        ('{"id": "a", "id": "b"}', "field 'id' appears twice"),
        (_line(id=3), "'id' must be a non-empty string"),
        (_line(question="   "), "'question' must be a non-empty string"),
        (_line(lang="eng"), "'lang' must be a two-letter lowercase language code"),
        (_line(lang="EN"), "'lang' must be a two-letter lowercase language code"),
        (_line(answerable="yes"), "'answerable' must be true or false"),
        (_line(sources="000.txt"), "'sources' must be a list of non-empty strings"),
        (_line(sources=["a.txt", ""]), "'sources' must be a list of non-empty strings"),
        (_line(sources=["a.txt", "a.txt"]), "'sources' lists a document twice"),
        (_line(facts=[["x"], "y"]), "fact 2 must be a non-empty list"),
        (_line(facts=[[]]), "fact 1 must be a non-empty list"),
        (_line(facts={"x": 1}), "'facts' must be a list of facts, not dict"),
        (_line(reference=None), "'reference' must be a string, not null"),
        (_line(sources=[]), "an answerable question needs at least one source"),
        (_line(facts=[]), "an answerable question needs at least one fact"),
        (_line(answerable=False), "an unanswerable question must have empty 'sources' and 'facts'"),
    ],
)
def test_a_malformed_line_is_named_by_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = _write(tmp_path, json.dumps(GOOD), line, json.dumps(UNANSWERABLE))
    with pytest.raises(GoldFormatError) as err:
        load_gold(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2: ")
    assert reason in message
    assert "\n" not in message


def test_a_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(GOOD), "", json.dumps({**UNANSWERABLE, "id": "q1"}))
    with pytest.raises(GoldFormatError, match=r":3: duplicate id 'q1' \(first on line 1\)$"):
        load_gold(path)


def test_missing_empty_and_folder_paths_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError, match=r"nope\.jsonl: no such gold file$"):
        load_gold(tmp_path / "nope.jsonl")
    with pytest.raises(GoldFormatError, match="holds no questions"):
        load_gold(_write(tmp_path, "", "  "))
    with pytest.raises(GoldFormatError, match="is a folder"):
        load_gold(tmp_path)
    assert issubclass(GoldFormatError, CiteqaError)  # the CLI prints it as one line


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(GoldFormatError, match="not UTF-8"):
        load_gold(path)


@pytest.mark.parametrize(
    ("path", "count"),
    [
        (ROOT / "gold" / "seeds.jsonl", 94),
        (ROOT / "gold" / "dev.jsonl", 36),
    ],
)
def test_the_shipped_gold_sets_validate(path: Path, count: int) -> None:
    gold = load_gold(path)
    assert len(gold) == count
    seeds = {p.name for p in (ROOT / "seeds").iterdir()}
    assert {s for q in gold for s in q.sources} <= seeds
    assert {q.lang for q in gold} == {"en", "nl", "de"}
