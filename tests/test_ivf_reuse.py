"""An update of a large index keeps its IVF lists: the previous generation's trained centroids (and the
sentence index's 8-bit ranges) are reused when the list count is unchanged and most vectors are kept,
instead of k-means again; a rebuild, another list count or a mostly new collection trains as before.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from tests.fakes import FakeEmbedder
from vectorstore import faiss_index, store
from vectorstore.indexer import build
from vectorstore.settings import ChunkingSettings, StoreSettings

LARGE = StoreSettings(approximate_threshold=100)


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _trained_then_refilled(previous: faiss.Index, vectors: np.ndarray) -> bytes:
    """What reuse must give: `previous` emptied of its vectors, then given `vectors`."""
    index = faiss.clone_index(previous)
    index.reset()
    index.add(vectors)
    index.nprobe = previous.nprobe
    return bytes(faiss.serialize_index(index))


def test_the_sentence_index_reuses_the_previous_lists_when_their_count_is_unchanged() -> None:
    old, new = _unit(5_003, 32, 1), _unit(5_010, 32, 2)  # sqrt: 70 lists both
    previous = faiss_index.sentence_index(old, LARGE)
    reused = faiss_index.sentence_index(new, LARGE, previous)
    assert reused is not None and previous is not None and reused.nlist == 70
    assert bytes(faiss.serialize_index(reused)) == _trained_then_refilled(previous, new)
    fresh = faiss_index.sentence_index(new, LARGE)
    assert fresh is not None and bytes(faiss.serialize_index(fresh)) != bytes(faiss.serialize_index(reused))


def test_the_sentence_index_trains_again_for_another_list_count() -> None:
    previous = faiss_index.sentence_index(_unit(5_003, 32, 1), LARGE)
    new = _unit(5_200, 32, 2)  # 72 lists
    again = faiss_index.sentence_index(new, LARGE, previous)
    fresh = faiss_index.sentence_index(new, LARGE)
    assert again is not None and fresh is not None and again.nlist == 72
    assert bytes(faiss.serialize_index(again)) == bytes(faiss.serialize_index(fresh))


def test_the_chunk_index_reuses_the_previous_lists_and_a_flat_one_is_unchanged() -> None:
    old, new = _unit(3_000, 32, 1), _unit(3_004, 32, 2)  # 4 sqrt(n): 219 lists both
    previous = faiss_index.build_index(old, LARGE)
    reused = faiss_index.build_index(new, LARGE, previous)
    assert isinstance(reused, faiss.IndexIVFFlat) and reused.nlist == 219
    assert bytes(faiss.serialize_index(reused)) == _trained_then_refilled(previous, new)
    small = StoreSettings()  # below the threshold: exact, whatever came before
    assert bytes(faiss.serialize_index(faiss_index.build_index(new, small, previous))) == bytes(
        faiss.serialize_index(faiss_index.build_index(new, small))
    )


def _collection(folder: Path, documents: int) -> None:
    folder.mkdir(exist_ok=True)
    for d in range(documents):
        sentences = [
            f"Report {d} says in line {j} that the river {j % 13} crossed the valley of town {d}."
            for j in range(60)
        ]
        (folder / f"doc{d:02d}.txt").write_text(" ".join(sentences) + "\n", encoding="utf-8")


def _build(docs: Path, index: Path, *, rebuild: bool = False) -> None:
    build(
        [docs],
        index,
        embedder=FakeEmbedder(),
        chunking=ChunkingSettings(),
        store_settings=LARGE,
        rebuild=rebuild,
    )


def _centroids(index: faiss.Index) -> np.ndarray:
    return index.quantizer.reconstruct_n(0, index.nlist)


def test_an_update_of_one_document_keeps_the_lists_and_a_rebuild_trains_them(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    _collection(docs, 30)
    _build(docs, index)
    before = store.load(index)
    assert before.sentence_index is not None and isinstance(before.faiss, faiss.IndexIVFFlat)
    changed = docs / "doc03.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "A new paragraph about the harbour.\n")
    _build(docs, index)
    after = store.load(index)
    assert after.sentence_index is not None and after.sentence_index.nlist == before.sentence_index.nlist
    assert np.array_equal(_centroids(after.sentence_index), _centroids(before.sentence_index))
    assert np.array_equal(_centroids(after.faiss), _centroids(before.faiss))
    assert after.sentence_index.ntotal == len(after.sentences) > len(before.sentences)

    fresh = tmp_path / "fresh"
    _build(docs, fresh)  # what a first build of the same files trains
    rebuilt = tmp_path / "rebuilt"
    _build(docs, rebuilt)
    _build(docs, rebuilt, rebuild=True)
    trained, retrained = store.load(fresh), store.load(rebuilt)
    assert retrained.sentence_index is not None and trained.sentence_index is not None
    assert not np.array_equal(_centroids(retrained.sentence_index), _centroids(after.sentence_index))
    assert np.array_equal(_centroids(retrained.sentence_index), _centroids(trained.sentence_index))


def test_an_update_that_replaces_most_documents_trains_the_lists_again(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    _collection(docs, 30)
    _build(docs, index)
    before = store.load(index)
    for d in range(4):  # 4 of 30 documents: more than a tenth of the vectors are new
        path = docs / f"doc{d:02d}.txt"
        path.write_text(path.read_text(encoding="utf-8").replace("river", "canal"), encoding="utf-8")
    _build(docs, index)
    after = store.load(index)
    assert after.sentence_index is not None and before.sentence_index is not None
    assert after.sentence_index.nlist == before.sentence_index.nlist
    assert not np.array_equal(_centroids(after.sentence_index), _centroids(before.sentence_index))
