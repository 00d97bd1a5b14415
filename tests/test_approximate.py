"""Above the approximate threshold: an ANN sentence index, and each question scores only its window.

With the fake embedder and a threshold of one sentence, the folder builds its IVF fast-scan index,
memory-maps its vectors, and answers every gold question on the seeds exactly as the exact scan does
(the PostgreSQL side of the same check is in `test_store_postgres.py`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.engine import Engine
from qa.pipeline import answer_from_vector, embed_question, validate_question
from qa.retrieve.evidence import Evidence
from qa.retrieve.window import language_means, open_window
from qa.settings import ComposeSettings, Settings
from tests.conftest import ROOT, SEEDS
from tests.fakes import FakeEmbedder
from vectorstore import faiss_index, store
from vectorstore.indexer import build
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.stores.base import ArrayVectors

#: Few hits, so that a window is a small part of this small collection (64 by default).
HITS = 24


def gold_questions() -> list[str]:
    lines = (ROOT / "gold" / "seeds.jsonl").open(encoding="utf-8")
    return [validate_question(json.loads(line)["question"]) for line in lines if line.strip()]


def essence(answer: Any) -> tuple[Any, ...]:
    """What a reader sees: the text, the refusal, the cited sentences and the passages, in order."""
    return (
        answer.text,
        answer.refused,
        [(c.source, c.chunk_id, c.quote) for c in answer.citations],
        [p.chunk_id for p in answer.passages],
    )


def _index(tmp_path: Path, name: str, threshold: int) -> Path:
    docs = tmp_path / "docs"
    if not docs.exists():
        shutil.copytree(SEEDS, docs)
    index = tmp_path / name
    build(
        [docs],
        index,
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(),
        # Every list visited: on 341 sentences the share that suits millions would leave the window
        # logic, which these tests check, to the luck of an 8-list index (recall: benchmarks/ann.py).
        store_settings=StoreSettings(approximate_threshold=threshold, sentence_probe_share=1.0),
    )
    return index


@pytest.fixture
def engines(tmp_path: Path) -> tuple[Engine, Engine]:
    exact = Engine.load(_index(tmp_path, "exact", 50_000), FakeEmbedder(), ChunkingSettings(), tmp_path)
    ann = Engine.load(_index(tmp_path, "ann", 1), FakeEmbedder(), ChunkingSettings(), tmp_path, HITS)
    return exact, ann


def test_above_the_threshold_the_folder_keeps_an_ann_index_and_maps_its_vectors(
    engines: tuple[Engine, Engine],
) -> None:
    exact, ann = engines
    assert not exact.vectors.approximate and "sentence_index" not in exact.data.manifest
    assert ann.vectors.approximate
    recorded = ann.data.manifest["sentence_index"]
    assert recorded["kind"] == "ivf-pq4-fastscan" and recorded["ntotal"] == len(ann.data.sentences)
    assert recorded["nprobe"] == recorded["nlist"] == 8  # sqrt(341) lists, but 40 training points each
    assert recorded["faiss_version"] and set(recorded["language_means"]) == {"de", "nl"}
    assert isinstance(ann.data.sentence_vectors, np.memmap)
    assert np.array_equal(np.asarray(ann.data.sentence_vectors), exact.data.sentence_vectors)


def test_every_gold_question_gets_the_exact_scan_answer_from_its_window(
    engines: tuple[Engine, Engine],
) -> None:
    exact, ann = engines
    settings = Settings()
    sizes = []
    for question in gold_questions():
        query, focus = embed_question(question, exact)
        expected = answer_from_vector(question, query, exact, settings, focus_vector=focus)
        got = answer_from_vector(question, query, ann, settings, focus_vector=focus)
        assert essence(got) == essence(expected), question
        assert got.decision == pytest.approx(expected.decision), question
        queries = np.stack([query] if focus is None else [query, focus])
        window = open_window(queries, ann.data, ann.evidence, ann.sentence_rows, ann.vectors, ann.hits)
        sizes.append(len(window.rows))
    # Not the whole collection in disguise: a window holds part of the sentences (whole chunks of a
    # small collection, so a large part).
    assert np.median(sizes) < len(ann.data.sentences) * 2 / 3


def test_the_calibration_from_nearest_probes_equals_the_exact_one(engines: tuple[Engine, Engine]) -> None:
    exact, ann = engines
    np.testing.assert_allclose(ann.calibration.probe_scores, exact.calibration.probe_scores, atol=1e-6)


def test_centring_by_mean_vectors_equals_centring_by_mean_similarities(
    engines: tuple[Engine, Engine],
) -> None:
    exact, _ = engines
    evidence: Evidence = exact.evidence
    assert len(evidence.languages) == 2
    query, focus = embed_question("What was offered at Istanbul?", exact)
    settings = ComposeSettings()
    vectors = exact.data.sentence_vectors
    assert focus is not None, "the question names a place the collection knows: it has a focus"
    queries = np.stack([query, focus])
    means = language_means(ArrayVectors(exact.data), evidence, queries)
    by_means = evidence.score(query, vectors, settings, focus, means)
    by_scan = evidence.score(query, vectors, settings, focus)
    np.testing.assert_allclose(by_means.sentences, by_scan.sentences, atol=1e-5)
    np.testing.assert_allclose(by_means.support, by_scan.support, atol=1e-5)


def test_an_index_whose_ann_file_was_swapped_is_refused(tmp_path: Path) -> None:
    index = _index(tmp_path, "ann", 1)
    manifest = store.read_manifest(index)
    path = index / manifest["files"]["sentence_ann"]["name"]
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(store.IndexCorrupt, match="changed since it was written"):
        store.load(index)


def test_the_sentence_index_visits_its_share_of_sqrt_n_lists_and_ranks_hits_exactly() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((5_003, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert faiss_index.sentence_index(vectors, StoreSettings(approximate_threshold=5_003)) is None
    index = faiss_index.sentence_index(vectors, StoreSettings(approximate_threshold=100))
    assert index is not None and (index.nlist, index.nprobe) == (70, 35)  # sqrt(5003), half of them
    index.nprobe = index.nlist  # every list: only the 8-bit codes stand between it and exact search
    queries = vectors[[0, 17, 4_999]] + 0.05 * rng.standard_normal((3, 48)).astype(np.float32)
    found = faiss_index.nearest_rescored(index, vectors, queries, 7, 14)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :7]
    assert np.array_equal(found, exact)
