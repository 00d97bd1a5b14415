"""Read one file into cleaned `Document`s (through its format's converter), plus sidecar metadata.

Metadata comes first from the collection's sidecar (`citeqa.json` next to the files), then from the
file itself (HTML meta tags, PDF info, Office core properties, e-mail headers), then from the text
(first line, detected language). Where the file has pages, slides or headings, the document's
`layout` says where each starts in the cleaned text (`vectorstore.ingest.layout`).
Every failure is an `UnsupportedDocument` whose message is one line: "<relative name>: <why>".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters import SUPPORTED_SUFFIXES, converter
from vectorstore.ingest.converters.base import Extracted, Request, iso_date, language_code
from vectorstore.ingest.language import detect_language
from vectorstore.ingest.layout import locate
from vectorstore.types import DocMeta, Document, content_hash

#: The metadata sidecar's file name; the indexer never indexes it as a document.
SIDECAR = "citeqa.json"
__all__ = ["SIDECAR", "SUPPORTED_SUFFIXES", "load_document", "load_file", "load_sidecar"]

SidecarEntry = Mapping[str, str | None]
_SIDECAR_FIELDS = ("title", "date", "publisher", "language", "url")
_EMPTY_SIDECAR: Mapping[str, SidecarEntry] = MappingProxyType({})
_TITLE_MAX = 120
# An attachment of an attachment of a mailbox's message is as deep as files inside files are read.
_MAX_DEPTH = 3
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def load_document(
    path: Path,
    root: Path,
    max_bytes: int,
    sidecar: Mapping[str, SidecarEntry] | None = None,
    *,
    doc_id: str | None = None,
) -> Document:
    """The first document `load_file` reads from `path` (the file's own, for all but a mailbox)."""
    return load_file(path, root, max_bytes, sidecar, doc_id=doc_id)[0][0]


def load_file(
    path: Path,
    root: Path,
    max_bytes: int,
    sidecar: Mapping[str, SidecarEntry] | None = None,
    *,
    doc_id: str | None = None,
) -> tuple[list[Document], list[str]]:
    """Load, clean and describe one file of a collection, and the files inside it.

    An e-mail gives its own document and one for each attachment of a supported type
    ("mail.eml/report.docx"); a mailbox gives one per message ("box.mbox/3.eml") and their attachments.

    Args:
        path: The file; its suffix (case-insensitive) must be in `SUPPORTED_SUFFIXES`.
        root: The collection folder; `doc_id` and `meta.source` are `path` relative to it.
        max_bytes: Larger files are refused without being read.
        sidecar: The entries of the `citeqa.json` in the file's folder, if already loaded;
            by default it is read (and cached) by `load_sidecar`.
        doc_id: The document's id and `meta.source` when not `path` relative to `root` (a build
            that reads two folders holding the same relative path qualifies the later one).

    Returns:
        The documents, the file's own first; each `content_hash` covers the raw bytes and the sidecar
        entry, so editing either one makes the indexer embed the document again. And one line for
        each file inside that could not be read.

    Raises:
        UnsupportedDocument: The file is too large, unreadable, of an unsupported or damaged format,
            encrypted, or has no text; or its sidecar is invalid.
    """
    rel = doc_id if doc_id is not None else _valid(path.relative_to(root).as_posix())
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedDocument(f"{rel}: unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsupportedDocument(f"{rel}: too large ({size:,} bytes, the limit is {max_bytes:,})")
        raw = path.read_bytes()
    except OSError as err:
        raise UnsupportedDocument(f"{rel}: cannot be read ({err.strerror or err})") from None
    try:
        entries = load_sidecar(path.parent) if sidecar is None else sidecar
    except UnsupportedDocument as err:
        raise UnsupportedDocument(f"{rel}: {err}") from None
    documents: list[Document] = []
    skipped: list[str] = []
    _load(Request(raw, rel, entries.get(path.name, {}).get("language"), path), entries.get(path.name, {}),
          documents, skipped, depth=0)  # fmt: skip
    if not documents:
        raise UnsupportedDocument(skipped[0] if len(skipped) == 1 else f"{rel}: empty")
    return documents, skipped


def _load(
    request: Request, entry: SidecarEntry, documents: list[Document], skipped: list[str], depth: int
) -> None:
    rel = request.rel
    convert = converter(Path(rel).suffix.lower())
    if convert is None:
        raise UnsupportedDocument(f"{rel}: unsupported file type {Path(rel).suffix or '(none)'}")
    found = convert(request)
    if found.parts or not found.attachments:
        try:
            documents.append(_document(found, request.raw, rel, entry))
        except UnsupportedDocument:
            # A message that is only its attachments has no text of its own to miss.
            if not found.attachments:
                raise
    for attachment in found.attachments:
        if Path(attachment.name).suffix.lower() not in SUPPORTED_SUFFIXES or depth >= _MAX_DEPTH:
            continue
        try:
            _load(Request(attachment.raw, f"{rel}/{attachment.name}"), {}, documents, skipped, depth + 1)
        except UnsupportedDocument as err:
            skipped.append(str(err))


def _document(found: Extracted, raw: bytes, rel: str, entry: SidecarEntry) -> Document:
    text, layout = locate(found.parts, found.joiner)
    text = _valid(text)  # one character for one: the layout's offsets still hold
    if not text:
        raise UnsupportedDocument(f"{rel}: empty")
    meta = DocMeta(
        source=rel,
        title=_valid_or_none(entry.get("title") or found.title) or _first_line_title(text) or Path(rel).stem,
        date=_valid_or_none(entry.get("date") or found.date),
        publisher=_valid_or_none(entry.get("publisher") or found.publisher),
        language=entry.get("language") or _valid_or_none(found.language) or detect_language(text),
        url=_valid_or_none(entry.get("url") or found.url),
    )
    entry_json = json.dumps(dict(entry), sort_keys=True, ensure_ascii=False)
    return Document(
        doc_id=rel,
        text=text,
        meta=meta,
        content_hash=content_hash(hashlib.sha256(raw).hexdigest() + entry_json),
        replaced_bytes=found.replaced_bytes,
        layout=layout,
        notes=found.notes,
    )


def _valid(text: str) -> str:
    """`text` with lone surrogates as U+FFFD: no UTF-8 file or database can hold them, yet a JSON
    escape, a non-UTF-8 file name or pypdf's decoding of a PDF font map can give them."""
    return _SURROGATE.sub("\ufffd", text)


def _valid_or_none(text: str | None) -> str | None:
    return _valid(text) if text is not None else None


def load_sidecar(directory: Path) -> Mapping[str, SidecarEntry]:
    """The metadata entries of `directory/citeqa.json` by file name; empty when there is none.

    The file is parsed once per version (path, modification time and size), so loading every
    document of a folder reads it once.

    Raises:
        UnsupportedDocument: The sidecar is not valid JSON or does not have the documented shape.
    """
    path = directory / SIDECAR
    try:
        stat = path.stat()
    except FileNotFoundError:
        return _EMPTY_SIDECAR
    return _read_sidecar(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read_sidecar(path: str, mtime_ns: int, size: int) -> Mapping[str, SidecarEntry]:
    # mtime_ns and size are only part of the cache key: a changed sidecar is read again.
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UnsupportedDocument(f"{SIDECAR}: invalid JSON at line {err.lineno}: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UnsupportedDocument(f"{SIDECAR}: cannot be read ({err})") from None
    if not isinstance(data, dict):
        raise UnsupportedDocument(f"{SIDECAR}: must map file names to objects")
    return MappingProxyType({name: _sidecar_entry(name, value) for name, value in data.items()})


def _sidecar_entry(name: str, value: object) -> SidecarEntry:
    if not isinstance(value, dict):
        raise UnsupportedDocument(f"{SIDECAR}: the entry for {name!r} must be an object")
    unknown = sorted(set(value) - set(_SIDECAR_FIELDS))
    if unknown:
        raise UnsupportedDocument(
            f"{SIDECAR}: unknown field {unknown[0]!r} for {name!r} (known: {', '.join(_SIDECAR_FIELDS)})"
        )
    entry: dict[str, str | None] = {}
    for field, item in value.items():
        if item is not None and not isinstance(item, str):
            raise UnsupportedDocument(f"{SIDECAR}: {field!r} for {name!r} must be a string or null")
        entry[field] = (_valid(item.strip()) or None) if item else None
    given_date, given_language = entry.get("date"), entry.get("language")
    if given_date and iso_date(given_date) != given_date:
        raise UnsupportedDocument(f"{SIDECAR}: date for {name!r} must be YYYY-MM-DD, YYYY-MM or YYYY")
    if given_language:
        language = language_code(given_language)
        if language is None:
            raise UnsupportedDocument(f"{SIDECAR}: language for {name!r} must be a code such as 'nl'")
        entry["language"] = language
    return MappingProxyType(entry)


def _first_line_title(text: str) -> str | None:
    """The first paragraph without Markdown heading marks, cut to `_TITLE_MAX` characters at a word."""
    first = re.sub(r"^#{1,6}\s+", "", text.split("\n\n", 1)[0])
    if not any(ch.isalpha() for ch in first):
        return None
    if len(first) <= _TITLE_MAX:
        return first
    cut = first[: _TITLE_MAX - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
