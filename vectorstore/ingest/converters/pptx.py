"""PowerPoint (.pptx) through python-pptx: each slide's text (shapes, tables, groups) and its notes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters.base import (
    Extracted,
    Part,
    Request,
    clean_field,
    damaged,
    day_of,
    open_zip,
)


def convert(request: Request) -> Extracted:
    archive = open_zip(request, ".pptx")
    try:
        presentation = pptx.Presentation(archive)
        parts = []
        first_title: str | None = None
        for number, slide in enumerate(presentation.slides, start=1):
            blocks = [text for shape in slide.shapes for text in _texts(shape)]
            if first_title is None and slide.shapes.title is not None:
                first_title = clean_field(slide.shapes.title.text_frame.text)
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                blocks.append(slide.notes_slide.notes_text_frame.text)
            parts.append(Part("\n\n".join(b for b in blocks if b.strip()), slide=number))
        properties = presentation.core_properties
        title, author, created = properties.title, properties.author, properties.created
    except UnsupportedDocument:
        raise
    except Exception as err:  # noqa: BLE001 - python-pptx and lxml raise many types on damaged files
        raise damaged(request.rel, ".pptx", err) from None
    return Extracted(
        tuple(parts),
        title=clean_field(title) or first_title,
        publisher=clean_field(author),
        date=day_of(created),
    )


def _texts(shape: Any) -> Iterator[str]:
    """The text of a shape: its paragraphs, a table's rows, a group's members."""
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for member in shape.shapes:
            yield from _texts(member)
    elif getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if any(cells):
                yield " | ".join(c for c in cells if c)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        yield "\n".join(p.text for p in shape.text_frame.paragraphs if p.text.strip())
