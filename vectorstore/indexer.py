"""Build or update an index folder from files: incremental per document, atomic, one builder at a time.

What an update adds, changes, keeps and removes is decided by `vectorstore.changes` (shared with the
PostgreSQL store): it never loses documents by accident. The index's own `uploads/` folder is always
one of its sources. The splitting and embedding steps (`split_documents`, `embed_split`) are shared
with the PostgreSQL indexer too, so both stores hold the same vectors for the same files.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectorstore import faiss_index, generations, store
from vectorstore.build_lock import ProgressFactory, build_lock, recording_progress
from vectorstore.changes import BuildReport, compare, present_paths, read_documents, settle_removals
from vectorstore.errors import CiteqaError, IndexCorrupt, IndexMismatch, IndexNotBuilt
from vectorstore.index_folder import ensure_writable
from vectorstore.ingest.chunking import chunk_document
from vectorstore.ingest.cleaning import CLEANING_VERSION
from vectorstore.models.embedding import Embedder
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.store import Fingerprint, IndexData, SentenceRef
from vectorstore.types import Chunk, Document, content_hash
from vectorstore.vector_rows import Rows, gather, reused_sentences


def fingerprint_for(embedder: Embedder, chunking: ChunkingSettings) -> Fingerprint:
    return Fingerprint(
        model_id=embedder.model_id,
        model_checksum=embedder.fingerprint,
        dimension=embedder.dimension,
        chunking=chunking.model_dump(),
        cleaning_version=CLEANING_VERSION,
    )


def _previous(index_dir: Path, expected: Fingerprint, rebuild: bool) -> IndexData | None:
    if rebuild:
        return None
    try:
        old = store.load(index_dir)
    except IndexNotBuilt:
        return None
    except IndexCorrupt as err:
        raise IndexCorrupt(str(err)) from None
    store.check_fingerprint(old.manifest, expected, f"at {index_dir}", store.rebuild_hint(index_dir))
    if (
        old.fingerprint.chunking != expected.chunking
        or old.fingerprint.cleaning_version != expected.cleaning_version
    ):
        raise IndexMismatch(
            f"Index at {index_dir} was chunked or cleaned with other settings; "
            f"{store.rebuild_hint(index_dir)}"
        )
    return old


def _previous_ids(index_dir: Path) -> set[str]:
    """The documents the index holds now, from its manifest alone (also when it will be rebuilt)."""
    try:
        return set(store.read_manifest(index_dir).get("documents", {}))
    except CiteqaError:
        return set()


def build(
    paths: Sequence[Path],
    index_dir: Path,
    *,
    embedder: Embedder,
    chunking: ChunkingSettings,
    store_settings: StoreSettings,
    rebuild: bool = False,
    prune: bool = False,
    keep_others: bool = False,
    progress: ProgressFactory | None = None,
    announce: Callable[[str], None] | None = None,
) -> BuildReport:
    """Bring the index in `index_dir` in line with the documents under `paths` (and its uploads).

    Only added or changed documents are embedded; when nothing changed nothing is written and the
    model is never loaded.

    Args:
        paths: Files and folders to index.
        index_dir: The index folder; checked to be writable before anything is read.
        embedder: The model, loaded only if something must be embedded.
        chunking: How documents are cut into passages (part of the index's fingerprint).
        store_settings: File size limit and FAISS index choice.
        rebuild: Discard the old index's vectors and embed everything again.
        prune: Remove documents no longer found even when a path is missing or holds no documents
            (without it such an update is refused and nothing changes).
        keep_others: Keep the documents of the index that `paths` do not hold, as they are (the web
            chat: its collection is what the index holds plus its folders).
        progress: Progress bar factory for the embedding.
        announce: Receives one line naming the documents about to be removed, before they are.

    Raises:
        UpdateRefused: A path is missing, or holds no documents while the update would remove some.
        IndexUnwritable, IndexBusy, IndexMismatch, IndexCorrupt: As one-line errors.
    """
    started = time.perf_counter()
    report = BuildReport()
    present = present_paths(paths, prune=prune, untouched=_untouched(index_dir))
    ensure_writable(index_dir)
    with build_lock(index_dir):
        _discard_unfinished(index_dir)
        expected = fingerprint_for(embedder, chunking)
        old = _previous(index_dir, expected, rebuild)
        if old is None:
            # A first build or a rebuild embeds whatever it reads: load the model while the files are
            # read, cleaned and cut (an update may change nothing, and then never loads it).
            _load_meanwhile(embedder)
        documents, empty = read_documents(present, index_dir, store_settings.max_file_bytes, report)
        old_docs = old.documents if old else {}
        # Passages longer than max_chars come from before long sentences were cut: chunk them again;
        # so too a document this version reads differently (decoding) than the one that indexed it.
        stale = {c.doc_id for c in old.chunks if len(c.text) > chunking.max_chars} if old else set()
        stale |= {d for d, doc in documents.items() if d in old_docs and old_docs[d].text != doc.text}
        compare(documents, {d: doc.content_hash for d, doc in old_docs.items()}, report, stale)
        settle_removals(
            documents,
            _previous_ids(index_dir),
            old_docs,
            report,
            keep_others=keep_others,
            prune=prune,
            empty=empty,
            untouched=_untouched(index_dir),
            announce=announce,
        )
        documents.update((d, old_docs[d]) for d in report.kept)

        if old is not None and report.nothing_changed:
            report.chunks = len(old.chunks)
        else:
            data = _assemble(
                documents,
                {*report.unchanged, *report.kept},
                old,
                expected,
                embedder,
                chunking,
                store_settings,
                recording_progress(index_dir, progress),
                report,
            )
            generation = content_hash(f"{time.time_ns()}-{expected.model_checksum}", length=12)
            store.save(
                data, index_dir, generation, {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            )
            generations.prune(index_dir, generation)
            report.chunks = len(data.chunks)
    report.seconds = time.perf_counter() - started
    return report


def _discard_unfinished(index_dir: Path) -> None:
    """Remove the files of builds that were killed (up to a whole generation), before this one reads
    anything: all generation files but the live one's. The lock held keeps any other build out."""
    live: str | None = None
    try:
        generation = store.read_manifest(index_dir).get("generation")
    except IndexNotBuilt:
        pass
    except CiteqaError:
        return  # a damaged manifest: its files stay for `citeqa index --rebuild` to replace
    else:
        if not isinstance(generation, str):
            return  # likewise a manifest that names no generation
        live = generation
    with contextlib.suppress(OSError):  # what cannot be removed now, the next build tries again
        generations.prune(index_dir, live)


def _load_meanwhile(embedder: Embedder) -> None:
    """Start loading `embedder`'s model in a daemon thread; the first embedding call waits for it.

    A failure is left for that call to raise again, as a one-line error.
    """
    warm_up = getattr(embedder, "warm_up", None)
    if callable(warm_up):
        threading.Thread(target=_quietly, args=(warm_up,), name="citeqa-model-load", daemon=True).start()


def _quietly(load: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):
        load()


def _untouched(index_dir: Path) -> str:
    try:
        exists = (index_dir / store.MANIFEST).is_file()
    except OSError:
        exists = False
    return f"the index at {index_dir} was left as it was" if exists else "nothing was indexed"


def sentence_in_context(text: str, start: int, end: int, context_chars: int) -> str:
    """The sentence `text[start:end]` preceded by up to `context_chars` of what comes before it,
    starting at a word boundary."""
    begin = max(0, start - context_chars)
    if begin > 0:
        space = text.find(" ", begin, start)
        begin = space + 1 if space >= 0 else start
    return " ".join(text[begin:end].split())


def chunk_vectors_from_sentences(
    chunks: list[Chunk], sentences: list[SentenceRef], sentence_vectors: np.ndarray
) -> np.ndarray:
    """Each chunk's vector as the mean of its sentences' vectors weighted by sentence length, normalised.

    The sentences are embedded with the text before them anyway (they are what answers quote), so the
    chunk's own text need not be embedded a second time; on the gold sets retrieval is as good.
    """
    row = {(s.doc_id, s.start): i for i, s in enumerate(sentences)}
    out = np.zeros((len(chunks), sentence_vectors.shape[1]), np.float32)
    for i, chunk in enumerate(chunks):
        rows = [row[(chunk.doc_id, span.start)] for span in chunk.sentences]
        weights = np.array([span.end - span.start for span in chunk.sentences], np.float32)
        mean = weights @ sentence_vectors[rows]
        out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


@dataclass
class Split:
    """Documents cut into chunks and sentences, with the texts that embedding them takes."""

    chunks: list[Chunk]
    sentences: list[SentenceRef]
    texts: list[str]  # the chunks' texts first when chunks are embedded, then each sentence in context
    titles: list[str]  # the document title of each text


@dataclass
class Embedded:
    """Split documents with their vectors (float32, row i of a matrix belongs to item i of its list)."""

    chunks: list[Chunk]
    sentences: list[SentenceRef]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


def split_documents(docs: Sequence[Document], chunking: ChunkingSettings) -> Split:
    """Chunk `docs` and list the texts to embed: every sentence with the text before it, and the chunks
    too when `chunking.chunk_vectors` is 'embedded'."""
    chunks: list[Chunk] = []
    sents: list[SentenceRef] = []
    for doc in docs:
        doc_chunks = chunk_document(doc.doc_id, doc.text, chunking)
        chunks.extend(doc_chunks)
        spans = sorted({s for c in doc_chunks for s in c.sentences}, key=lambda s: s.start)
        sents.extend(SentenceRef(doc.doc_id, s.start, s.end) for s in spans)
    by_id = {d.doc_id: d for d in docs}
    embed_chunks = chunking.chunk_vectors == "embedded"
    texts = [c.text for c in chunks] if embed_chunks else []
    texts += [
        sentence_in_context(by_id[s.doc_id].text, s.start, s.end, chunking.sentence_context_chars)
        for s in sents
    ]
    titles = [by_id[c.doc_id].meta.title for c in chunks] if embed_chunks else []
    titles += [by_id[s.doc_id].meta.title for s in sents]
    return Split(chunks, sents, texts, titles)


def embed_split(
    split: Split, embedder: Embedder, chunking: ChunkingSettings, tick: Callable[[int], None] | None
) -> Embedded:
    """Embed a split's texts in one call; chunk vectors are the mean of their sentences' unless embedded."""
    dim = embedder.dimension
    vectors = (
        embedder.embed_documents(split.texts, split.titles, progress=tick)
        if split.texts
        else np.zeros((0, dim), np.float32)
    )
    n_chunk_texts = len(split.chunks) if chunking.chunk_vectors == "embedded" else 0
    sentence_vectors = vectors[n_chunk_texts:]
    chunk_vectors = (
        vectors[:n_chunk_texts]
        if n_chunk_texts
        else chunk_vectors_from_sentences(split.chunks, split.sentences, sentence_vectors)
    )
    return Embedded(
        split.chunks,
        split.sentences,
        np.asarray(chunk_vectors, np.float32).reshape(len(split.chunks), dim),
        np.asarray(sentence_vectors, np.float32).reshape(len(split.sentences), dim),
    )


#: An update that keeps at least this share of the previous vectors keeps the previous IVF indexes'
#: trained lists too (`faiss_index.build_index`'s `previous`); one that replaces more trains again.
REUSE_LISTS_SHARE = 0.9


def _assemble(
    documents: dict[str, Document],
    reuse: set[str],
    old: IndexData | None,
    expected: Fingerprint,
    embedder: Embedder,
    chunking: ChunkingSettings,
    store_settings: StoreSettings,
    progress: ProgressFactory | None,
    report: BuildReport,
) -> IndexData:
    dim = expected.dimension
    chunks: list[Chunk] = []
    sentences: list[SentenceRef] = []
    chunk_rows: list[Rows] = []
    sentence_rows: list[Rows] = []
    # Reuse vectors of unchanged documents, in one slice per document.
    if old is not None and reuse:
        old_chunks = list(old.chunks)  # one pass, in blocks, when they are read from a text store
        old_chunk_rows = [i for i, c in enumerate(old_chunks) if c.doc_id in reuse]
        old_sent_rows, reused = reused_sentences(old.sentences, reuse)
        chunks.extend(old_chunks[i] for i in old_chunk_rows)
        sentences.extend(reused)
        chunk_rows.append((old.chunk_vectors, old_chunk_rows))
        sentence_rows.append((old.sentence_vectors, old_sent_rows))

    split = split_documents([d for d_id, d in documents.items() if d_id not in reuse], chunking)
    if split.texts:
        tick, close = progress(len(split.texts)) if progress else (None, None)
        try:
            embedded = embed_split(split, embedder, chunking, tick)
        finally:
            if close:
                close()
        report.embedded_texts = len(split.texts)
        chunk_rows.append((embedded.chunk_vectors, None))
        sentence_rows.append((embedded.sentence_vectors, None))
        chunks.extend(embedded.chunks)
        sentences.extend(embedded.sentences)

    chunk_vectors = gather(chunk_rows, dim)
    sentence_vectors = gather(sentence_rows, dim)
    mostly_kept = (
        old is not None
        and bool(reuse)
        and len(chunks) - len(split.chunks) >= REUSE_LISTS_SHARE * len(chunks)
        and len(sentences) - len(split.sentences) >= REUSE_LISTS_SHARE * len(sentences)
    )
    return IndexData(
        fingerprint=expected,
        documents=dict(sorted(documents.items())),
        chunks=chunks,
        sentences=sentences,
        chunk_vectors=chunk_vectors,
        sentence_vectors=sentence_vectors,
        faiss=faiss_index.build_index(
            chunk_vectors, store_settings, old.faiss if old is not None and mostly_kept else None
        ),
        sentence_index=faiss_index.sentence_index(
            sentence_vectors, store_settings, old.sentence_index if old is not None and mostly_kept else None
        ),
    )
