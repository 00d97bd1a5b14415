"""Read one file into a cleaned `Document`: plain text, Markdown, HTML or PDF, plus sidecar metadata.

Metadata comes first from the collection's sidecar (`citeqa.json` next to the files), then from the
file itself (HTML meta tags, PDF info), then from the text (first line, detected language).
Every failure is an `UnsupportedDocument` whose message is one line: "<relative name>: <why>".
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from charset_normalizer import from_bytes
from pypdf import PasswordType, PdfReader

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.cleaning import clean_text
from vectorstore.ingest.html import read_html
from vectorstore.ingest.language import detect_language
from vectorstore.types import DocMeta, Document, content_hash

#: The metadata sidecar's file name; the indexer never indexes it as a document.
SIDECAR = "citeqa.json"
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".pdf"})

SidecarEntry = Mapping[str, str | None]
_SIDECAR_FIELDS = ("title", "date", "publisher", "language", "url")
_EMPTY_SIDECAR: Mapping[str, SidecarEntry] = MappingProxyType({})
_TITLE_MAX = 120
# Decoded text with more control characters than this is a binary file that happened to decode.
_MAX_CONTROL_SHARE = 0.05
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")

# PDF info titles that name the authoring file rather than the document.
_JUNK_PDF_TITLE = re.compile(r"(?i)untitled|.*\.(?:docx?|odt|rtf|pdf|indd|tex|txt|pptx?)|microsoft \w+ - .*")


@dataclass(frozen=True)
class _Extracted:
    """Text as a file format yields it, before cleaning, with the metadata the file carries."""

    text: str
    title: str | None = None
    date: str | None = None
    publisher: str | None = None
    language: str | None = None
    url: str | None = None
    replaced_bytes: int = 0  # invalid byte sequences decoded as U+FFFD


def load_document(
    path: Path,
    root: Path,
    max_bytes: int,
    sidecar: Mapping[str, SidecarEntry] | None = None,
    *,
    doc_id: str | None = None,
) -> Document:
    """Load, clean and describe one file of a collection.

    Args:
        path: The file; its suffix (case-insensitive) must be in `SUPPORTED_SUFFIXES`.
        root: The collection folder; `doc_id` and `meta.source` are `path` relative to it.
        max_bytes: Larger files are refused without being read.
        sidecar: The entries of the `citeqa.json` in the file's folder, if already loaded;
            by default it is read (and cached) by `load_sidecar`.
        doc_id: The document's id and `meta.source` when not `path` relative to `root` (a build
            that reads two folders holding the same relative path qualifies the later one).

    Returns:
        The document; its `content_hash` covers the raw bytes and the sidecar entry, so editing
        either one makes the indexer embed the document again.

    Raises:
        UnsupportedDocument: The file is too large, unreadable, of an unsupported or damaged format,
            encrypted, or has no text; or its sidecar is invalid.
    """
    rel = doc_id if doc_id is not None else _valid(path.relative_to(root).as_posix())
    suffix = path.suffix.lower()
    extract = _EXTRACTORS.get(suffix)
    if extract is None:
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
    entry = entries.get(path.name, {})

    found = _valid_extracted(extract(raw, rel))
    text = clean_text(found.text)
    if not text:
        raise UnsupportedDocument(f"{rel}: empty")
    meta = DocMeta(
        source=rel,
        title=entry.get("title") or found.title or _first_line_title(text) or _valid(path.stem),
        date=entry.get("date") or found.date,
        publisher=entry.get("publisher") or found.publisher,
        language=entry.get("language") or found.language or detect_language(text),
        url=entry.get("url") or found.url,
    )
    entry_json = json.dumps(dict(entry), sort_keys=True, ensure_ascii=False)
    return Document(
        doc_id=rel,
        text=text,
        meta=meta,
        content_hash=content_hash(hashlib.sha256(raw).hexdigest() + entry_json),
        replaced_bytes=found.replaced_bytes,
    )


def _valid(text: str) -> str:
    """`text` with lone surrogates as U+FFFD: no UTF-8 file or database can hold them, yet a JSON
    escape, a non-UTF-8 file name or pypdf's decoding of a PDF font map can give them."""
    return _SURROGATE.sub("\ufffd", text)


def _valid_extracted(found: _Extracted) -> _Extracted:
    def valid(value: str | None) -> str | None:
        return _valid(value) if value is not None else None

    return replace(
        found,
        text=_valid(found.text),
        title=valid(found.title),
        date=valid(found.date),
        publisher=valid(found.publisher),
        language=valid(found.language),
        url=valid(found.url),
    )


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
    if given_date and _iso_date(given_date) != given_date:
        raise UnsupportedDocument(f"{SIDECAR}: date for {name!r} must be YYYY-MM-DD, YYYY-MM or YYYY")
    if given_language:
        language = _language(given_language)
        if language is None:
            raise UnsupportedDocument(f"{SIDECAR}: language for {name!r} must be a code such as 'nl'")
        entry["language"] = language
    return MappingProxyType(entry)


def _text(raw: bytes, rel: str) -> _Extracted:
    text, replaced = _decode(raw, rel)
    return _Extracted(text, replaced_bytes=replaced)


def _decode(raw: bytes, rel: str) -> tuple[str, int]:
    """Bytes of a text file as str, and how many invalid byte sequences were replaced.

    UTF-8 (or UTF-16 with a BOM) first. A file whose well-formed multi-byte UTF-8 characters are at
    least as many as its invalid sequences is UTF-8 with a few damaged bytes: those become U+FFFD and
    are counted, the rest stays as written. Only a file where UTF-8 fails more broadly (a legacy
    encoding: every accented letter is one invalid byte) gets the likeliest legacy encoding.
    """
    not_text = UnsupportedDocument(f"{rel}: not a text file")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(raw.decode("utf-16"), not_text), 0
        except UnicodeDecodeError:
            raise not_text from None
    if b"\x00" in raw:
        raise not_text
    try:
        return _checked(raw.decode("utf-8-sig"), not_text), 0
    except UnicodeDecodeError:
        pass
    lenient = raw.decode("utf-8-sig", errors="replace")
    # Python replaces each maximal invalid sequence with one U+FFFD; a U+FFFD written in the file is
    # valid UTF-8 and does not count.
    invalid = lenient.count("\ufffd") - raw.count("\ufffd".encode())
    well_formed = sum(1 for ch in lenient if ord(ch) > 0x7F) - lenient.count("\ufffd")
    if well_formed >= invalid:
        return _checked(lenient, not_text), invalid
    best = from_bytes(raw).best()
    if best is None:
        raise not_text
    # On short Western text charset-normalizer ranks exotic code pages (cp1006, mac_latin2) as high
    # as cp1252, which is what such files nearly always are; it rejects cp1252 for Cyrillic or
    # Central European bytes, so preferring it on a tie costs those nothing.
    western = from_bytes(raw, cp_isolation=["cp1252"]).best()
    chosen = western if western is not None and western.coherence >= best.coherence else best
    return _checked(str(chosen), not_text), 0


def _checked(text: str, not_text: UnsupportedDocument) -> str:
    control = sum(
        1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r")
    )
    if text and control / len(text) > _MAX_CONTROL_SHARE:
        raise not_text
    return text


def _html(raw: bytes, rel: str) -> _Extracted:
    page = read_html(raw, rel)
    return _Extracted(
        text=page.text,
        title=page.title,
        date=_iso_date(page.date or ""),
        publisher=page.publisher,
        language=_language(page.lang or ""),
        url=page.url,
    )


def _pdf(raw: bytes, rel: str) -> _Extracted:
    if b"%PDF-" not in raw[:1024]:
        raise UnsupportedDocument(f"{rel}: not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise UnsupportedDocument(f"{rel}: encrypted PDF (needs a password)")
        # Pages are joined by a plain newline so that a paragraph running across a page break
        # can be joined again by the cleaner.
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        info = reader.metadata
    except UnsupportedDocument:
        raise
    except Exception as err:  # noqa: BLE001 - pypdf raises many exception types on damaged files
        raise UnsupportedDocument(f"{rel}: damaged or unreadable PDF ({type(err).__name__})") from None
    title = (info.title or "").strip() if info is not None else ""
    return _Extracted(
        text=text,
        title=title if title and not _JUNK_PDF_TITLE.fullmatch(title) else None,
        date=_pdf_date(info),
    )


def _pdf_date(info: object) -> str | None:
    try:
        created = getattr(info, "creation_date", None)
    except Exception:  # noqa: BLE001 - a malformed /CreationDate must not make the PDF unreadable
        return None
    return created.date().isoformat() if created is not None else None


def _iso_date(value: str) -> str | None:
    """The leading ISO date ("2022-11-30T12:00Z" gives "2022-11-30"), or None when it is no real date."""
    match = _ISO_DATE.match(value.strip())
    if match is None:
        return None
    year, month, day = match.group(1), match.group(2), match.group(3)
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    return match.group()


def _language(tag: str) -> str | None:
    """The primary subtag of a language tag, lowercase: "de-DE" and "de_DE" give "de"."""
    match = _LANGUAGE_TAG.fullmatch(tag.strip())
    return match.group(1).lower() if match else None


def _first_line_title(text: str) -> str | None:
    """The first paragraph without Markdown heading marks, cut to `_TITLE_MAX` characters at a word."""
    first = re.sub(r"^#{1,6}\s+", "", text.split("\n\n", 1)[0])
    if not any(ch.isalpha() for ch in first):
        return None
    if len(first) <= _TITLE_MAX:
        return first
    cut = first[: _TITLE_MAX - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


_EXTRACTORS: dict[str, Callable[[bytes, str], _Extracted]] = {
    ".txt": _text,
    ".md": _text,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
}
