"""What killed builds leave in an index folder is removed at the start of the next build, any build, even
one that changes nothing; the live generation and a build holding the lock are never touched (issue 22)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SEEDS
from tests.fakes import FakeEmbedder
from vectorstore import store
from vectorstore.build_lock import build_lock
from vectorstore.errors import IndexBusy, IndexCorrupt
from vectorstore.indexer import build
from vectorstore.settings import ChunkingSettings, StoreSettings

#: The files one killed build left: a whole generation but its manifest, and a manifest half written.
STALE = (
    "documents-0123456789ab.jsonl",
    "chunks-0123456789ab.jsonl",
    "sentences-0123456789ab.jsonl",
    "chunk_vectors-0123456789ab.npy",
    "sentence_vectors-0123456789ab.npy",
    "vectors-0123456789ab.faiss",
    "sentence_ann-0123456789ab.faiss",
    ".manifest-00112233aabbccdd.tmp",
)


def _build(docs: Path, index_dir: Path, rebuild: bool = False) -> list[str]:
    report = build(
        [docs],
        index_dir,
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(),
        store_settings=StoreSettings(),
        rebuild=rebuild,
    )
    return report.added


def _leave_stale(index_dir: Path) -> None:
    for name in STALE:
        (index_dir / name).write_bytes(b"\0" * 100_000)


def _live_files(index_dir: Path) -> dict[str, bytes]:
    manifest = json.loads((index_dir / store.MANIFEST).read_text(encoding="utf-8"))
    names = [entry["name"] for entry in manifest["files"].values()] + [store.MANIFEST]
    return {name: (index_dir / name).read_bytes() for name in names}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(SEEDS, target)
    return target


def test_an_update_that_changes_nothing_removes_what_a_killed_build_left(docs: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    _build(docs, index_dir)
    live = _live_files(index_dir)
    _leave_stale(index_dir)
    assert _build(docs, index_dir) == []  # nothing changed, nothing written
    assert not [name for name in STALE if (index_dir / name).exists()]
    assert _live_files(index_dir) == live
    assert len(store.load(index_dir).documents) == 5


def test_after_a_killed_first_build_the_rebuild_keeps_only_its_own_generation(
    docs: Path, tmp_path: Path
) -> None:
    """No manifest, only a killed first build's files (or a lost manifest): refused with the rebuild
    line, as before; the rebuild then leaves nothing of them."""
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    _leave_stale(index_dir)
    with pytest.raises(IndexCorrupt, match="not a citeqa index"):
        _build(docs, index_dir)
    assert len(_build(docs, index_dir, rebuild=True)) == 5
    assert not [name for name in STALE if (index_dir / name).exists()]
    assert len(store.load(index_dir).documents) == 5


def test_a_build_refused_for_another_one_running_touches_none_of_its_files(
    docs: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    _build(docs, index_dir)
    live = _live_files(index_dir)
    with build_lock(index_dir):  # another build, writing its generation right now
        _leave_stale(index_dir)
        with pytest.raises(IndexBusy):
            _build(docs, index_dir)
        assert all((index_dir / name).exists() for name in STALE)
    assert _live_files(index_dir) == live


def test_a_damaged_manifest_keeps_every_file_for_the_rebuild_to_replace(docs: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    _build(docs, index_dir)
    (index_dir / store.MANIFEST).write_text("{not json", encoding="utf-8")
    before = sorted(p.name for p in index_dir.iterdir())
    with pytest.raises(Exception, match="unreadable"):
        _build(docs, index_dir)
    assert sorted(p.name for p in index_dir.iterdir()) == before
