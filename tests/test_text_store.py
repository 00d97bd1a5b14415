"""A large folder index reads its texts per question (`vectorstore.texts`), not all at load.

With the fake embedder and a threshold of one sentence the seeds are a "large" index: the build writes
the text store, the sentence rows and their features instead of the JSONL tables; loading reads no
document text and no chunk; a question reads the chunks of its window and the documents it quotes. The
stored features and vocabulary equal what the exact path computes from every text.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.engine import Engine
from qa.pipeline import answer_from_vector, embed_question
from qa.settings import Settings
from tests.conftest import SEEDS
from tests.fakes import FakeEmbedder
from vectorstore import store, texts
from vectorstore.errors import IndexCorrupt
from vectorstore.indexer import build
from vectorstore.settings import ChunkingSettings, StoreSettings

HITS = 24


def _build(docs: Path, index: Path, threshold: int) -> Any:
    return build(
        [docs],
        index,
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(),
        store_settings=StoreSettings(approximate_threshold=threshold, sentence_probe_share=1.0),
    )


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def large(tmp_path: Path, docs: Path) -> Path:
    index = tmp_path / "large"
    _build(docs, index, 1)
    return index


class Reads:
    """Counts what a text store is asked for: documents by number, chunks by row."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.documents: Counter[int] = Counter()
        self.chunks: Counter[int] = Counter()
        original = texts.TextStore.query

        def query(store_self: texts.TextStore, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
            rows = original(store_self, sql, params)
            if "FROM documents WHERE num" in sql:
                self.documents.update(params)
            if "FROM chunks WHERE row IN" in sql:
                self.chunks.update(row[0] for row in rows)
            return rows

        monkeypatch.setattr(texts.TextStore, "query", query)


def test_a_large_index_writes_a_text_store_instead_of_the_jsonl_tables(large: Path) -> None:
    files = store.read_manifest(large)["files"]
    assert {"texts", "sentence_spans", "features", "sentence_ann"} <= set(files)
    assert not {"documents", "chunks", "sentences"} & set(files)
    assert not list(large.glob("*.jsonl"))
    data = store.load(large)
    assert isinstance(data.documents, texts.Documents)
    assert isinstance(data.chunks, texts.Chunks)
    assert isinstance(data.sentences, texts.Sentences)
    assert isinstance(data.sentences.spans, np.memmap)


def test_loading_reads_no_text_and_a_question_reads_only_its_window(
    large: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reads = Reads(monkeypatch)
    engine = Engine.load(large, FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    assert not reads.documents and not reads.chunks, "loading read texts"
    question = "What did the Italian foreign minister Tajani say about China?"
    query, focus = embed_question(question, engine)
    answer = answer_from_vector(question, query, engine, Settings(), focus_vector=focus)
    assert not answer.refused and answer.citations
    total = len(engine.data.chunks)
    assert 0 < len(reads.chunks) < total / 2, (len(reads.chunks), total)
    assert max(reads.chunks.values()) <= 2, "a chunk was read again and again"
    read_docs = {engine.data.documents.ids[n] for n in reads.documents}  # type: ignore[attr-defined]
    assert {c.source for c in answer.citations} <= read_docs
    assert read_docs <= {engine.data.chunks[row].doc_id for row in reads.chunks}


def test_stored_features_and_vocabulary_equal_those_computed_from_every_text(
    large: Path, docs: Path, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    _build(docs, small, 50_000)
    exact = Engine.load(small, FakeEmbedder(), ChunkingSettings(), tmp_path)
    ann = Engine.load(large, FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    assert [(s.doc_id, s.start, s.end) for s in ann.data.sentences] == [
        (s.doc_id, s.start, s.end) for s in exact.data.sentences
    ]
    for name in ("usable", "sentence_chunk", "answer_rows", "asked_rows", "before_asked", "positions"):
        assert np.array_equal(getattr(ann.evidence, name), getattr(exact.evidence, name)), name
    assert ann.evidence.answer_rows.size, "the seeds' interviews have answers"
    assert np.array_equal(ann.evidence.previous, exact.evidence.previous)
    assert ann.evidence.language_codes == exact.evidence.language_codes
    assert np.array_equal(ann.evidence.language_of, exact.evidence.language_of)
    for name in ("Istanbul", "Finnland", "Finland", "Oekraine", "Selenskyj", "Australia", "Canberra", "NAVO"):
        assert ann.vocabulary.knows(name) == exact.vocabulary.knows(name), name
    for number in ("2022", "1754", "30", "99999"):
        assert ann.vocabulary.has_number(number) == exact.vocabulary.has_number(number), number
    assert sorted(ann.vocabulary.words) == sorted(exact.vocabulary.words)
    assert ann.data.chunk_counts() == exact.data.chunk_counts()
    assert ann.data.metas() == exact.data.metas()


def test_a_text_store_damaged_past_its_checksum_fails_in_one_line(large: Path) -> None:
    manifest = store.read_manifest(large)
    path = large / manifest["files"]["texts"]["name"]
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    with pytest.raises(IndexCorrupt, match="changed since it was written") as caught:
        store.load(large)
    assert "\n" not in str(caught.value)
    # Damage the checksum cannot see (a disk that returns other bytes than were written): the
    # manifest agrees with the file, and reading it still fails in one line with the rebuild hint.
    manifest["files"]["texts"]["sha256"] = store.file_digest(path)
    (large / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="text store .* is damaged .*citeqa index --rebuild") as caught:
        store.load(large)
    assert "\n" not in str(caught.value)


def test_an_update_above_the_threshold_embeds_only_the_changed_document(
    large: Path, docs: Path, tmp_path: Path
) -> None:
    changed = sorted(p for p in docs.iterdir() if p.suffix == ".txt")[0]
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\n\nDe haven van Rotterdam opende een nieuwe terminal.\n",
        encoding="utf-8",
    )
    report = _build(docs, large, 1)
    assert report.changed == [changed.name] and len(report.unchanged) == 4
    fresh = tmp_path / "fresh"
    _build(docs, fresh, 1)
    updated = Engine.load(large, FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    rebuilt = Engine.load(fresh, FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    assert len(updated.data.sentences) == len(rebuilt.data.sentences)
    for question in (
        "Welke terminal opende in Rotterdam?",
        "What did the Italian foreign minister Tajani say about China?",
    ):
        query, focus = embed_question(question, updated)
        a = answer_from_vector(question, query, updated, Settings(), focus_vector=focus)
        b = answer_from_vector(question, query, rebuilt, Settings(), focus_vector=focus)
        assert (a.text, a.refused) == (b.text, b.refused), question
    assert len(list(large.glob("texts-*.sqlite"))) == 1, "the previous generation's text store is pruned"
