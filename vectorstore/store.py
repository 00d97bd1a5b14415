"""The on-disk index: FAISS vectors, JSONL chunk store and a manifest that says what built it.

Layout of an index folder (no pickle anywhere; numpy arrays are saved with allow_pickle=False):

    manifest.json                 written last, atomically: the only pointer to a generation
    documents-<gen>.jsonl         one document per line: id, metadata, content hash, cleaned text
    chunks-<gen>.jsonl            one chunk per line, line i = FAISS id i
    sentences-<gen>.jsonl         one sentence span per line, line i = sentence vector i
    chunk_vectors-<gen>.npy       float32 (n_chunks, dim), kept so unchanged documents are never re-embedded
    sentence_vectors-<gen>.npy    float32 (n_sentences, dim)
    vectors-<gen>.faiss           faiss.write_index of the chunk vectors
    sentence_ann-<gen>.faiss      only above `store.approximate_threshold` sentences: their approximate
                                  index (`faiss_index.sentence_index`); the vector files are then
                                  memory-mapped when loaded, and the manifest records what built the
                                  index and each document language's mean sentence vector

Above the threshold the three JSONL files are replaced by what a serving process can read per question
(`vectorstore.texts`), so that its memory grows with the vectors' index and not with the texts:

    texts-<gen>.sqlite            documents, chunks and the vocabulary, read per question
    sentence_spans-<gen>.npy      int64 (n_sentences, 3): document number, start, end (memory-mapped)
    features-<gen>.npz            the sentences' features (`vectorstore.features`), computed at build

A build writes a new generation beside the old one and only then replaces `manifest.json`, so a build
killed at any point leaves the previous index readable. The manifest records each file's size and
sha256; `load` checks both, so any edit of a file is caught, not only one that changes its size. Every
file is created with the process's umask, like any other file the user writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vectorstore import faiss_index, texts
from vectorstore.errors import IndexCorrupt, IndexMismatch, IndexNotBuilt, IndexUnreadable
from vectorstore.features import SentenceFeatures
from vectorstore.generations import LARGE_PARTS, OPTIONAL, PARTS, file_name
from vectorstore.index_data import Fingerprint, IndexData, SentenceIndex, SentenceRef
from vectorstore.index_folder import describe, location_problem
from vectorstore.types import Chunk, DocMeta, Document, Layout

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Fingerprint",
    "IndexData",
    "SentenceIndex",
    "SentenceRef",
    "load",
    "save",
]

FORMAT_VERSION = 2  # 2: documents carry their layout (where pages, slides and sections start)
MANIFEST = "manifest.json"


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: citeqa index --rebuild --index-dir {index_dir}"


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def file_digest(path: Path) -> str:
    """The sha256 of a file's content, hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(data: IndexData, index_dir: Path, generation: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Write `data` as generation `generation`, then point `manifest.json` at it atomically.

    Returns the manifest written. Files of other generations are left for `generations.prune` to remove.
    With an approximate sentence index the texts go into the text store instead of the JSONL tables.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    large = data.sentence_index is not None
    parts = LARGE_PARTS + OPTIONAL if large else PARTS
    files = {part: file_name(part, generation) for part in parts}
    if large:
        _save_texts(data, index_dir, files)
    else:
        _save_tables(data, index_dir, files)
    # asarray: no second copy of vectors that are float32 already (or memory-mapped, at scale).
    np.save(
        index_dir / files["chunk_vectors"], np.asarray(data.chunk_vectors, np.float32), allow_pickle=False
    )
    np.save(
        index_dir / files["sentence_vectors"],
        np.asarray(data.sentence_vectors, np.float32),
        allow_pickle=False,
    )
    faiss_index.write(data.faiss, index_dir / files["vectors"])
    approximate: dict[str, Any] = {}
    if data.sentence_index is not None:
        faiss_index.write(data.sentence_index, index_dir / files["sentence_ann"])
        approximate = {
            "sentence_index": {
                **faiss_index.sentence_index_kind(data.sentence_index),
                "language_means": language_means(data),
            }
        }
    for name in files.values():
        with (index_dir / name).open("rb") as fh:
            os.fsync(fh.fileno())
    manifest = {
        "format_version": FORMAT_VERSION,
        "generation": generation,
        **data.fingerprint.to_dict(),
        "faiss": faiss_index.index_kind(data.faiss),
        "counts": {
            "documents": len(data.documents),
            "chunks": len(data.chunks),
            "sentences": len(data.sentences),
        },
        "documents": {d.doc_id: {"content_hash": d.content_hash} for d in data.documents.values()},
        "files": {
            part: {
                "name": name,
                "bytes": (index_dir / name).stat().st_size,
                "sha256": file_digest(index_dir / name),
            }
            for part, name in files.items()
        },
        **approximate,
        **extra,
    }
    # Not mkstemp: its files are 0600, and a manifest only its writer can read makes the whole index
    # unreadable to anyone else (the other files get the umask's mode).
    tmp = index_dir / f".manifest-{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / MANIFEST)
    _fsync_dir(index_dir)
    return manifest


def _save_tables(data: IndexData, index_dir: Path, files: dict[str, str]) -> None:
    docs = [
        {
            "doc_id": d.doc_id,
            "meta": d.meta.to_dict(),
            "content_hash": d.content_hash,
            "text": d.text,
            "layout": d.layout.to_dict(),
        }
        for d in data.documents.values()
    ]
    _write_jsonl(index_dir / files["documents"], docs)
    _write_jsonl(index_dir / files["chunks"], [c.to_dict() for c in data.chunks])
    _write_jsonl(
        index_dir / files["sentences"],
        [{"doc_id": s.doc_id, "start": s.start, "end": s.end} for s in data.sentences],
    )


def _save_texts(data: IndexData, index_dir: Path, files: dict[str, str]) -> None:
    """The text store, the sentence rows as an array and the sentences' features."""
    doc_ids = data.feature_documents()
    number = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    spans = np.empty((len(data.sentences), 3), np.int64)
    for row, s in enumerate(data.sentences):
        spans[row] = (number[s.doc_id], s.start, s.end)
    np.save(index_dir / files["sentence_spans"], spans, allow_pickle=False)
    data.sentence_features().save(index_dir / files["features"])
    path = index_dir / files["texts"]
    path.unlink(missing_ok=True)  # a killed build's file of the same generation
    texts.write(path, (data.documents[d] for d in doc_ids), data.chunks, doc_ids)


def language_means(data: IndexData) -> dict[str, dict[str, Any]]:
    """Each document language's mean sentence vector and sentence count ('' for no language): what
    language centring (`qa.retrieve.evidence`) needs when not every sentence is scored."""
    codes, of = data.sentence_languages()
    dim = data.sentence_vectors.shape[1]
    sums = np.zeros((len(codes), dim), np.float64)
    counts = np.bincount(of, minlength=len(codes))
    for start in range(0, len(of), 200_000):  # the vectors may be a memory map: read in blocks
        block = np.asarray(data.sentence_vectors[start : start + 200_000], dtype=np.float64)
        which = of[start : start + 200_000]
        # One product per block (np.add.at, row by row, took 7.5 s of an update at 400k sentences).
        sums += (which[None, :] == np.arange(len(codes))[:, None]).astype(np.float64) @ block
    return {
        code: {"count": int(counts[i]), "mean": (sums[i] / max(counts[i], 1)).astype(np.float32).tolist()}
        for i, code in enumerate(codes)
    }


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of `index_dir`, or IndexNotBuilt / IndexCorrupt with a one-line message."""
    path = index_dir / MANIFEST
    try:
        present = path.is_file()
    except PermissionError as err:  # a folder this user may not enter
        raise unreadable(index_dir, err) from None
    except OSError:  # a name too long
        present = False
    if not present and (problem := location_problem(index_dir)) is not None:
        raise IndexNotBuilt(f"No index at {index_dir}, and none can be built there: {problem}.")
    try:
        if not present:
            if index_dir.is_dir() and any(_is_content(p) for p in index_dir.iterdir()):
                raise IndexCorrupt(
                    f"{index_dir} is not a citeqa index (no manifest.json); {rebuild_hint(index_dir)}"
                )
            raise IndexNotBuilt(
                f"No index at {index_dir}; build it with: citeqa index PATH --index-dir {index_dir}"
            )
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except PermissionError as err:
        raise unreadable(index_dir, err) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise IndexCorrupt(f"{path} is unreadable ({err}); {rebuild_hint(index_dir)}") from None
    except OSError as err:
        problem = describe(path, err)
        raise IndexCorrupt(f"{path} cannot be read ({problem}); {rebuild_hint(index_dir)}") from None
    return manifest


def unreadable(index_dir: Path, err: OSError) -> IndexUnreadable:
    """The one-line error for an index this user may not read: not damaged, so no rebuild hint."""
    name = Path(err.filename).name if err.filename else MANIFEST
    return IndexUnreadable(
        f"Cannot read the index at {index_dir}: no permission to read {name}; ask whoever built it to "
        f"make it readable (chmod -R a+rX {index_dir})."
    )


#: Not part of an index's generations, yet kept in its folder: the web chat's uploaded files.
UPLOADS = "uploads"


def _is_content(path: Path) -> bool:
    """A file that makes a folder without a manifest something other than an index not yet built."""
    return not path.name.startswith(".") and path.name != UPLOADS


def not_yet_built(index_dir: Path) -> bool:
    """No manifest, and nothing in the folder but hidden files (such as the build lock) and uploads."""
    if _is_file(index_dir / MANIFEST):
        return False
    try:
        return not index_dir.is_dir() or not any(_is_content(p) for p in index_dir.iterdir())
    except OSError:
        return True


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def check_fingerprint(manifest: dict[str, Any], expected: Fingerprint, where: str, hint: str) -> None:
    """Refuse, in one line ending with `hint`, an index (`where`: "at DIR", "in URL") of another
    format, model or dimension; both stores check this on every load."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatch(
            f"The index {where} has format version {version}, this citeqa reads {FORMAT_VERSION}; {hint}"
        )
    built = (manifest.get("model_id"), manifest.get("model_checksum"), manifest.get("dimension"))
    wanted = (expected.model_id, expected.model_checksum, expected.dimension)
    if built != wanted:
        raise IndexMismatch(
            f"The index {where} was built with model {built[0]} (dim {built[2]}), settings ask for "
            f"{wanted[0]} (dim {wanted[2]}); {hint}"
        )


def load(index_dir: Path, expected: Fingerprint | None = None) -> IndexData:
    """Read the generation `manifest.json` points at, checking checksums, counts and compatibility.

    Each file's sha256 is compared with the manifest's (a manifest from before checksums were
    recorded has sizes only), so an edited, truncated or swapped file is refused with the rebuild hint.
    """
    manifest = read_manifest(index_dir)
    if expected is not None:
        check_fingerprint(manifest, expected, f"at {index_dir}", rebuild_hint(index_dir))
    try:
        approximate = "sentence_index" in manifest
        large = "texts" in manifest["files"]
        parts = (LARGE_PARTS if large else PARTS) + (OPTIONAL if approximate else ())
        files = {part: index_dir / manifest["files"][part]["name"] for part in parts}
        for part, path in files.items():
            recorded = manifest["files"][part]
            if path.stat().st_size != recorded["bytes"]:
                raise ValueError(f"{path.name} has changed size")
            if "sha256" in recorded and file_digest(path) != recorded["sha256"]:
                raise ValueError(f"{path.name} has changed since it was written")
        features: SentenceFeatures | None = None
        text_store: texts.TextStore | None = None
        docs: Mapping[str, Document]
        chunks: Sequence[Chunk]
        sents: Sequence[SentenceRef]
        if large:
            text_store = texts.TextStore(files["texts"], rebuild_hint(index_dir))
            doc_ids = text_store.doc_ids()
            docs = texts.Documents(text_store, doc_ids)
            chunks = texts.Chunks(text_store, doc_ids, int(manifest["counts"]["chunks"]))
            spans = np.load(files["sentence_spans"], mmap_mode="r", allow_pickle=False)
            if spans.ndim != 2 or spans.shape[1] != 3:
                raise ValueError(f"{files['sentence_spans'].name} has the wrong shape")
            sents = texts.Sentences(spans, doc_ids)
            features = SentenceFeatures.load(files["features"])
            if len(features.usable) != len(sents):
                raise ValueError("the sentence features disagree with the sentences")
        else:
            docs, chunks, sents = _read_tables(files)
        # Above the threshold the vectors stay on disk: a question reads only the rows it scores.
        mmap: Literal["r"] | None = "r" if approximate else None
        chunk_vectors = np.load(files["chunk_vectors"], mmap_mode=mmap, allow_pickle=False)
        sentence_vectors = np.load(files["sentence_vectors"], mmap_mode=mmap, allow_pickle=False)
        index = faiss_index.read(files["vectors"], mapped=approximate)
        sentence_index = faiss_index.read(files["sentence_ann"], mapped=True) if approximate else None
        fingerprint = Fingerprint(
            manifest["model_id"],
            manifest["model_checksum"],
            manifest["dimension"],
            manifest["chunking"],
            manifest["cleaning_version"],
        )
        if (
            not (index.ntotal == len(chunks) == chunk_vectors.shape[0])
            or len(sents) != sentence_vectors.shape[0]
        ):
            raise ValueError("row counts disagree")
        if sentence_index is not None and sentence_index.ntotal != len(sents):
            raise ValueError("the sentence index disagrees with the sentences")
    except PermissionError as err:
        raise unreadable(index_dir, err) from None
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as err:
        raise IndexCorrupt(f"Index at {index_dir} is damaged ({err}); {rebuild_hint(index_dir)}") from None
    return IndexData(
        fingerprint,
        docs,
        chunks,
        sents,
        chunk_vectors,
        sentence_vectors,
        index,
        manifest,
        sentence_index,
        features,
        text_store,
    )


def _read_tables(
    files: dict[str, Path],
) -> tuple[dict[str, Document], list[Chunk], list[SentenceRef]]:
    docs = {}
    for row in _read_jsonl(files["documents"]):
        meta = DocMeta.from_dict(row["meta"])
        layout = Layout.from_dict(row["layout"])
        docs[row["doc_id"]] = Document(row["doc_id"], row["text"], meta, row["content_hash"], 0, layout)
    chunks = [Chunk.from_dict(row) for row in _read_jsonl(files["chunks"])]
    sents = [SentenceRef(r["doc_id"], r["start"], r["end"]) for r in _read_jsonl(files["sentences"])]
    return docs, chunks, sents
