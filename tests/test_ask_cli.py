"""`citeqa ask` end to end with the fake embedder: the --json object, and one-line errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa.engine
from qa import prompts
from qa.cli import main
from qa.engine import clear_engines
from tests.fakes import FakeEmbedder, fake_collection

SUMMIT = (
    "Summit notes\n\nThe foreign ministers met in Bucharest on 29 November 2022. "
    "The ministers discussed air defence for Ukraine. Ukraine asked for Patriot systems.\n"
)
INTERVIEW = "Gesprek over Istanbul\n\nWat bood Oekraïne aan in Istanbul?\n\nOekraïne bood neutraliteit aan.\n"
QUESTION = "What did the ministers discuss in Bucharest?"

# The keys the issue lists for `citeqa ask --json`, at each level.
ANSWER_KEYS = {"question", "answer", "refused", "mode", "language", "citations", "passages", "timings_ms"}
CITATION_KEYS = {"n", "source", "title", "date", "chunk_id", "quote", "score"}
PASSAGE_KEYS = {"source", "score"}
# Besides those the object carries the note on source languages, the refusal's closest matches and
# why it was answered or refused, the same object the web app's /ask endpoint returns
# (tests/test_web_api.py).
EXTRA_ANSWER_KEYS = {"note", "closest_matches", "decision", "retrieval_question", "history_used"}


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two documents indexed with the fake embedder; the CLI's engine gets the fake model too."""
    index_dir = fake_collection(tmp_path, {"summit.txt": SUMMIT, "interview.txt": INTERVIEW})
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    clear_engines()
    yield index_dir
    clear_engines()


def _ask_json(index: Path, question: str, capfd: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["ask", question, "--index-dir", str(index), "--json"]) == 0
    out, err = capfd.readouterr()
    assert err == ""
    result: dict[str, Any] = json.loads(out)  # the whole of stdout is one JSON object
    assert isinstance(result, dict)
    return result


def test_json_has_the_listed_keys_and_a_cited_answer(index: Path, capfd: pytest.CaptureFixture[str]) -> None:
    result = _ask_json(index, QUESTION, capfd)
    assert set(result) == ANSWER_KEYS | EXTRA_ANSWER_KEYS
    assert (result["question"], result["refused"], result["mode"], result["language"]) == (
        QUESTION,
        False,
        "extractive",
        "en",
    )
    assert result["answer"] == (
        "The foreign ministers met in Bucharest on 29 November 2022. [1] "
        "The ministers discussed air defence for Ukraine. [2]"
    )
    citations = result["citations"]
    assert isinstance(citations, list) and [c["n"] for c in citations] == [1, 2]
    for c in citations:
        assert set(c) >= CITATION_KEYS
        assert c["source"] == "summit.txt" and c["title"] == "Summit notes" and c["date"] is None
        assert f"{c['quote']} [{c['n']}]" in result["answer"]
        assert isinstance(c["chunk_id"], str) and c["chunk_id"] and isinstance(c["score"], float)
    passages = result["passages"]
    assert isinstance(passages, list) and len(passages) == 2
    for p in passages:
        assert set(p) >= PASSAGE_KEYS and isinstance(p["score"], float)
    assert [p["source"] for p in passages][0] == "summit.txt"
    assert result["note"] is None and result["closest_matches"] == []
    decision = result["decision"]
    assert decision["signal"] == "relevance" and decision["value"] >= decision["bar"]
    timings = result["timings_ms"]
    assert isinstance(timings, dict) and {"embed", "compose", "total"} <= set(timings)
    assert all(isinstance(v, int | float) and v >= 0 for v in timings.values())


def test_json_of_a_refusal_has_no_citations_and_the_closest_matches(
    index: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = _ask_json(index, "Wer gewann 1998 die Tour de France?", capfd)
    assert set(result) == ANSWER_KEYS | EXTRA_ANSWER_KEYS
    assert result["refused"] is True and result["language"] == "de"
    assert result["answer"] == prompts.REFUSAL["de"]
    assert result["citations"] == [] and result["closest_matches"] == result["passages"][:3] != []
    decision = result["decision"]  # why: its best sentence matches less than the collection's bar
    assert decision["signal"] == "relevance" and decision["value"] < decision["bar"]


def test_plain_output_lists_the_numbered_sources(index: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--index-dir", str(index)]) == 0
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert err == "" and lines[0].endswith("The ministers discussed air defence for Ukraine. [2]")
    assert lines[2] == "[1] Summit notes (summit.txt)"
    assert lines[3] == "    \u201cThe foreign ministers met in Bucharest on 29 November 2022.\u201d"


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
@pytest.mark.parametrize(
    ("question", "where", "extra", "expected"),
    [
        ("", "index", [], "The question is empty"),
        ("  \t \n ", "index", [], "The question is empty"),
        ("What " * 2_000, "index", [], "10,000"),
        ("What was\x1b[31m offered?", "index", [], "control characters"),
        ("What was offered\x00?", "index", [], "control characters"),
        (QUESTION, "missing", [], "No index at"),
        (QUESTION, "foreign", [], "is not a citeqa index"),
        (QUESTION, "index", ["--k", "0"], "--k must be between 1 and 50"),
    ],
    ids=["empty", "whitespace", "too-long", "escape", "nul", "missing-index", "not-an-index", "k-zero"],
)
def test_bad_input_is_one_line_on_stderr_and_a_nonzero_exit(
    index: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    question: str,
    where: str,
    extra: list[str],
    expected: str,
    as_json: bool,
) -> None:
    folders = {"index": index, "missing": tmp_path / "nowhere", "foreign": tmp_path / "docs"}
    argv = ["ask", question, "--index-dir", str(folders[where]), *extra, *(["--json"] if as_json else [])]
    code = main(argv)
    out, err = capfd.readouterr()
    assert code != 0
    assert out == ""
    assert err.startswith("citeqa: ") and err.endswith("\n") and err.count("\n") == 1
    assert expected in err
    assert "Traceback" not in out + err
