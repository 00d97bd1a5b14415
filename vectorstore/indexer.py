"""Build or update an index from files: incremental per document, atomic, one builder at a time.

An update never loses documents by accident: a path that is missing, or that holds no readable
document while the index has documents it would drop, refuses the whole update before anything is
written (unless the caller passes `prune`), and removals are announced before they happen.
The index's own `uploads/` folder is always one of its sources.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vectorstore import faiss_index, store
from vectorstore.build_lock import ProgressFactory, build_lock, recording_progress
from vectorstore.chunking import chunk_document
from vectorstore.cleaning import CLEANING_VERSION
from vectorstore.embedding import Embedder
from vectorstore.errors import (
    CiteqaError,
    IndexCorrupt,
    IndexMismatch,
    IndexNotBuilt,
    UpdateRefused,
)
from vectorstore.index_folder import ensure_writable
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.sources import exists, load_documents, sources_of
from vectorstore.store import Fingerprint, IndexData, SentenceRef
from vectorstore.types import Chunk, Document, content_hash


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each: "<file>: <why>"
    kept: list[str] = field(default_factory=list)  # not under the paths, kept as indexed (keep_others)
    warnings: list[str] = field(default_factory=list)  # indexed, with a caveat: "<file>: <what>"
    documents: int = 0
    chunks: int = 0
    embedded_texts: int = 0
    seconds: float = 0.0

    @property
    def nothing_changed(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        kept = f"{len(self.kept)} kept, " if self.kept else ""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {kept}{len(self.skipped)} skipped; "
            f"{self.documents} documents, {self.chunks} chunks in {self.seconds:.1f} s"
        )


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
    store.check_compatible(old.manifest, expected, index_dir)
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


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _names(doc_ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(doc_ids[:limit])
    return shown + (f" and {len(doc_ids) - limit:,} more" if len(doc_ids) > limit else "")


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
    missing = [p for p in paths if not exists(p)]
    if missing and not prune:
        raise UpdateRefused(
            f"{missing[0]}: no such file or folder; {_untouched(index_dir)}. "
            "Check the path, or add --prune to update without it."
        )
    ensure_writable(index_dir)
    with build_lock(index_dir):
        expected = fingerprint_for(embedder, chunking)
        old = _previous(index_dir, expected, rebuild)
        previous = _previous_ids(index_dir)
        sources = sources_of([p for p in paths if p not in missing], index_dir)
        documents, per_source, report.skipped = load_documents(sources, store_settings.max_file_bytes)

        old_docs = old.documents if old else {}
        # Passages longer than max_chars come from before long sentences were cut: chunk them again.
        oversized = {c.doc_id for c in old.chunks if len(c.text) > chunking.max_chars} if old else set()
        for doc_id, doc in documents.items():
            before = old_docs.get(doc_id)
            if before is None:
                report.added.append(doc_id)
            elif before.content_hash != doc.content_hash or before.text != doc.text or doc_id in oversized:
                report.changed.append(doc_id)  # edited, or read differently by this version
            else:
                report.unchanged.append(doc_id)
                continue
            if doc.replaced_bytes:
                report.warnings.append(
                    f"{doc_id}: {_count(doc.replaced_bytes, 'invalid byte sequence')} replaced by U+FFFD "
                    "(read as UTF-8)"
                )
        gone = sorted(previous - set(documents))
        if keep_others:
            report.kept = [d for d in gone if d in old_docs]
            documents.update((d, old_docs[d]) for d in report.kept)
            report.removed = [d for d in gone if d not in old_docs]  # only on a rebuild
        else:
            report.removed = gone
        if report.removed and not prune:
            empty = [p for p in sources if p in paths and not per_source[p]]
            if empty:
                raise UpdateRefused(
                    f"{empty[0]}: no readable documents there, and the update would remove "
                    f"{_count(len(report.removed), 'document')} ({_names(report.removed)}); "
                    f"{_untouched(index_dir)}. Check the path, or add --prune to remove them."
                )
        report.documents = len(documents)
        if report.removed and announce:
            removed = _count(len(report.removed), "document")
            announce(f"removing {removed} no longer found: {', '.join(report.removed)}")

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
            store.prune(index_dir, generation)
            report.chunks = len(data.chunks)
    report.seconds = time.perf_counter() - started
    return report


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
    chunk_rows: list[np.ndarray] = []
    sentence_rows: list[np.ndarray] = []
    # Reuse vectors of unchanged documents, in one slice per document.
    if old is not None and reuse:
        old_chunk_rows = [i for i, c in enumerate(old.chunks) if c.doc_id in reuse]
        old_sent_rows = [i for i, s in enumerate(old.sentences) if s.doc_id in reuse]
        chunks.extend(old.chunks[i] for i in old_chunk_rows)
        sentences.extend(old.sentences[i] for i in old_sent_rows)
        chunk_rows.append(old.chunk_vectors[old_chunk_rows])
        sentence_rows.append(old.sentence_vectors[old_sent_rows])

    new_docs = [d for d_id, d in documents.items() if d_id not in reuse]
    new_chunks: list[Chunk] = []
    new_sents: list[SentenceRef] = []
    for doc in new_docs:
        doc_chunks = chunk_document(doc.doc_id, doc.text, chunking)
        new_chunks.extend(doc_chunks)
        spans = sorted({s for c in doc_chunks for s in c.sentences}, key=lambda s: s.start)
        new_sents.extend(SentenceRef(doc.doc_id, s.start, s.end) for s in spans)
    titles = {d.doc_id: d.meta.title for d in new_docs}
    embed_chunks = chunking.chunk_vectors == "embedded"
    chunk_texts = [c.text for c in new_chunks] if embed_chunks else []
    texts = chunk_texts + [
        sentence_in_context(documents[s.doc_id].text, s.start, s.end, chunking.sentence_context_chars)
        for s in new_sents
    ]
    text_titles = [titles[c.doc_id] for c in new_chunks] if embed_chunks else []
    text_titles += [titles[s.doc_id] for s in new_sents]
    if texts:
        tick, close = progress(len(texts)) if progress else (None, None)
        try:
            vectors = embedder.embed_documents(texts, text_titles, progress=tick)
        finally:
            if close:
                close()
        report.embedded_texts = len(texts)
        new_sentence_vectors = vectors[len(chunk_texts) :]
        if embed_chunks:
            chunk_rows.append(vectors[: len(chunk_texts)])
        else:
            chunk_rows.append(chunk_vectors_from_sentences(new_chunks, new_sents, new_sentence_vectors))
        sentence_rows.append(new_sentence_vectors)
        chunks.extend(new_chunks)
        sentences.extend(new_sents)

    chunk_vectors = np.concatenate(chunk_rows) if chunk_rows else np.zeros((0, dim), np.float32)
    sentence_vectors = np.concatenate(sentence_rows) if sentence_rows else np.zeros((0, dim), np.float32)
    return IndexData(
        fingerprint=expected,
        documents=dict(sorted(documents.items())),
        chunks=chunks,
        sentences=sentences,
        chunk_vectors=chunk_vectors.astype(np.float32),
        sentence_vectors=sentence_vectors.astype(np.float32),
        faiss=faiss_index.build_index(chunk_vectors.astype(np.float32), store_settings),
    )
