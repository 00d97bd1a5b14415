"""Images (.png, .jpg, .tiff): their text through OCR, each frame of a multi-page TIFF one page."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters import ocr
from vectorstore.ingest.converters.base import Extracted, Part, Request

_MAX_FRAMES = 2_000


def convert(request: Request) -> Extracted:
    rel = request.rel
    try:
        # Opening reads only the header; Pillow's bomb warning (over about 90 million pixels) is an error.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(request.raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedDocument(f"{rel}: image too large to read (a decompression bomb?)") from None
    except Exception as err:  # noqa: BLE001 - Pillow raises many types on damaged files
        raise UnsupportedDocument(f"{rel}: damaged or unreadable image ({type(err).__name__})") from None
    frames = getattr(image, "n_frames", 1)
    if frames > _MAX_FRAMES:
        raise UnsupportedDocument(f"{rel}: an image of {frames:,} frames, more than the {_MAX_FRAMES:,} read")

    def frame(n: int) -> ocr.PageImages:
        def open_frame() -> list[Image.Image]:
            image.seek(n)
            return [image.copy()]  # decodes the frame; a damaged one fails here, as one line

        return open_frame

    texts = ocr.read_pages([frame(n) for n in range(frames)], rel, request.language)
    pages = tuple(Part(text, page=n) for n, text in enumerate(texts, start=1))
    # A single image has no pages to cite; a multi-page TIFF does.
    return Extracted(pages if frames > 1 else (Part(texts[0]),))
