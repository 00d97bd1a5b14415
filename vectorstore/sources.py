"""What a build reads: the files under the given paths and the index's uploads, loaded and de-duplicated.

Hidden files, the metadata sidecar and links that lead outside their collection are not followed; links
to folders are not descended into (what they hold is read where it really is), so no link cycle can make
a walk endless. A file that cannot be read, whose name is not valid UTF-8, that is a link loop, or that
repeats another's text is passed over with one line.

A document's id is its path relative to the folder it was given in (`seeds/a/b.txt` given as `seeds` is
`a/b.txt`), so one folder keeps the ids it always had. When an earlier path of the same build (in the
order given, the index's uploads last) already holds a document of that id, the later one is qualified
by as many of its folder's last components as set it apart: `citeqa index de/docs en/docs` indexes
`de/docs/x.txt` as `x.txt` and `en/docs/x.txt` as `en/docs/x.txt`. No file is dropped for its name.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from vectorstore.errors import CiteqaError
from vectorstore.ingest.loaders import SIDECAR, SUPPORTED_SUFFIXES, load_file
from vectorstore.store import UPLOADS
from vectorstore.types import Document, content_hash


def printable(name: str) -> str:
    """`name` with the bytes of a non-UTF-8 file name shown as `\\xe9` escapes: safe to print and store."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        try:
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that no file name decodes to
            return name.encode("utf-8", "backslashreplace").decode("ascii")
        return raw.decode("utf-8", "backslashreplace")


def _valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _link_problem(path: Path, real_root: Path) -> str | None:
    """Why the link `path` is not followed (None: it stays inside the collection)."""
    try:
        target = path.resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a symlink loop
        return "a symlink loop, not followed"
    if not target.is_relative_to(real_root):
        return "a link to outside the collection, not followed"
    return None


def _walk(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every entry below `folder` that is no folder, and (entry, reason) for what is passed over.

    Iterative, so a tree of any depth is walked without recursion; folders whose name is hidden or not
    valid UTF-8 and links to folders are not entered.
    """
    entries: list[Path] = []
    passed: list[tuple[Path, str]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                children = sorted(listing, key=lambda e: e.name)
        except OSError as err:
            passed.append((current, f"cannot be read ({err.strerror or err})"))
            continue
        for child in children:
            path = current / child.name
            if child.name.startswith("."):
                continue
            try:
                is_folder = child.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if not _valid_name(child.name):
                kind = "a folder name" if is_folder else "a file name"
                passed.append((path, f"{kind} that is not valid UTF-8, not read; rename it to index it"))
            elif is_folder:
                pending.append(path)
            else:
                entries.append(path)
    return entries, passed


def collect_files(paths: Sequence[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files to index as (path, collection root), and one-line reasons for what is passed over.

    Hidden files, the metadata sidecar and links that lead outside their collection are not followed.
    """
    found: list[tuple[Path, Path]] = []
    skipped: list[str] = []
    for given in paths:
        if not given.exists():
            skipped.append(f"{printable(str(given))}: no such file or folder")
            continue
        root = given if given.is_dir() else given.parent
        candidates, passed = _walk(given) if given.is_dir() else ([given], [])
        real_root = root.resolve()
        lines: list[tuple[Path, str]] = list(passed)
        for path in candidates:
            if path.name == SIDECAR:
                continue
            problem = _link_problem(path, real_root) if path.is_symlink() else None
            if problem is not None:
                lines.append((path, problem))
                continue
            if path.is_dir():  # a link to a folder of the collection: its files are read where they are
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                lines.append((path, f"unsupported file type {printable(path.suffix) or '(none)'}"))
                continue
            if not _regular_file(path):
                lines.append((path, "not a regular file"))
                continue
            found.append((path, root))
        found.sort()
        for path, why in sorted(lines, key=lambda line: line[0]):
            name = str(given) if path == root else path.relative_to(root).as_posix()
            skipped.append(f"{printable(name)}: {why}")
    return found, skipped


def _regular_file(path: Path) -> bool:
    """A plain file (not a pipe, socket or device, whose reading could block or never end)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True  # unreadable: loading it says why in one line


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
        try:
            key = path.resolve()
        except (RuntimeError, OSError):  # a link loop: it holds no files, and is no other path
            key = Path(os.path.abspath(path))
        if key not in seen and (path in paths or path.is_dir()):
            seen.add(key)
            sources.append(path)
    return sources


class _Names:
    """Hands out document ids: a file's path relative to its folder, qualified when already taken."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.roots: dict[str, list[tuple[str, ...]]] = {}  # relative path -> folders that hold one

    def propose(self, path: Path, root: Path) -> str | None:
        """The id `path` gets (None: the same file was given twice, every qualification is taken)."""
        rel = path.relative_to(root).as_posix()
        if rel not in self.taken:
            return rel
        folder = tuple(printable(part) for part in Path(os.path.abspath(root)).parts[1:])
        others = self.roots.get(rel, [])
        for depth in range(1, len(folder) + 1):
            # Enough components to tell this folder from every other one holding `rel`, then free.
            if any(other[-depth:] == folder[-depth:] for other in others):
                continue
            qualified = "/".join((*folder[-depth:], rel))
            if qualified not in self.taken:
                return qualified
        return None

    def take(self, doc_id: str, path: Path, root: Path) -> None:
        self.taken.add(doc_id)
        rel = path.relative_to(root).as_posix()
        self.roots.setdefault(rel, []).append(tuple(Path(os.path.abspath(root)).parts[1:]))


def load_documents(
    sources: Sequence[Path], max_bytes: int
) -> tuple[dict[str, Document], dict[Path, int], list[str]]:
    """Load the readable documents under `sources`, in order; see the module docstring for their ids.

    Returns:
        The documents by id, how many documents each source gave, and one line per file passed over.
    """
    documents: dict[str, Document] = {}
    per_source: dict[Path, int] = {}
    skipped: list[str] = []
    seen_text: dict[str, str] = {}
    names = _Names()
    for source in sources:
        files, passed_over = collect_files([source])
        skipped.extend(passed_over)
        per_source[source] = 0
        for path, root in files:
            doc_id = names.propose(path, root)
            if doc_id is None:  # the same file through two given paths (a folder and a file in it)
                skipped.append(f"{path.relative_to(root).as_posix()}: given twice, indexed once")
                continue
            try:
                docs, inside = load_file(path, root, max_bytes, doc_id=doc_id)
            except CiteqaError as err:
                skipped.append(str(err))
                continue
            skipped.extend(inside)
            names.take(doc_id, path, root)
            for doc in docs:  # the file's own document first, then the files inside it
                text_key = content_hash(doc.text, length=32)
                if text_key in seen_text:
                    skipped.append(f"{doc.doc_id}: same text as {seen_text[text_key]}, indexed once")
                    continue
                if doc.doc_id in documents:  # two attachments of one message under one name
                    skipped.append(f"{doc.doc_id}: another attachment has this name, indexed once")
                    continue
                seen_text[text_key] = doc.doc_id
                documents[doc.doc_id] = doc
                per_source[source] += 1
    return documents, per_source, skipped
