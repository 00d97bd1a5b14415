"""Damaged, foreign, contended and killed indexes, through the `citeqa` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import cast

import pytest

import qa.engine
from qa.cli import main
from qa.engine import clear_engines
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder, index_with_fake
from vectorstore import store

DOCS = {
    "summit.txt": "Summit notes\n\nThe foreign ministers met in Bucharest. They discussed air defence.\n",
    "interview.txt": "Gesprek over Istanbul\n\nOekraïne bood in Istanbul neutraliteit aan.\n",
}
QUESTION = "Where did the foreign ministers meet?"

# `citeqa <argv>` in a child process whose embedder is the fake one, made to wait: it touches a marker
# file when embedding starts, then waits (at most 120 s) for a release file. Cross-process locking and
# SIGKILL need a real process.
SLOW_CITEQA = """
import pathlib, sys, time
import vectorstore.models.embedding
from tests.fakes import FakeEmbedder

class SlowEmbedder(FakeEmbedder):
    def embed_documents(self, texts, titles=None, progress=None):
        pathlib.Path(sys.argv[1]).touch()
        deadline = time.monotonic() + 120
        while not pathlib.Path(sys.argv[2]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().embed_documents(texts, titles, progress)

vectorstore.models.embedding.SentenceTransformerEmbedder = lambda *a, **kw: SlowEmbedder()
from qa.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _docs(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _build(docs: Path, index_dir: Path) -> None:
    index_with_fake(docs, index_dir)


def _slow_index(marker: Path, release: Path, docs: Path, index_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_CITEQA,
            str(marker),
            str(release),
            "index",
            str(docs),
            "--index-dir",
            str(index_dir),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never started embedding"
        time.sleep(0.05)


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    index_dir = tmp_path / "index"
    _build(_docs(tmp_path / "docs", DOCS), index_dir)
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    clear_engines()
    yield index_dir
    clear_engines()


def _part(index_dir: Path, part: str) -> Path:
    manifest = json.loads((index_dir / store.MANIFEST).read_text())
    return index_dir / manifest["files"][part]["name"]


def _edit_manifest(index_dir: Path, **changes: object) -> None:
    path = index_dir / store.MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _drop_a_line(path: Path) -> None:
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[1:]), encoding="utf-8")


def _garble_a_line_keeping_the_size(path: Path) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[0] = b"x" * len(lines[0])
    path.write_bytes(b"\n".join(lines))


DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "truncated-faiss": (lambda d: _truncate(_part(d, "vectors")), "is damaged"),
    "truncated-npy": (lambda d: _truncate(_part(d, "chunk_vectors")), "is damaged"),
    "missing-chunks": (lambda d: _part(d, "chunks").unlink(), "is damaged"),
    "chunk-line-removed": (lambda d: _drop_a_line(_part(d, "chunks")), "is damaged"),
    "chunk-line-garbled": (lambda d: _garble_a_line_keeping_the_size(_part(d, "chunks")), "is damaged"),
    "other-model": (lambda d: _edit_manifest(d, model_id="other-model", dimension=768), "model other-model"),
    # An index from before documents kept their pages (format 1) is refused, never misread.
    "other-format": (lambda d: _edit_manifest(d, format_version=1), "format version 1, this citeqa reads 2"),
    "manifest-garbage": (lambda d: (d / store.MANIFEST).write_text("{not json"), "is unreadable"),
    "manifest-lost": (lambda d: (d / store.MANIFEST).unlink(), "is not a citeqa index"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_or_foreign_index_is_one_line_saying_how_to_rebuild(
    index: Path, damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    spoil, expected = DAMAGE[damage]
    spoil(index)
    code = main(["ask", QUESTION, "--index-dir", str(index)])
    out, err = capfd.readouterr()
    assert code != 0 and out == ""
    assert err.startswith("citeqa: ") and err.count("\n") == 1, err
    assert expected in err
    assert f"citeqa index --rebuild --index-dir {index}" in err
    assert "Traceback" not in err


def test_the_rebuild_hint_works(
    index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import vectorstore.models.embedding

    _truncate(_part(index, "vectors"))
    monkeypatch.setattr(
        vectorstore.models.embedding, "SentenceTransformerEmbedder", lambda *a, **kw: FakeEmbedder()
    )
    assert main(["index", str(tmp_path / "docs"), "--rebuild", "--index-dir", str(index)]) == 0
    capfd.readouterr()
    clear_engines()
    assert main(["ask", QUESTION, "--index-dir", str(index)]) == 0
    assert "Bucharest" in capfd.readouterr().out


def test_a_second_index_run_refuses_and_the_first_finishes(tmp_path: Path) -> None:
    docs = _docs(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "index"
    release = tmp_path / "release"
    first = _slow_index(tmp_path / "first-started", release, docs, index_dir)
    try:
        _wait_for(tmp_path / "first-started", first)
        second = _slow_index(tmp_path / "second-started", release, docs, index_dir)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert err == f"citeqa: Another `citeqa index` is updating {index_dir}; try again when it ends.\n"
        assert not (tmp_path / "second-started").exists()
        release.touch()
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    finally:
        first.kill()
        first.wait()
    data = store.load(index_dir)
    assert set(data.documents) == set(DOCS)
    assert len(data.chunks) == data.faiss.ntotal == data.chunk_vectors.shape[0]


def test_a_build_killed_midway_leaves_the_previous_index(tmp_path: Path) -> None:
    docs = _docs(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "index"
    _build(docs, index_dir)
    before = store.load(index_dir)
    (docs / "extra.txt").write_text("Extra\n\nA new document about talks in Geneva.\n", encoding="utf-8")
    proc = _slow_index(tmp_path / "started", tmp_path / "never", docs, index_dir)
    try:
        _wait_for(tmp_path / "started", proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    after = store.load(index_dir)
    assert set(after.documents) == set(DOCS)
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    # The lock died with the process: the next build runs and adds the new document.
    _build(docs, index_dir)
    assert set(store.load(index_dir).documents) == {*DOCS, "extra.txt"}


def test_the_web_app_serves_no_index_or_model_files(tmp_path: Path) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    from tests.conftest import REAL_CACHE
    from tests.test_web_browser import start_app

    index_dir = tmp_path / "index"
    _build(_docs(tmp_path / "docs", DOCS), index_dir)
    targets = [
        index_dir / store.MANIFEST,
        _part(index_dir, "chunks"),
        index_dir,
        REAL_CACHE / "models" / "embeddinggemma-300m" / "config.json",
        REAL_CACHE / "models",
        ROOT / "pyproject.toml",
    ]
    app = cast(Generator[str, None, None], start_app(index_dir, tmp_path / "app.log"))
    url = next(app)
    try:
        for target in targets:
            for route in ("gradio_api/file=", "file=", "gradio_api/file/"):
                for path in (str(target), urllib.parse.quote(str(target))):
                    try:
                        with urllib.request.urlopen(f"{url}{route}{path}", timeout=10) as response:
                            status = response.status
                    except urllib.error.HTTPError as err:
                        status = err.code
                    assert status in (403, 404), (route, path, status)
    finally:
        app.close()
