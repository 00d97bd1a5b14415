"""Rich Text Format (.rtf) through striprtf: the text without control words."""

from __future__ import annotations

from striprtf.striprtf import rtf_to_text

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters.base import Extracted, Part, Request, damaged


def convert(request: Request) -> Extracted:
    if not request.raw.lstrip()[:5] == b"{\\rtf":
        raise UnsupportedDocument(f"{request.rel}: not an RTF file")
    try:
        # RTF is 7-bit text: other characters are escapes that striprtf decodes with the file's code page.
        text = rtf_to_text(request.raw.decode("latin-1"), errors="replace")
    except Exception as err:  # noqa: BLE001 - striprtf raises many types on damaged files
        raise damaged(request.rel, ".rtf", err) from None
    return Extracted((Part(text),))
