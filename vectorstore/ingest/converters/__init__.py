"""One converter per file format, all of one shape (`base.Converter`: a `Request` in, an `Extracted`
out), picked by the file's suffix from `CONVERTERS`.

The modules import their libraries when first used (`converter`), so reading a collection of text
files never loads python-docx, EbookLib or Tesseract's wrapper.
"""

from __future__ import annotations

import importlib

from vectorstore.ingest.converters.base import Converter

# suffix -> (module under this package, function in it)
_REGISTRY: dict[str, tuple[str, str]] = {
    ".txt": ("text", "convert"),
    ".md": ("text", "convert"),
    ".html": ("html", "convert"),
    ".htm": ("html", "convert"),
    ".pdf": ("pdf", "convert"),
    ".docx": ("docx", "convert"),
    ".odt": ("odt", "convert"),
    ".pptx": ("pptx", "convert"),
    ".epub": ("epub", "convert"),
    ".eml": ("mail", "convert_message"),
    ".mbox": ("mail", "convert_mailbox"),
    ".rtf": ("rtf", "convert"),
    ".png": ("image", "convert"),
    ".jpg": ("image", "convert"),
    ".jpeg": ("image", "convert"),
    ".tif": ("image", "convert"),
    ".tiff": ("image", "convert"),
}

#: Every suffix a collection may hold (lowercase; a file's suffix is compared case-insensitively).
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_REGISTRY)
#: The same, in the order messages list them.
SUFFIXES_IN_ORDER: tuple[str, ...] = tuple(_REGISTRY)
#: The suffixes whose files are read through OCR (and PDFs, for pages without a text layer).
IMAGE_SUFFIXES: frozenset[str] = frozenset(s for s, (module, _) in _REGISTRY.items() if module == "image")


def converter(suffix: str) -> Converter | None:
    """The converter for files ending in `suffix` (lowercase, with the dot), or None."""
    entry = _REGISTRY.get(suffix)
    if entry is None:
        return None
    module = importlib.import_module(f"{__name__}.{entry[0]}")
    found: Converter = getattr(module, entry[1])
    return found
