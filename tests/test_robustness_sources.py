"""What a build reads, from hostile collections, in both stores (the folder and a real PostgreSQL), with the
fake embedder: two folders holding the same file name both indexed and answerable, file names that are
not UTF-8, symlink loops and pipes each skipped with one line while the rest indexes (issue 22)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import qa.engine
import vectorstore.models.embedding
from qa.cli import main
from qa.engine import clear_engines
from tests.conftest import ROOT, SEEDS
from tests.fakes import FakeEmbedder
from vectorstore.settings import StoreSettings
from vectorstore.stores.factory import open_store

HARBOUR = (
    "Harbour notes\n\nThe harbour of Antwerp opened a new sea lock in 2016. "
    "Ships wait at the lock for the tide.\n"
)
ORCHARD = (
    "Orchard notes\n\nThe orchard near Lyon grows forty kinds of pears. "
    "The pickers harvest the pears in late September.\n"
)
GOOD = "Bridge notes\n\nThe old stone bridge over the river was rebuilt in 1952 by the town masons.\n"


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # `citeqa index` and `citeqa ask` import the embedder class when they run.
    monkeypatch.setattr(
        vectorstore.models.embedding, "SentenceTransformerEmbedder", lambda *a, **kw: FakeEmbedder()
    )
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *a, **kw: FakeEmbedder())
    clear_engines()


@pytest.fixture(params=["folder", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The CLI options of one store: the index folder, or a new database on the session's server."""
    options = ["--index-dir", str(tmp_path / "index")]
    if request.param == "postgres":
        options += ["--store", request.getfixturevalue("pg_url")]
    else:
        options += ["--store", ""]
    return options


def _index(paths: list[Path], where: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["index", *map(str, paths), *where])
    _, err = capfd.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err, err
    return code, [line.removeprefix("skipped ") for line in err.splitlines() if line.startswith("skipped ")]


def _doc_ids(where: list[str]) -> set[str]:
    url = where[where.index("--store") + 1]
    store = open_store(StoreSettings(url=url or None), Path(where[where.index("--index-dir") + 1]))
    try:
        return set(store.indexed_hashes())
    finally:
        store.close()


def _ask(question: str, where: list[str], capfd: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["ask", question, "--json", *where]) == 0
    out, _ = capfd.readouterr()
    result: dict[str, Any] = json.loads(out)
    return result


def test_two_folders_with_the_same_file_name_are_both_indexed_and_the_second_is_cited(
    tmp_path: Path, where: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    for folder, text in (("A", HARBOUR), ("B", ORCHARD)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text(text, encoding="utf-8")
    code, skipped = _index([tmp_path / "A", tmp_path / "B"], where, capfd)
    assert code == 0 and skipped == []
    # The first folder's file keeps the id it always had; the second is told apart by its folder.
    assert _doc_ids(where) == {"notes.txt", "B/notes.txt"}
    result = _ask("When do the pickers harvest the pears in the orchard near Lyon?", where, capfd)
    assert not result["refused"]
    assert [c["source"] for c in result["citations"]] == ["B/notes.txt"]
    assert "September" in result["answer"]
    result = _ask("When did the harbour of Antwerp open its new sea lock?", where, capfd)
    assert [c["source"] for c in result["citations"]] == ["notes.txt"]
    # The same command again: the same ids, nothing to do.
    assert _index([tmp_path / "A", tmp_path / "B"], where, capfd) == (0, [])
    assert _doc_ids(where) == {"notes.txt", "B/notes.txt"}
    clear_engines()


def test_xquad_german_and_english_articles_of_the_same_names_are_all_indexed(
    tmp_path: Path, where: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    """de/docs and en/docs share their folder name too: the English ones get the two last components."""
    xquad = tmp_path / "xquad-dev"
    for lang in ("de", "en"):
        shutil.copytree(ROOT / "gold" / "xquad-dev" / lang / "docs", xquad / lang / "docs")
    names = sorted(p.name for p in (xquad / "de" / "docs").glob("*.txt"))
    assert len(names) == 12 and names == sorted(p.name for p in (xquad / "en" / "docs").glob("*.txt"))
    code, skipped = _index([xquad / "de" / "docs", xquad / "en" / "docs"], where, capfd)
    assert code == 0 and skipped == []
    assert _doc_ids(where) == {*names, *(f"en/docs/{n}" for n in names)}


def test_one_folder_and_its_uploads_keep_the_ids_they_always_had(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The gold sets name documents by their file names: a one-folder index must keep them."""
    index_dir = tmp_path / "index"
    (index_dir / "uploads").mkdir(parents=True)
    (index_dir / "uploads" / "upload.txt").write_text(GOOD, encoding="utf-8")
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    (seeds / "sub").mkdir()
    (seeds / "sub" / "nested.txt").write_text(ORCHARD, encoding="utf-8")
    code, skipped = _index([seeds], ["--index-dir", str(index_dir), "--store", ""], capfd)
    assert code == 0 and skipped == []
    expected = {p.name for p in SEEDS.glob("*.txt")} | {"sub/nested.txt", "upload.txt"}
    assert _doc_ids(["--index-dir", str(index_dir), "--store", ""]) == expected


def test_file_names_that_are_not_utf8_are_skipped_with_one_line_and_the_rest_indexes(
    tmp_path: Path, where: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text(GOOD, encoding="utf-8")
    (docs / os.fsdecode(b"caf\xe9.txt")).write_text(HARBOUR, encoding="utf-8")
    (docs / os.fsdecode(b"\xff\xfe.md")).write_text(ORCHARD, encoding="utf-8")
    (docs / os.fsdecode(b"d\xe9r")).mkdir()
    (docs / os.fsdecode(b"d\xe9r") / "inside.txt").write_text("Inside notes\n\nA text inside.\n")
    code, skipped = _index([docs], where, capfd)
    assert code == 0
    assert sorted(skipped) == [
        "\\xff\\xfe.md: a file name that is not valid UTF-8, not read; rename it to index it",
        "caf\\xe9.txt: a file name that is not valid UTF-8, not read; rename it to index it",
        "d\\xe9r: a folder name that is not valid UTF-8, not read; rename it to index it",
    ]
    assert _doc_ids(where) == {"good.txt"}
    result = _ask("When was the old stone bridge rebuilt?", where, capfd)
    assert [c["source"] for c in result["citations"]] == ["good.txt"]
    clear_engines()


def test_a_sidecar_title_with_a_lone_surrogate_is_indexed_with_a_replacement_character(
    tmp_path: Path, where: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    """JSON may escape a lone surrogate; no UTF-8 file or database can hold one."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text(GOOD, encoding="utf-8")
    (docs / "citeqa.json").write_text(json.dumps({"good.txt": {"title": "Br\ud800cke"}}), encoding="utf-8")
    assert _index([docs], where, capfd) == (0, [])
    result = _ask("When was the old stone bridge rebuilt?", where, capfd)
    assert [(c["source"], c["title"]) for c in result["citations"]] == [("good.txt", "Br\ufffdcke")]
    clear_engines()


def test_symlink_loops_and_pipes_are_skipped_with_one_line_and_the_rest_indexes(
    tmp_path: Path, where: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    (docs / "sub" / "deeper").mkdir(parents=True)
    (docs / "good.txt").write_text(GOOD, encoding="utf-8")
    (docs / "sub" / "deeper" / "orchard.txt").write_text(ORCHARD, encoding="utf-8")
    (docs / "loop.txt").symlink_to("loop.txt")  # ln -s loop.txt loop.txt
    (docs / "loop").symlink_to("loop")
    (docs / "a.txt").symlink_to("b.txt")
    (docs / "b.txt").symlink_to("a.txt")
    (docs / "sub" / "deeper" / "up").symlink_to("..")  # a folder link back to its parent
    (docs / "sub" / "root").symlink_to(docs)  # and to the collection itself
    (docs / "sub" / "c.md").symlink_to("deeper/d.md")  # a cycle through another folder
    (docs / "sub" / "deeper" / "d.md").symlink_to("../c.md")
    os.mkfifo(docs / "pipe.txt")  # reading it would wait forever
    code, skipped = _index([docs], where, capfd)
    assert code == 0
    loop = "a symlink loop, not followed"
    assert sorted(skipped) == [
        f"a.txt: {loop}",
        f"b.txt: {loop}",
        f"loop.txt: {loop}",
        f"loop: {loop}",
        "pipe.txt: not a regular file",
        f"sub/c.md: {loop}",
        f"sub/deeper/d.md: {loop}",
    ]
    assert _doc_ids(where) == {"good.txt", "sub/deeper/orchard.txt"}


def test_a_folder_nested_deeper_than_the_recursion_limit_is_read(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text(GOOD, encoding="utf-8")
    levels = [docs]
    for _ in range(1200):  # 2400 characters: within PATH_MAX, beyond 1000 frames (mkdir -p recurses)
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    (levels[-1] / "deep.txt").write_text(ORCHARD, encoding="utf-8")
    where = ["--index-dir", str(tmp_path / "index"), "--store", ""]
    try:
        assert _index([docs], where, capfd) == (0, [])
        assert _doc_ids(where) == {"good.txt", "/".join(["d"] * 1200 + ["deep.txt"])}
    finally:  # from the bottom up: shutil.rmtree, which cleans tmp_path, recurses too
        (levels[-1] / "deep.txt").unlink()
        for level in reversed(levels[1:]):
            level.rmdir()
