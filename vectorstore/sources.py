"""What a build reads: the files under the given paths and the index's uploads, loaded and de-duplicated.

Hidden files, the metadata sidecar and links that lead outside their collection are not followed; a
file that cannot be read, or that repeats another's text or name, is passed over with one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vectorstore.errors import CiteqaError
from vectorstore.ingest.loaders import SIDECAR, SUPPORTED_SUFFIXES, load_file
from vectorstore.store import UPLOADS
from vectorstore.types import Document, content_hash


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


def exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long
        return False


def sources_of(paths: Sequence[Path], index_dir: Path) -> list[Path]:
    """`paths` without repeats, plus the index's own uploads folder when it has one."""
    sources: list[Path] = []
    seen: set[Path] = set()
    for path in [*paths, index_dir / UPLOADS]:
        key = path.resolve()
        if key not in seen and (path in paths or path.is_dir()):
            seen.add(key)
            sources.append(path)
    return sources


def load_documents(
    sources: Sequence[Path], max_bytes: int
) -> tuple[dict[str, Document], dict[Path, int], list[str]]:
    """Load the readable documents under `sources`.

    Returns:
        The documents by id, how many documents each source gave, and one line per file passed over.
    """
    documents: dict[str, Document] = {}
    per_source: dict[Path, int] = {}
    skipped: list[str] = []
    seen_text: dict[str, str] = {}
    for source in sources:
        files, passed_over = collect_files([source])
        skipped.extend(passed_over)
        per_source[source] = 0
        for path, root in files:
            try:
                docs, inside = load_file(path, root, max_bytes)
            except CiteqaError as err:
                skipped.append(str(err))
                continue
            skipped.extend(inside)
            for doc in docs:
                text_key = content_hash(doc.text, length=32)
                if text_key in seen_text:
                    skipped.append(f"{doc.doc_id}: same text as {seen_text[text_key]}, indexed once")
                    continue
                if doc.doc_id in documents:
                    skipped.append(f"{doc.doc_id}: another file has this name, indexed once")
                    continue
                seen_text[text_key] = doc.doc_id
                documents[doc.doc_id] = doc
                per_source[source] += 1
    return documents, per_source, skipped
