"""Never lose an index (issue 13, cases 1 and 4-8), through the `citeqa` command line, with the fake model.

Cases 2 and 3 (an upload while serving, answers during a build) need the real model and server:
tests/test_robustness_serving.py; here only `citeqa ask` while a `citeqa index` runs.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa.engine
import vectorstore.models.embedding
from qa.cli import main
from qa.engine import clear_engines
from tests.fakes import FakeEmbedder
from tests.other_user import NOBODY, as_other_user, is_root, shared_folder
from vectorstore import store
from vectorstore.indexer import build
from vectorstore.ingest.loaders import load_document
from vectorstore.settings import ChunkingSettings, StoreSettings

DOCS = {
    "summit.txt": "Summit notes\n\nThe foreign ministers met in Bucharest. They discussed air defence.\n",
    "interview.txt": "Gesprek over Istanbul\n\nOekraïne bood in Istanbul neutraliteit aan.\n",
}
QUESTION = "Where did the foreign ministers meet?"
MAX_CHARS = ChunkingSettings().max_chars


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEmbedder]:
    """One fake model for `citeqa index` and `citeqa ask` alike."""
    fake = FakeEmbedder()
    monkeypatch.setattr(vectorstore.models.embedding, "SentenceTransformerEmbedder", lambda *a, **kw: fake)
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *a, **kw: fake)
    clear_engines()
    yield fake
    clear_engines()


def _docs(folder: Path, docs: dict[str, str] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _run(capfd: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    clear_engines()
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def _files(index_dir: Path) -> dict[str, bytes]:
    """Every file of the index but the build lock, with its content."""
    return {p.name: p.read_bytes() for p in index_dir.iterdir() if p.is_file() and p.name != ".lock"}


@pytest.fixture
def index(tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]) -> Path:
    index_dir = tmp_path / "index"
    assert _run(capfd, "index", _docs(tmp_path / "docs"), "--index-dir", index_dir)[0] == 0
    return index_dir


def _still_answers(capfd: pytest.CaptureFixture[str], index_dir: Path) -> None:
    code, out, err = _run(capfd, "ask", QUESTION, "--index-dir", index_dir)
    assert (code, err) == (0, "") and "Bucharest" in out


# ---------------------------------------------------------------------- case 1: a mistyped path


def test_case1_a_mistyped_path_refuses_in_one_line_and_leaves_the_index(
    index: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = _files(index)
    code, out, err = _run(capfd, "index", tmp_path / "dosc", "--index-dir", index)
    assert (code, out) == (1, "")
    assert err == (
        f"citeqa: {tmp_path / 'dosc'}: no such file or folder; the index at {index} was left as it was. "
        "Check the path, or add --prune to update without it.\n"
    )
    assert _files(index) == before
    _still_answers(capfd, index)


def test_case1_no_path_and_no_configured_collection_here_refuses(
    index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    before = _files(index)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no seeds/ here
    code, out, err = _run(capfd, "index", "--index-dir", index)
    assert (code, out) == (1, "")
    assert err == (
        f"citeqa: No path given, and the configured collection (seeds) is not in {elsewhere}; "
        "name what to index: citeqa index PATH [--index-dir DIR]\n"
    )
    assert _files(index) == before
    _still_answers(capfd, index)


def test_case1_an_empty_folder_refuses_rather_than_remove_every_document(
    index: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = _files(index)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n")  # unreadable files count as nothing
    code, out, err = _run(capfd, "index", empty, "--index-dir", index)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"citeqa: {empty}: no readable documents there, and the update would remove 2 documents "
        f"(interview.txt, summit.txt); the index at {index} was left as it was. "
        "Check the path, or add --prune to remove them."
    ]
    assert _files(index) == before
    _still_answers(capfd, index)


def test_case1_prune_removes_after_naming_and_counting_and_ask_says_the_index_is_empty(
    index: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capfd, "index", tmp_path / "dosc", "--prune", "--index-dir", index)
    assert code == 1  # nothing indexed
    assert "removing 2 documents no longer found: interview.txt, summit.txt" in err.splitlines()
    assert out.startswith("0 added, 0 changed, 2 removed")
    assert store.load(index).documents == {}
    code, out, err = _run(capfd, "ask", QUESTION, "--index-dir", index)
    assert (code, out) == (1, "")
    assert err == (
        f"citeqa: The index at {index} holds no documents yet; add some with: citeqa index PATH "
        f"--index-dir {index} (or upload files in the web chat).\n"
    )


def test_case1_removing_a_deleted_file_is_announced_before_it_happens(
    tmp_path: Path, embedder: FakeEmbedder
) -> None:
    docs = _docs(tmp_path / "docs")
    index_dir = tmp_path / "index"
    settings = {"embedder": embedder, "chunking": ChunkingSettings(), "store_settings": StoreSettings()}
    build([docs], index_dir, **settings)  # type: ignore[arg-type]
    generation = store.read_manifest(index_dir)["generation"]
    (docs / "interview.txt").unlink()
    heard: list[tuple[str, str]] = []
    report = build(
        [docs],
        index_dir,
        announce=lambda line: heard.append((line, store.read_manifest(index_dir)["generation"])),
        **settings,  # type: ignore[arg-type]
    )
    assert heard == [("removing 1 document no longer found: interview.txt", generation)]
    assert report.removed == ["interview.txt"] and set(store.load(index_dir).documents) == {"summit.txt"}


# ---------------------------------------------------------------------- case 3, from the command line


def test_case3_ask_during_an_update_answers_from_the_index_before_it_with_its_progress(
    index: Path, tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    gate = threading.Event()
    real_embed = embedder.embed_documents

    def held(texts, titles=None, progress=None):  # type: ignore[no-untyped-def]
        assert gate.wait(30), "the test never let the build go on"
        return real_embed(texts, titles, progress)

    embedder.embed_documents = held  # type: ignore[method-assign]
    docs = tmp_path / "docs"
    (docs / "extra.txt").write_text("Extra\n\nA new document about talks in Geneva. It is long.\n")
    update = threading.Thread(target=main, args=(["index", str(docs), "--index-dir", str(index)],))
    update.start()
    try:
        deadline = time.monotonic() + 30
        while not (index / ".progress").exists():  # the update has counted what it will embed
            assert time.monotonic() < deadline, "the update never reported its progress"
            time.sleep(0.01)
        code, out, err = _run(capfd, "ask", QUESTION, "--index-dir", index)
    finally:
        gate.set()
        update.join(30)
    assert code == 0 and "citeqa:" not in err  # stderr holds the update's own progress bar
    assert "Bucharest" in out
    assert (
        "(An update of the index is running: embedding 0 of 3 passages. "
        "This answer is from the documents indexed before it.)"
    ) in out.splitlines()
    capfd.readouterr()
    code, out, _ = _run(capfd, "ask", QUESTION, "--index-dir", index)
    assert code == 0 and "update of the index" not in out


# ---------------------------------------------------------------------- case 4: text without sentence ends

FACT = "and at the very end the blue submarine visited the harbour of Bergen in October"
FILLER = "so um we were talking about the the weather and the roads and then you know it went on like that "


def _json_answer(capfd: pytest.CaptureFixture[str], index_dir: Path, question: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    code, out, err = _run(capfd, "ask", "--json", question, "--index-dir", index_dir)
    assert (code, err) == (0, "")
    return out, json.loads(out)


def test_case4_an_unpunctuated_transcript_is_cut_to_max_chars_and_its_last_fact_found(
    tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    transcript = "Transcript\n\n" + FILLER * 2200 + FACT + "\n"  # 212 KB, one paragraph, no sentence end
    assert len(transcript) > 210_000
    docs = _docs(tmp_path / "docs", {"transcript.txt": transcript})
    assert _run(capfd, "index", docs, "--index-dir", tmp_path / "index")[0] == 0
    data = store.load(tmp_path / "index")
    assert max(len(c.text) for c in data.chunks) <= MAX_CHARS
    assert max(s.end - s.start for s in data.sentences) <= MAX_CHARS
    out, result = _json_answer(capfd, tmp_path / "index", "Which harbour did the blue submarine visit?")
    assert "Bergen" in result["passages"][0]["text"]
    assert all(len(p["text"]) <= MAX_CHARS for p in result["passages"] + result["closest_matches"])
    assert len(out) < 20_000


def test_case4_a_3_mb_single_line_gives_a_bounded_answer(
    tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    line = (FILLER * 30_000)[:3_000_000] + " " + FACT
    docs = _docs(tmp_path / "docs", {"line.txt": line})
    assert _run(capfd, "index", docs, "--index-dir", tmp_path / "index")[0] == 0
    out, result = _json_answer(capfd, tmp_path / "index", "We were talking about the weather and the roads")
    assert len(out) < 20_000, f"{len(out):,} characters of JSON"
    assert len(result["answer"]) <= 4 * MAX_CHARS
    for citation in result["citations"]:
        assert len(citation["quote"]) <= MAX_CHARS and len(citation["passage"]) <= MAX_CHARS


# ---------------------------------------------------------------------- case 5: a few invalid bytes

GERMAN = (
    "Bericht aus München\n\nIm März trafen sich die Außenminister für zwei Tage. Die Gespräche über "
    "Sicherheitsgarantien verliefen schwierig, hieß es; eine Einigung gäbe es frühestens im Frühjahr.\n"
)
BAD_BYTES = b"\xff\xfe\xc3\x28\x80\x81"


def test_case5_utf8_with_a_few_bad_bytes_stays_utf8_and_the_bytes_are_counted(
    tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bericht.txt").write_bytes(GERMAN.encode() + BAD_BYTES + b" Ende.\n")
    (docs / "legacy.txt").write_bytes("Café\n\nDe naïeve façade – zei hij.\n".encode("cp1252"))
    text = load_document(docs / "bericht.txt", docs, 10_000).text
    assert "Im März trafen sich die Außenminister für zwei Tage." in text
    assert "hieß es; eine Einigung gäbe es frühestens im Frühjahr." in text
    assert "Г" not in text and "Ã" not in text
    assert load_document(docs / "legacy.txt", docs, 10_000).text == "Café\n\nDe naïeve façade – zei hij."
    code, out, err = _run(capfd, "index", docs, "--index-dir", tmp_path / "index")
    assert code == 0 and out.startswith("2 added")
    warning = "warning: bericht.txt: 5 invalid byte sequences replaced by U+FFFD (read as UTF-8)"
    assert warning in err.splitlines()


# ---------------------------------------------------------------------- cases 6 and 7: modes, checksums


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_case6_index_files_follow_the_umask_and_another_user_reads_the_index(
    umask: int, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    import faiss

    with shared_folder() as shared:
        docs, index_dir = _docs(shared / "docs"), shared / "index"
        for path in [docs, *docs.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        previous = os.umask(umask)
        try:
            assert _run(capfd, "index", docs, "--index-dir", index_dir)[0] == 0
        finally:
            os.umask(previous)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in index_dir.iterdir()}
        assert set(modes.values()) == {0o666 & ~umask}, {n: oct(m) for n, m in modes.items()}
        _still_answers(capfd, index_dir)  # also imports all that the other user's `ask` needs

        def ask_as_other_user() -> int:
            clear_engines()  # read the files again, as this user
            faiss.omp_set_num_threads(1)  # no OpenMP pool carried over the fork
            return main(["ask", QUESTION, "--index-dir", str(index_dir)])

        if umask & 0o004:
            return  # closed to others on purpose: the mode check above is the test
        outcome = as_other_user(ask_as_other_user)
        assert outcome.uid == (NOBODY if is_root() else os.geteuid())
        assert (outcome.error, outcome.code, outcome.err) == (None, 0, ""), outcome
        assert "Bucharest" in outcome.out


def test_case6_an_index_another_user_may_not_read_is_one_line_without_a_rebuild_hint(
    embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    with shared_folder() as shared:
        docs, index_dir = _docs(shared / "docs"), shared / "index"
        assert _run(capfd, "index", docs, "--index-dir", index_dir)[0] == 0
        _still_answers(capfd, index_dir)
        chunks = index_dir / store.read_manifest(index_dir)["files"]["chunks"]["name"]
        chunks.chmod(0o000 if not is_root() else 0o600)  # as root the other user is `nobody`

        def ask_as_other_user() -> int:
            clear_engines()  # read the files again, as this user
            return main(["ask", QUESTION, "--index-dir", str(index_dir)])

        for closed in (chunks.name, store.MANIFEST):
            if closed == store.MANIFEST:  # the whole folder closed: not even its manifest is reached
                index_dir.chmod(0o000 if not is_root() else 0o700)
            outcome = as_other_user(ask_as_other_user)
            assert (outcome.error, outcome.code, outcome.out) == (None, 1, ""), outcome
            assert outcome.err == (
                f"citeqa: Cannot read the index at {index_dir}: no permission to read {closed}; ask whoever "
                f"built it to make it readable (chmod -R a+rX {index_dir}).\n"
            )


def test_case7_an_edit_that_keeps_a_files_size_is_caught(
    index: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    chunks = index / store.read_manifest(index)["files"]["chunks"]["name"]
    size = chunks.stat().st_size
    rows = [json.loads(line) for line in chunks.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] = rows[0]["text"][::-1]
    chunks.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert chunks.stat().st_size == size
    code, out, err = _run(capfd, "ask", QUESTION, "--index-dir", index)
    assert (code, out) == (1, "")
    assert err == (
        f"citeqa: Index at {index} is damaged ({chunks.name} has changed since it was written); "
        f"rebuild it with: citeqa index --rebuild --index-dir {index}\n"
    )


# ---------------------------------------------------------------------- case 8: where the index cannot be


def test_case8_an_unwritable_index_folder_fails_before_embedding(
    embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    with shared_folder() as shared:
        docs = _docs(shared / "docs")
        assert _run(capfd, "index", docs, "--index-dir", shared / "warm")[0] == 0  # imports everything
        _still_answers(capfd, shared / "warm")
        closed = shared / "closed"
        closed.mkdir()
        (closed / ".lock").touch()
        (closed / ".lock").chmod(0o666)  # the lock can be taken: only the folder refuses new files
        closed.chmod(0o555)
        embedder.calls.clear()

        def index_there() -> int:
            code = main(["index", str(docs), "--index-dir", str(closed)])
            print(f"embedded {sum(embedder.calls)} texts")
            return code

        outcome = as_other_user(index_there)
        assert (outcome.error, outcome.code) == (None, 1), outcome
        assert outcome.out == "embedded 0 texts\n"
        assert outcome.err == (
            f"citeqa: Cannot write the index at {closed}: no permission to write in {closed}; "
            "choose another --index-dir.\n"
        )
        outcome = as_other_user(lambda: main(["ask", QUESTION, "--index-dir", str(closed / "index")]))
        assert (outcome.error, outcome.code, outcome.out) == (None, 1, ""), outcome
        assert outcome.err == (
            f"citeqa: No index at {closed / 'index'}, and none can be built there: "
            f"no permission to write in {closed}.\n"
        )


@pytest.mark.parametrize("where", ["under-a-file", "a-file", "name-too-long"])
def test_case8_path_problems_are_one_plain_line_and_ask_suggests_no_build_there(
    where: str, tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    docs = _docs(tmp_path / "docs")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a folder")
    long_name = "x" * 300
    too_long = f"the name '{'x' * 37}...' is longer than 255 bytes"
    index_dir, problem = {
        "under-a-file": (notes / "index", f"{notes} is a file, not a folder"),
        "a-file": (notes, f"{notes} is a file, not a folder"),
        "name-too-long": (tmp_path / long_name / "index", too_long),
    }[where]
    code, out, err = _run(capfd, "index", docs, "--index-dir", index_dir)
    assert (code, out) == (1, "")
    assert err == f"citeqa: Cannot write the index at {index_dir}: {problem}; choose another --index-dir.\n"
    assert embedder.calls == []
    code, out, err = _run(capfd, "ask", QUESTION, "--index-dir", index_dir)
    assert (code, out) == (1, "")
    assert err == f"citeqa: No index at {index_dir}, and none can be built there: {problem}.\n"
