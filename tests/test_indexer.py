"""The index builder and store, with the fake embedder: incremental, atomic, refusing mismatches."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SEEDS
from tests.fakes import FakeEmbedder
from vectorstore import faiss_index, store
from vectorstore.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexNotBuilt
from vectorstore.indexer import build, build_lock, fingerprint_for
from vectorstore.ingest.chunking import chunk_document
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.types import Chunk, Document, Span

GLYPHS = "ƟŌƩƫĬﬁﬂﬀﬃﬄ"


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(SEEDS, target)
    return target


def _build(paths: list[Path], index_dir: Path, embedder: FakeEmbedder, **kw: object):  # type: ignore[no-untyped-def]
    return build(
        paths, index_dir, embedder=embedder, chunking=ChunkingSettings(), store_settings=StoreSettings(), **kw
    )


def test_seed_index_is_clean_and_pickle_free(collection: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    report = _build([collection], index_dir, FakeEmbedder())
    assert len(report.added) == 5 and report.documents == 5 and not report.skipped
    assert (index_dir / "manifest.json").is_file()
    suffixes = {p.suffix for p in index_dir.iterdir()}
    assert suffixes <= {".json", ".jsonl", ".npy", ".faiss", ".lock", ""}
    for path in index_dir.iterdir():
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path.name} looks like a pickle"
    data = store.load(index_dir)
    assert {c.doc_id for c in data.chunks} == {p.name for p in SEEDS.glob("*.txt")}
    for chunk in data.chunks:
        assert not any(g in chunk.text for g in GLYPHS)
        assert "-\n" not in chunk.text
        assert "Zum Inhalt springen" not in chunk.text
        assert "Entsperren Sie den" not in chunk.text
        assert data.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    kujat = data.documents["000_d6b9d14a00a44e16.txt"].meta
    assert (kujat.title, kujat.publisher, kujat.date, kujat.language) == (
        "Rusland wil onderhandelen!",
        "EMMA",
        "2023-03-04",
        "nl",
    )
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["model_id"] == "fake-embedder" and manifest["dimension"] == 64
    assert set(manifest["documents"]) == {c.doc_id for c in data.chunks}
    assert manifest["chunking"] == ChunkingSettings().model_dump()


def test_unchanged_collection_embeds_nothing_and_writes_nothing(collection: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = FakeEmbedder()
    _build([collection], index_dir, embedder)
    before = {p.name: p.stat().st_mtime_ns for p in index_dir.iterdir()}
    report = _build([collection], index_dir, embedder)
    assert report.nothing_changed and len(report.unchanged) == 5
    assert len(embedder.calls) == 1
    assert {p.name: p.stat().st_mtime_ns for p in index_dir.iterdir()} == before


def test_add_change_remove_reembed_only_that_file(collection: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = FakeEmbedder()
    _build([collection], index_dir, embedder)
    first = store.load(index_dir)

    (collection / "extra.md").write_text(
        "# Extra\n\nEen nieuw document over vrede in Istanbul.\n", encoding="utf-8"
    )
    report = _build([collection], index_dir, embedder)
    assert report.added == ["extra.md"] and len(report.unchanged) == 5
    added = store.load(index_dir)
    assert embedder.calls[-1] == sum(s.doc_id == "extra.md" for s in added.sentences)
    # Vectors of unchanged documents were carried over, not recomputed differently.
    row = next(i for i, c in enumerate(first.chunks) if c.doc_id.startswith("001"))
    new_row = next(i for i, c in enumerate(added.chunks) if c.id == first.chunks[row].id)
    assert np.array_equal(first.chunk_vectors[row], added.chunk_vectors[new_row])

    (collection / "extra.md").write_text("# Extra\n\nNu gaat het over iets anders.\n", encoding="utf-8")
    report = _build([collection], index_dir, embedder)
    assert report.changed == ["extra.md"] and not report.added

    (collection / "extra.md").unlink()
    calls = len(embedder.calls)
    report = _build([collection], index_dir, embedder)
    assert report.removed == ["extra.md"] and len(embedder.calls) == calls
    assert "extra.md" not in store.load(index_dir).documents


def test_chunk_vectors_are_the_length_weighted_mean_of_their_sentences(
    collection: Path, tmp_path: Path
) -> None:
    embedder = FakeEmbedder()
    report = _build([collection], tmp_path / "index", embedder)
    data = store.load(tmp_path / "index")
    assert embedder.calls == [len(data.sentences)] and report.embedded_texts == len(data.sentences)
    rows = data.sentence_row()
    for chunk, vector in zip(data.chunks, data.chunk_vectors, strict=True):
        weights = np.array([span.end - span.start for span in chunk.sentences], np.float32)
        mean = weights @ data.sentence_vectors[[rows[(chunk.doc_id, s.start)] for s in chunk.sentences]]
        assert np.allclose(vector, mean / np.linalg.norm(mean), atol=1e-6)
    # The FAISS index holds those vectors: a chunk's own vector finds it first.
    assert faiss_index.search(data.faiss, data.chunk_vectors[3:4], 1)[1][0][0] == 3


def test_embedded_chunk_vectors_embed_the_chunk_text_as_well(collection: Path, tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    chunking = ChunkingSettings(chunk_vectors="embedded")
    build(
        [collection], tmp_path / "index", embedder=embedder, chunking=chunking, store_settings=StoreSettings()
    )
    data = store.load(tmp_path / "index")
    assert embedder.calls == [len(data.chunks) + len(data.sentences)]
    assert np.allclose(data.chunk_vectors[0], embedder.embed_documents([data.chunks[0].text])[0], atol=1e-6)
    # An index built one way is refused by the other.
    with pytest.raises(IndexMismatch):
        _build([collection], tmp_path / "index", embedder)


def test_mismatched_model_or_format_is_refused_with_a_rebuild_hint(collection: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    _build([collection], index_dir, FakeEmbedder())
    other = fingerprint_for(FakeEmbedder(dimension=32, model_id="other-model"), ChunkingSettings())
    with pytest.raises(IndexMismatch) as err:
        store.load(index_dir, other)
    message = str(err.value)
    assert "other-model" in message and "citeqa index --rebuild" in message and "\n" not in message
    with pytest.raises(IndexMismatch):
        _build([collection], index_dir, FakeEmbedder(dimension=32, model_id="other-model"))
    report = _build([collection], index_dir, FakeEmbedder(dimension=32, model_id="other-model"), rebuild=True)
    assert len(report.added) == 5

    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["format_version"] = 99
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="format version 99"):
        store.load(index_dir, other)


def test_missing_and_foreign_and_truncated_indexes(tmp_path: Path, collection: Path) -> None:
    with pytest.raises(IndexNotBuilt, match="citeqa index"):
        store.load(tmp_path / "nothing")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("hello")
    with pytest.raises(IndexCorrupt, match="not a citeqa index"):
        store.load(foreign)
    index_dir = tmp_path / "index"
    _build([collection], index_dir, FakeEmbedder())
    vectors = next(index_dir.glob("vectors-*.faiss"))
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match="damaged"):
        store.load(index_dir)


def test_interrupted_build_leaves_the_previous_index(
    collection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    _build([collection], index_dir, FakeEmbedder())
    before = store.load(index_dir)
    (collection / "extra.txt").write_text("Een nieuw document. Het gaat over vrede.", encoding="utf-8")

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(faiss_index, "write", crash)
    with pytest.raises(KeyboardInterrupt):
        _build([collection], index_dir, FakeEmbedder())
    monkeypatch.undo()
    after = store.load(index_dir)
    assert set(after.documents) == set(before.documents)
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    # The next build finishes the job and clears the half-written generation.
    report = _build([collection], index_dir, FakeEmbedder())
    assert report.added == ["extra.txt"]
    generations = {p.name.rsplit("-", 1)[1].split(".")[0] for p in index_dir.glob("chunks-*.jsonl")}
    assert len(generations) == 1


def test_a_second_builder_is_refused_while_one_runs(collection: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with build_lock(index_dir), pytest.raises(IndexBusy, match="Another `citeqa index`"):
        _build([collection], index_dir, FakeEmbedder())


def test_bad_files_are_skipped_with_one_line_each(collection: Path, tmp_path: Path) -> None:
    (collection / "empty.txt").write_text("")
    (collection / "image.png").write_bytes(b"\x89PNG")
    (collection / "copy.txt").write_bytes((collection / "001_5b70a646f9b877f3.txt").read_bytes())
    outside = tmp_path / "secret.txt"
    outside.write_text("Geheim document met inhoud.")
    (collection / "link.txt").symlink_to(outside)
    report = _build([collection], tmp_path / "index", FakeEmbedder())
    assert report.documents == 5
    assert len(report.skipped) == 4
    joined = "\n".join(report.skipped)
    for name in ("empty.txt", "image.png", "copy.txt", "link.txt"):
        assert name in joined
    assert all("\n" not in line for line in report.skipped)


@pytest.mark.parametrize(("n", "dim"), [(1, 8), (37, 17), (3001, 33)])
def test_search_matches_brute_force(n: int, dim: int) -> None:
    rng = np.random.default_rng(n)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[: min(n, 5)] + 0.01 * rng.normal(size=(min(n, 5), dim)).astype(np.float32)
    index = faiss_index.build_index(vectors, StoreSettings())
    scores, ids = faiss_index.search(index, queries, 7)
    expected = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, : min(7, n)]
    assert np.array_equal(ids, expected)
    assert np.allclose(scores[:, 0], (queries @ vectors.T).max(axis=1), atol=1e-5)


def test_large_collections_get_an_approximate_index_with_good_recall() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 32)).astype(np.float32)
    vectors = centers[rng.integers(0, 50, 4000)] + 0.3 * rng.normal(size=(4000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss_index.build_index(vectors, StoreSettings(approximate_threshold=1000, nprobe=16))
    assert faiss_index.index_kind(index) == "ivf-flat"
    queries = vectors[:50]
    _, ids = faiss_index.search(index, queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)])
    assert recall >= 0.9


def test_a_document_read_differently_or_chunked_over_the_limit_before_is_embedded_again(
    collection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vectorstore.indexer
    import vectorstore.sources

    index_dir = tmp_path / "index"
    kujat = "000_d6b9d14a00a44e16.txt"

    def one_chunk_each(doc_id: str, text: str, settings: ChunkingSettings) -> list[Chunk]:
        # What the chunker did with text that had no sentence ends: one chunk, however long.
        return [Chunk(f"{doc_id}-all", doc_id, text, 0, len(text), (Span(0, len(text)),))]

    with monkeypatch.context() as patch:
        patch.setattr(
            vectorstore.indexer,
            "chunk_document",
            lambda d, t, s: one_chunk_each(d, t, s) if d == kujat else chunk_document(d, t, s),
        )
        _build([collection], index_dir, FakeEmbedder())
    assert max(len(c.text) for c in store.load(index_dir).chunks) > ChunkingSettings().max_chars
    report = _build([collection], index_dir, FakeEmbedder())
    assert report.changed == [kujat] and len(report.unchanged) == 4
    assert max(len(c.text) for c in store.load(index_dir).chunks) <= ChunkingSettings().max_chars

    real_load = vectorstore.sources.load_file

    def read_differently(path: Path, *args: object, **kw: object) -> tuple[list[Document], list[str]]:
        (doc,), inside = real_load(path, *args, **kw)  # type: ignore[arg-type]
        return [replace(doc, text=doc.text.replace("NAVO", "NATO")) if doc.doc_id == kujat else doc], inside

    monkeypatch.setattr(vectorstore.sources, "load_file", read_differently)
    report = _build([collection], index_dir, FakeEmbedder())
    assert report.changed == [kujat] and len(report.unchanged) == 4
    assert "NAVO" not in store.load(index_dir).documents[kujat].text
