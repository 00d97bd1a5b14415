"""The PostgreSQL store against a real PostgreSQL 18 + pgvector, with the fake embedder: the same index as
the folder, incremental per document, refusing mismatches, surviving SIGKILL, shared by two indexers."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from qa.engine import Engine
from qa.pipeline import answer_from_vector, embed_question
from qa.retrieve.window import open_window
from qa.settings import Settings
from tests.conftest import ROOT, SEEDS
from tests.fakes import FakeEmbedder
from tests.test_approximate import HITS, essence, gold_questions
from vectorstore.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from vectorstore.indexer import fingerprint_for
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.store import SentenceRef
from vectorstore.stores.factory import open_store
from vectorstore.stores.folder import FolderStore
from vectorstore.stores.pg_texts import PgChunks, PgDocuments
from vectorstore.stores.postgres import PostgresStore
from vectorstore.texts import Sentences
from vectorstore.types import Chunk, Document


def _pg(url: str, **settings: object) -> PostgresStore:
    store = open_store(StoreSettings(url=url, **settings), Path("unused"))  # type: ignore[arg-type]
    assert isinstance(store, PostgresStore)
    return store


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(SEEDS, target)
    return target


def _documents(folder: Path, n: int) -> Path:
    """`n` small documents on separate topics, titled "Topic 00", "Topic 01", ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"doc{i:02d}.txt").write_text(
            f"Topic {i:02d}\n\nThe river number {i} runs through the valley of stones. "
            f"Its bridge was built in {1900 + i} by the guild of masons {i}. "
            f"Fishermen catch trout number {i} there every spring.\n",
            encoding="utf-8",
        )
    return folder


def test_postgres_holds_exactly_the_index_the_folder_holds(
    pg_url: str, collection: Path, tmp_path: Path
) -> None:
    pg = _pg(pg_url)
    report = pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    assert sorted(report.added) == sorted(p.name for p in SEEDS.glob("*.txt"))
    folder = FolderStore(tmp_path / "index", StoreSettings())
    folder.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    ours, theirs = pg.load(), folder.load()
    assert ours.documents == theirs.documents
    assert ours.chunks == theirs.chunks
    assert ours.sentences == theirs.sentences
    assert np.array_equal(ours.chunk_vectors, theirs.chunk_vectors)
    assert np.array_equal(ours.sentence_vectors, theirs.sentence_vectors)
    assert (
        ours.manifest["counts"]
        == theirs.manifest["counts"]
        == {
            "documents": 5,
            "chunks": len(theirs.chunks),
            "sentences": len(theirs.sentences),
        }
    )
    assert report.chunks == len(theirs.chunks)
    with psycopg.connect(pg_url) as conn:
        kinds = dict(
            conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = 'citeqa_sentences'::regclass AND a.attnum > 0"
            ).fetchall()
        )
        indexes = {
            row[0] for row in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'citeqa%'")
        }
    assert kinds["embedding"] == "vector(64)"
    assert any("hnsw" in d and "halfvec_ip_ops" in d and "citeqa_sentences" in d for d in indexes)
    assert not any("gin" in d for d in indexes), "no lexical index: BM25 went with issue 14"
    pg.close()


def test_an_update_embeds_only_what_changed_each_document_in_one_step(pg_url: str, collection: Path) -> None:
    pg = _pg(pg_url)
    pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    first = pg.generation()
    again = FakeEmbedder()
    report = pg.index([collection], embedder=again, chunking=ChunkingSettings())
    assert report.nothing_changed and again.calls == [] and pg.generation() == first

    changed = sorted(collection.glob("*.txt"))[1]
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nEin neuer Satz über Brücken.\n", encoding="utf-8"
    )
    removed = sorted(collection.glob("*.txt"))[2]
    removed.unlink()
    (collection / "new.txt").write_text("A new note.\n\nThe harbour opened in 2031 with 17 berths.\n")
    embedder = FakeEmbedder()
    report = pg.index([collection], embedder=embedder, chunking=ChunkingSettings())
    assert (report.added, report.changed, report.removed) == (["new.txt"], [changed.name], [removed.name])
    assert embedder.calls == [report.embedded_texts], "what changed is embedded in one pass"
    generation = pg.generation()
    assert generation != first and generation.split(":")[0] == first.split(":")[0]
    assert int(generation.split(":")[1]) == int(first.split(":")[1]) + 3, "one step per document"

    data = pg.load()
    assert set(data.documents) == {p.name for p in collection.glob("*.txt")}
    assert "Ein neuer Satz über Brücken." in data.documents[changed.name].text
    assert not [c for c in data.chunks if c.doc_id == removed.name]
    for chunk in data.chunks:
        assert data.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    fresh = FakeEmbedder()
    rows = {(s.doc_id, s.start): i for i, s in enumerate(data.sentences)}
    new_sentence = data.documents["new.txt"].text.index("The harbour")
    row = rows[("new.txt", new_sentence)]
    assert data.sentence_vectors[row] @ fresh.embed_queries(["harbour opened 2031 berths"])[0] > 0.5
    pg.close()


def test_an_index_built_another_way_is_refused_in_one_line(pg_url: str, collection: Path) -> None:
    pg = _pg(pg_url)
    with pytest.raises(IndexNotBuilt, match="build it with: citeqa index --store"):
        pg.load()
    pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    other = FakeEmbedder(dimension=32, model_id="other-model", checksum="other")
    with pytest.raises(IndexMismatch) as err:
        pg.load(fingerprint_for(other, ChunkingSettings()))
    message = str(err.value)
    assert "built with model fake-embedder (dim 64)" in message and "other-model (dim 32)" in message
    assert "citeqa index --rebuild --store" in message and "\n" not in message
    with pytest.raises(IndexMismatch):
        pg.index([collection], embedder=other, chunking=ChunkingSettings())
    with pytest.raises(IndexMismatch, match="chunked or cleaned with other settings"):
        pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings(max_chars=400))
    report = pg.index([collection], embedder=other, chunking=ChunkingSettings(), rebuild=True)
    assert len(report.added) == 5
    assert pg.load(fingerprint_for(other, ChunkingSettings())).sentence_vectors.shape[1] == 32
    pg.close()


@pytest.mark.parametrize("threshold", [50_000, 1], ids=["exact", "hnsw"])
def test_vector_search_in_the_database_matches_brute_force(
    pg_url: str, collection: Path, threshold: int
) -> None:
    pg = _pg(pg_url, approximate_threshold=threshold)
    pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    data = _pg(pg_url).load()  # every vector (above its threshold `pg` loads none)
    rng = np.random.default_rng(7)
    found = expected = 0
    for _ in range(10):
        query = rng.standard_normal(64).astype(np.float32)
        query /= np.linalg.norm(query)
        truth = np.argsort(-(data.sentence_vectors @ query), kind="stable")[:7]
        hits = pg.search_sentences(query, 7)
        assert len(hits) == 7
        got = {(h.doc_id, h.start) for h in hits}
        want = {(data.sentences[i].doc_id, data.sentences[i].start) for i in truth}
        found, expected = found + len(got & want), expected + len(want)
        for h in hits:  # scores are the exact inner products, whichever way the rows were found
            row = data.sentence_row()[(h.doc_id, h.start)]
            assert h.score == pytest.approx(float(data.sentence_vectors[row] @ query), abs=1e-5)
        chunk_truth = np.argsort(-(data.chunk_vectors @ query), kind="stable")[:3]
        if threshold > 1:
            assert [h.chunk_id for h in pg.search_chunks(query, 3)] == [
                data.chunks[i].id for i in chunk_truth
            ]
    assert found / expected == 1.0 if threshold > 1 else found / expected >= 0.9
    pg.close()


def test_above_the_threshold_answers_read_only_their_window_and_match_the_exact_scan(
    pg_url: str, collection: Path, tmp_path: Path
) -> None:
    """Every gold question on the seeds: the same answer from the folder's exact scan and from a
    PostgreSQL index over its threshold, which holds no vector in memory and reads each question's."""
    pg = _pg(pg_url, approximate_threshold=1)
    pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    ann = Engine.load(pg, FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    assert ann.vectors.approximate and ann.data.sentence_vectors.shape[0] == 0
    assert ann.data.chunk_vectors.shape[0] == 0
    folder = FolderStore(tmp_path / "index", StoreSettings())
    folder.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    exact = Engine.load(folder, FakeEmbedder(), ChunkingSettings(), tmp_path)
    assert not exact.vectors.approximate
    settings = Settings()
    for question in gold_questions():
        query, focus = embed_question(question, exact)
        expected = answer_from_vector(question, query, exact, settings, focus_vector=focus)
        got = answer_from_vector(question, query, ann, settings, focus_vector=focus)
        assert essence(got) == essence(expected), question
        assert got.decision == pytest.approx(expected.decision), question
        assert [p.dense for p in got.passages] == pytest.approx(
            [p.dense for p in expected.passages], abs=1e-5
        )
    np.testing.assert_allclose(ann.calibration.probe_scores, exact.calibration.probe_scores, atol=1e-5)
    pg.close()


def _alive(kind: type) -> int:
    """How many objects of `kind` the process holds."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_above_the_threshold_a_reader_holds_no_text_and_a_question_reads_only_its_window(
    pg_url: str, collection: Path, tmp_path: Path
) -> None:
    """Issue 26: a reader of a large index keeps ids, offsets and features, never a document's text or
    a chunk; a question reads its window's chunks and the documents they come from, and nothing else.
    What it keeps is what the exact load would compute from all the texts."""
    pg = _pg(pg_url, approximate_threshold=1)
    pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    held = (_alive(Document), _alive(Chunk), _alive(SentenceRef))  # other tests' leftovers
    ann = Engine.load(pg, FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    data = ann.data
    assert isinstance(data.documents, PgDocuments) and isinstance(data.chunks, PgChunks)
    assert isinstance(data.sentences, Sentences)
    assert data.documents.cached() == [] and data.chunks.cached() == []
    assert (_alive(Document), _alive(Chunk), _alive(SentenceRef)) == held

    exact = _pg(pg_url).load()  # the same tables, read whole
    assert list(data.documents) == list(exact.documents) and len(data.chunks) == len(exact.chunks)
    assert list(data.sentences) == list(exact.sentences)
    assert data.sentence_row() == exact.sentence_row()
    for name in (
        "usable",
        "sentence_chunk",
        "previous",
        "document",
        "answer_rows",
        "asked_rows",
        "positions",
    ):
        np.testing.assert_array_equal(
            getattr(data.sentence_features(), name), getattr(exact.sentence_features(), name), name
        )
    assert data.sentence_languages()[0] == exact.sentence_languages()[0]
    np.testing.assert_array_equal(data.sentence_languages()[1], exact.sentence_languages()[1])
    assert set(data.vocabulary().words) == set(exact.vocabulary().words)
    assert data.chunk_counts() == exact.chunk_counts() and data.metas() == exact.metas()
    assert data.documents.cached() == [] and data.chunks.cached() == [], "metadata without texts"

    chunks = _alive(Chunk)  # the exact load's
    question = next(q for q in gold_questions() if q.startswith("Welke Turkse politicus"))  # cites 4
    query, focus = embed_question(question, ann)
    answer = answer_from_vector(question, query, ann, Settings(), focus_vector=focus)
    assert answer.citations
    read_chunks, read_documents = set(data.chunks.cached()), set(data.documents.cached())
    window = open_window(
        np.stack([query] if focus is None else [query, focus]),
        data,
        ann.evidence,
        ann.sentence_rows,
        ann.vectors,
        ann.hits,
    )
    assert read_chunks and read_chunks <= set(window.chunk_vectors)
    assert len(read_chunks) < len(data.chunks)
    assert read_documents <= {data.chunks[r].doc_id for r in read_chunks}
    assert _alive(Chunk) - chunks == len(read_chunks), "only the window's chunks were made"
    for row in read_chunks:
        assert data.chunks[row] == exact.chunks[row]
    for doc_id in read_documents:
        assert data.documents[doc_id] == exact.documents[doc_id]
    pg.close()


def test_above_the_threshold_a_changed_database_fails_the_question_in_one_line(
    pg_url: str, collection: Path, tmp_path: Path
) -> None:
    """Texts read per question must be the snapshot's: after another process changed the index, a
    read says so (the next question loads the new index) instead of quoting another version."""
    pg = _pg(pg_url, approximate_threshold=1)
    pg.index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    data = pg.load()
    first = data.chunks[0]
    changed = sorted(collection.glob("*.txt"))[0]
    changed.write_text("Neuer Anfang.\n\n" + changed.read_text(encoding="utf-8"), encoding="utf-8")
    _pg(pg_url).index([collection], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    assert data.chunks[0] == first, "what was read before stays as it was"
    for read in (
        lambda: data.documents[changed.name],
        lambda: data.chunks.many([len(data.chunks) - 1]),
        lambda: data.metas(),
    ):
        with pytest.raises(IndexCorrupt, match="changed while this question was answered") as err:
            read()
        assert "\n" not in str(err.value)
    fresh = pg.load()
    assert fresh.documents[changed.name].text.startswith("Neuer Anfang.")
    pg.close()


def _worker(url: str, docs: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pg_worker", url, str(docs), str(log), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for_line(log: Path, line: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (log.exists() and line in log.read_text(encoding="utf-8").splitlines()):
        if proc.poll() is not None:
            pytest.fail(f"worker exited early: {proc.stdout.read().decode() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"worker never reached {line!r}")
        time.sleep(0.1)


def test_a_sigkilled_indexer_leaves_every_document_old_or_new_and_its_claims_free(
    pg_url: str, tmp_path: Path
) -> None:
    docs = _documents(tmp_path / "docs", 4)
    pg = _pg(pg_url)
    pg.index([docs], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    before = pg.load()
    for name in ("doc01.txt", "doc02.txt"):
        path = docs / name
        path.write_text(
            path.read_text(encoding="utf-8") + "A second bridge followed in 2024.\n", encoding="utf-8"
        )
    log = tmp_path / "worker.log"
    proc = _worker(pg_url, docs, log, "--hang", "Topic 02", "--claim-texts", "1")  # a document at a time
    _wait_for_line(log, "Topic 02", proc)  # doc01 is written, doc02 is being embedded
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    after = pg.load()
    assert "A second bridge" in after.documents["doc01.txt"].text
    assert after.documents["doc02.txt"] == before.documents["doc02.txt"]
    old = [c for c in before.chunks if c.doc_id == "doc02.txt"]
    assert [c for c in after.chunks if c.doc_id == "doc02.txt"] == old
    assert after.manifest["counts"]["chunks"] == len(after.chunks)
    # The killed indexer's claim died with its connection: the next one takes doc02 up at once.
    embedder = FakeEmbedder()
    report = pg.index([docs], embedder=embedder, chunking=ChunkingSettings())
    assert report.changed == ["doc02.txt"] and len(embedder.calls) == 1
    assert "A second bridge" in pg.load().documents["doc02.txt"].text
    pg.close()


def test_two_indexers_share_the_documents_none_embedded_twice(pg_url: str, tmp_path: Path) -> None:
    docs = _documents(tmp_path / "docs", 12)
    _pg(pg_url).index([docs], embedder=FakeEmbedder(), chunking=ChunkingSettings(), rebuild=True)  # schema
    for path in docs.glob("*.txt"):
        path.write_text(path.read_text(encoding="utf-8") + "Changed.\n", encoding="utf-8")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_worker(pg_url, docs, log, "--delay", "0.4", "--claim-texts", "1") for log in logs]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    embedded = [log.read_text(encoding="utf-8").split() if log.exists() else [] for log in logs]
    titles = [f"Topic {i:02d}" for i in range(12)]
    done = (
        [" ".join(pair) for pair in zip(embedded[0][::2], embedded[0][1::2], strict=True)],
        [" ".join(pair) for pair in zip(embedded[1][::2], embedded[1][1::2], strict=True)],
    )
    assert not set(done[0]) & set(done[1]), "a document was embedded by both indexers"
    assert sorted(done[0] + done[1]) == titles
    print(f"\nindexer a embedded {len(done[0])}, indexer b {len(done[1])} of 12 documents")
    data = _pg(pg_url).load()
    assert all("Changed." in d.text for d in data.documents.values())
    assert data.manifest["counts"] == {
        "documents": 12,
        "chunks": len(data.chunks),
        "sentences": len(data.sentences),
    }


def test_the_engine_follows_the_database_without_a_restart(pg_url: str, tmp_path: Path) -> None:
    from qa.engine import get_engine
    from qa.pipeline import answer
    from qa.settings import Settings

    docs = _documents(tmp_path / "docs", 2)
    _pg(pg_url).index([docs], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    settings = Settings(store={"url": pg_url})  # type: ignore[arg-type]
    engine = get_engine(settings, FakeEmbedder())
    assert engine.status().startswith("2 documents") and get_engine(settings) is engine
    question = "When did the lighthouse of Texel get its lamp?"
    assert "lighthouse.txt" not in {c.source for c in answer(question, settings).citations}

    (docs / "lighthouse.txt").write_text(
        "Lighthouse\n\nThe lighthouse of Texel got its electric lamp in 1933 from the harbour guild.\n"
    )
    _pg(pg_url).index(
        [docs], embedder=FakeEmbedder(), chunking=ChunkingSettings()
    )  # as another process would
    reloaded = get_engine(settings)
    assert reloaded is not engine and reloaded.status().startswith("3 documents")
    assert answer(question, settings).citations[0].source == "lighthouse.txt"
