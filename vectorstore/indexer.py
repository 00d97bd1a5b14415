"""Build or update an index from files: incremental per document, atomic, one builder at a time."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vectorstore import faiss_index, store
from vectorstore.chunking import chunk_document
from vectorstore.cleaning import CLEANING_VERSION
from vectorstore.embedding import Embedder
from vectorstore.errors import CiteqaError, IndexBusy, IndexCorrupt, IndexMismatch, IndexNotBuilt
from vectorstore.loaders import SIDECAR, SUPPORTED_SUFFIXES, load_document
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.store import Fingerprint, IndexData, SentenceRef
from vectorstore.types import Chunk, Document, content_hash

#: Receives the total number of texts to embed, returns a per-batch progress callback and a closer.
ProgressFactory = Callable[[int], tuple[Callable[[int], None], Callable[[], None]]]


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each: "<file>: <why>"
    by_others: list[str] = field(default_factory=list)  # added or changed, embedded by another indexer
    documents: int = 0
    chunks: int = 0
    embedded_texts: int = 0
    seconds: float = 0.0

    @property
    def nothing_changed(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        others = f" ({len(self.by_others)} of them by another indexer)" if self.by_others else ""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed{others}, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
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


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index folder, or raise IndexBusy at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(
                f"Another `citeqa index` is updating {index_dir}; try again when it ends."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def collect_files(paths: Sequence[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files to index as (path, collection root), and one-line reasons for what is passed over.

    Hidden files, the metadata sidecar and links that lead outside their collection are not followed.
    """
    found: list[tuple[Path, Path]] = []
    skipped: list[str] = []
    for given in paths:
        if not given.exists():
            skipped.append(f"{given}: no such file or folder")
            continue
        root = given if given.is_dir() else given.parent
        candidates = sorted(p for p in given.rglob("*")) if given.is_dir() else [given]
        real_root = root.resolve()
        for path in candidates:
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in path.relative_to(root).parts) or path.name == SIDECAR:
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                skipped.append(f"{rel}: a link to outside the collection, not followed")
                continue
            if path.is_dir():
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(f"{rel}: unsupported file type {path.suffix or '(none)'}")
                continue
            found.append((path, root))
    return found, skipped


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


def read_documents(paths: Sequence[Path], max_file_bytes: int, report: BuildReport) -> dict[str, Document]:
    """The documents under `paths` by id, in file order; what cannot be read, or repeats another
    document's text, goes to `report.skipped` with one line saying why."""
    files, report.skipped = collect_files(paths)
    documents: dict[str, Document] = {}
    seen_text: dict[str, str] = {}
    for path, root in files:
        try:
            doc = load_document(path, root, max_file_bytes)
        except CiteqaError as err:
            report.skipped.append(str(err))
            continue
        text_key = content_hash(doc.text, length=32)
        if text_key in seen_text:
            report.skipped.append(f"{doc.doc_id}: same text as {seen_text[text_key]}, indexed once")
            continue
        seen_text[text_key] = doc.doc_id
        documents[doc.doc_id] = doc
    return documents


def compare(documents: dict[str, Document], indexed: dict[str, str], report: BuildReport) -> None:
    """Sort `documents` into added, changed and unchanged against the indexed content hashes, and
    what is indexed but no longer there into removed."""
    for doc_id, doc in documents.items():
        if doc_id not in indexed:
            report.added.append(doc_id)
        elif indexed[doc_id] != doc.content_hash:
            report.changed.append(doc_id)
        else:
            report.unchanged.append(doc_id)
    report.removed = sorted(set(indexed) - set(documents))
    report.documents = len(documents)


def build(
    paths: Sequence[Path],
    index_dir: Path,
    *,
    embedder: Embedder,
    chunking: ChunkingSettings,
    store_settings: StoreSettings,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> BuildReport:
    """Bring the index in `index_dir` in line with the documents under `paths`.

    Only added or changed documents are embedded; when nothing changed nothing is written and the
    model is never loaded. Raises IndexBusy, IndexMismatch or IndexCorrupt as one-line errors.
    """
    started = time.perf_counter()
    report = BuildReport()
    with build_lock(index_dir):
        expected = fingerprint_for(embedder, chunking)
        old = _previous(index_dir, expected, rebuild)
        documents = read_documents(paths, store_settings.max_file_bytes, report)
        compare(documents, {d.doc_id: d.content_hash for d in old.documents.values()} if old else {}, report)

        if old is not None and report.nothing_changed:
            report.chunks = len(old.chunks)
        else:
            data = _assemble(
                documents,
                set(report.unchanged),
                old,
                expected,
                embedder,
                chunking,
                store_settings,
                progress,
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

    split = split_documents([d for d_id, d in documents.items() if d_id not in reuse], chunking)
    if split.texts:
        tick, close = progress(len(split.texts)) if progress else (None, None)
        try:
            embedded = embed_split(split, embedder, chunking, tick)
        finally:
            if close:
                close()
        report.embedded_texts = len(split.texts)
        chunk_rows.append(embedded.chunk_vectors)
        sentence_rows.append(embedded.sentence_vectors)
        chunks.extend(embedded.chunks)
        sentences.extend(embedded.sentences)

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
