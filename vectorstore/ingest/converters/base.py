"""What every converter returns, and the checks the container formats share.

A converter turns one file's bytes into an `Extracted`: its text as parts (a PDF page, a slide, the
text under a heading), the metadata the file carries, and, for e-mail, the files attached to it.
Each failure is an `UnsupportedDocument` whose message is one line: "<relative name>: <why>".
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from vectorstore.errors import UnsupportedDocument

#: Unpacked, a container (.docx, .odt, .pptx, .epub) may hold at most this much: a zip bomb is refused
#: before any of it is inflated, so memory and time stay bounded by the file size limit and this.
MAX_UNPACKED_BYTES = 200_000_000
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")
# The first bytes of an OLE compound file: what Office writes for a password-protected .docx/.pptx
# (and for the old binary .doc/.ppt).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Part:
    """A stretch of a file's text and where in the file it is (the page, slide or section it starts)."""

    text: str
    page: int | None = None
    slide: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file inside another (an e-mail's attachment, an mbox's message), indexed as its own document."""

    name: str
    raw: bytes


@dataclass(frozen=True)
class Extracted:
    """A file's text as its format yields it, before cleaning, with the metadata the file carries."""

    parts: tuple[Part, ...]
    joiner: str = "\n\n"  # between parts: a PDF's pages are joined by "\n" so paragraphs can run on
    title: str | None = None
    date: str | None = None
    publisher: str | None = None
    language: str | None = None
    url: str | None = None
    replaced_bytes: int = 0  # invalid byte sequences decoded as U+FFFD
    attachments: tuple[Attachment, ...] = ()
    notes: tuple[str, ...] = ()  # caveats reported when indexing: "<file>: <what>"

    @property
    def text(self) -> str:
        return self.joiner.join(part.text for part in self.parts)


@dataclass(frozen=True)
class Request:
    """What a converter is given: the file's bytes, its name in messages, and its known language."""

    raw: bytes
    rel: str
    language: str | None = None  # ISO 639-1 from the sidecar: the language OCR reads the file in
    path: Path | None = None  # the file itself; None for a file inside another (an attachment)


Converter = Callable[[Request], Extracted]


def iso_date(value: str) -> str | None:
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


def day_of(moment: datetime | None) -> str | None:
    """The ISO day of a datetime (a document's creation date), or None."""
    return moment.date().isoformat() if moment is not None else None


def language_code(tag: str) -> str | None:
    """The primary subtag of a language tag, lowercase: "de-DE" and "de_DE" give "de"."""
    match = _LANGUAGE_TAG.fullmatch(tag.strip())
    return match.group(1).lower() if match else None


def clean_field(value: object) -> str | None:
    """A metadata value as a stripped string, None when absent or blank."""
    return value.strip() or None if isinstance(value, str) else None


def open_zip(request: Request, kind: str) -> io.BytesIO:
    """The file as a stream for its library (a zip archive, the container of `kind`, e.g. ".docx"),
    after the checks that keep a hostile file from costing more than its size: not a zip, encrypted,
    or a zip bomb."""
    raw, rel = request.raw, request.rel
    if raw.startswith(_OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in raw:
            raise UnsupportedDocument(f"{rel}: encrypted {kind} file (needs a password); save it without one")
        raise UnsupportedDocument(f"{rel}: an old binary Office file, not {kind}; save it as {kind}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise UnsupportedDocument(f"{rel}: not a {kind} file (not a zip archive)") from None
    # zipfile never inflates an entry past the size its header declares, so the declared sizes bound
    # what reading the archive can cost.
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnsupportedDocument(
            f"{rel}: unpacks to {unpacked:,} bytes, over the {MAX_UNPACKED_BYTES:,} allowed (a zip bomb?)"
        )
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise UnsupportedDocument(f"{rel}: encrypted {kind} file (needs a password); save it without one")
    return io.BytesIO(raw)


def damaged(rel: str, kind: str, err: BaseException) -> UnsupportedDocument:
    """The one-line error for a file its library could not read."""
    return UnsupportedDocument(f"{rel}: damaged or unreadable {kind} file ({type(err).__name__})")
