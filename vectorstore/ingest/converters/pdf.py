"""PDF: each page's text layer (pypdf), and OCR for pages that are only an image (a scan)."""

from __future__ import annotations

import io
import re

from pypdf import PageObject, PasswordType, PdfReader

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters import ocr
from vectorstore.ingest.converters.base import Extracted, Part, Request

# PDF info titles that name the authoring file rather than the document.
_JUNK_PDF_TITLE = re.compile(r"(?i)untitled|.*\.(?:docx?|odt|rtf|pdf|indd|tex|txt|pptx?)|microsoft \w+ - .*")


def convert(request: Request) -> Extracted:
    raw, rel = request.raw, request.rel
    if b"%PDF-" not in raw[:1024]:
        raise UnsupportedDocument(f"{rel}: not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise UnsupportedDocument(f"{rel}: encrypted PDF (needs a password)")
        texts = [page.extract_text() or "" for page in reader.pages]
        scanned = [i for i, text in enumerate(texts) if not text.strip() and _has_images(reader.pages[i])]
        info = reader.metadata
    except UnsupportedDocument:
        raise
    except Exception as err:  # noqa: BLE001 - pypdf raises many exception types on damaged files
        raise UnsupportedDocument(f"{rel}: damaged or unreadable PDF ({type(err).__name__})") from None
    notes: tuple[str, ...] = ()
    if scanned:
        pages = [_images_of(reader.pages[i]) for i in scanned]
        try:
            read = ocr.read_pages(pages, rel, request.language)
        except UnsupportedDocument as err:
            # The text layer of the other pages is still worth indexing; the note says what is missing.
            if not any(text.strip() for text in texts):
                raise
            read = [""] * len(scanned)
            reason = str(err).removeprefix(f"{rel}: ")
            notes = (f"{rel}: {len(scanned)} of {len(texts)} pages are scans, left out: {reason}",)
        for i, text in zip(scanned, read, strict=True):
            texts[i] = text
    title = (info.title or "").strip() if info is not None else ""
    # Pages are joined by a plain newline so that a paragraph running across a page break can be
    # joined again by the cleaner.
    return Extracted(
        parts=tuple(Part(text, page=n) for n, text in enumerate(texts, start=1)),
        joiner="\n",
        title=title if title and not _JUNK_PDF_TITLE.fullmatch(title) else None,
        date=_pdf_date(info),
        notes=notes,
    )


def needs_ocr(raw: bytes) -> bool:
    """Whether a PDF has a page that is only an image (what `scripts/setup-ocr.sh --if-needed` asks)."""
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return False
        return any(not (page.extract_text() or "").strip() and _has_images(page) for page in reader.pages)
    except Exception:  # noqa: BLE001 - a damaged PDF is refused when indexed, OCR or not
        return False


def _has_images(page: PageObject) -> bool:
    try:
        return len(page.images) > 0
    except Exception:  # noqa: BLE001 - a damaged image dictionary: no image to read
        return False


def _images_of(page: PageObject) -> ocr.PageImages:
    return lambda: [image.image for image in page.images if image.image is not None]


def _pdf_date(info: object) -> str | None:
    try:
        created = getattr(info, "creation_date", None)
    except Exception:  # noqa: BLE001 - a malformed /CreationDate must not make the PDF unreadable
        return None
    return created.date().isoformat() if created is not None else None
