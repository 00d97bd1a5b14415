"""OCR with Tesseract: the text of page images (a scanned PDF's pages, a photo), in the document's language.

Tesseract reads with the language models it is given. A document whose language is known (the sidecar)
is read in that language; otherwise its first page is read with Dutch, German and English together, and
the language detected there reads the rest. A progress bar shows the pages of a long document.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache

from PIL import Image
from tqdm import tqdm

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.language import detect_language

#: Tesseract's model for each language citeqa reads (ISO 639-1 to Tesseract's ISO 639-2 names).
TESSERACT_LANGUAGES = {"nl": "nld", "de": "deu", "en": "eng"}
INSTALL_HINT = (
    "needs OCR and Tesseract is not installed; install it with `make ocr` (or: sudo apt-get install "
    "tesseract-ocr tesseract-ocr-nld tesseract-ocr-deu tesseract-ocr-eng), then index again"
)
# A page Tesseract has not read in this time is a hostile image, not a slow machine.
_PAGE_TIMEOUT_S = 300

#: One page: a function that opens its images (called when the page is read, so pages are held one at a time).
PageImages = Callable[[], Sequence[Image.Image]]


def tesseract() -> str | None:
    """The Tesseract program on PATH, or None."""
    return shutil.which("tesseract")


@lru_cache(maxsize=4)
def installed_languages(program: str) -> frozenset[str]:
    """The language models `program` (Tesseract) has, such as {"nld", "deu", "eng", "osd"}."""
    try:
        listed = subprocess.run(
            [program, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in listed.splitlines()[1:] if line.strip())


def read_pages(pages: Sequence[PageImages], rel: str, language: str | None) -> list[str]:
    """The text of each page, in order ("" for a page without images).

    Args:
        pages: Per page, how to open its images.
        rel: The document's name in messages and on the progress bar.
        language: The document's language (ISO 639-1) when known.

    Raises:
        UnsupportedDocument: Tesseract or its language models are missing (one line saying how to install
            them), or Tesseract failed on a page.
    """
    import pytesseract  # only a document that needs OCR pays for the import

    program = tesseract()
    models = installed_languages(program) if program else frozenset()
    wanted = [code for code in TESSERACT_LANGUAGES.values() if code in models]
    if program is None or not wanted:
        raise UnsupportedDocument(f"{rel}: {INSTALL_HINT}")
    pytesseract.pytesseract.tesseract_cmd = program
    chosen = TESSERACT_LANGUAGES.get(language or "")
    lang = chosen if chosen in models else None
    texts: list[str] = []
    with tqdm(
        total=len(pages), desc=f"OCR {rel}", unit="page", disable=len(pages) < 2, file=sys.stderr, leave=False
    ) as bar:
        for number, page in enumerate(pages, start=1):
            try:
                images = page()
            except Exception as err:  # noqa: BLE001 - image decoders raise many types on damaged data
                raise UnsupportedDocument(
                    f"{rel}: unreadable image on page {number} ({type(err).__name__})"
                ) from None
            text = "\n\n".join(_read(image, lang or "+".join(wanted), rel, number) for image in images)
            if lang is None and text.strip():
                detected = TESSERACT_LANGUAGES.get(detect_language(text) or "")
                lang = detected if detected in models else None
            texts.append(text)
            bar.update(1)
    return texts


def _read(image: Image.Image, lang: str, rel: str, number: int) -> str:
    import pytesseract

    try:
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        return str(pytesseract.image_to_string(image, lang=lang, timeout=_PAGE_TIMEOUT_S))
    except RuntimeError as err:  # pytesseract's timeout
        raise UnsupportedDocument(
            f"{rel}: OCR of page {number} took over {_PAGE_TIMEOUT_S} s ({err})"
        ) from None
    except (pytesseract.TesseractError, OSError, ValueError) as err:
        raise UnsupportedDocument(f"{rel}: OCR failed on page {number} ({type(err).__name__})") from None
