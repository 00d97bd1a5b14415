"""Plain text and Markdown: bytes decoded as UTF-8, or as the likeliest legacy encoding."""

from __future__ import annotations

import codecs
import unicodedata

from charset_normalizer import from_bytes

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters.base import Extracted, Part, Request

# Decoded text with more control characters than this is a binary file that happened to decode.
_MAX_CONTROL_SHARE = 0.05


def convert(request: Request) -> Extracted:
    text, replaced = decode(request.raw, request.rel)
    return Extracted((Part(text),), replaced_bytes=replaced)


def decode(raw: bytes, rel: str) -> tuple[str, int]:
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
