"""Word (.docx) through python-docx: headings, paragraphs and tables in document order, and the core
properties (title, author, created)."""

from __future__ import annotations

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

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
    archive = open_zip(request, ".docx")
    try:
        document = docx.Document(archive)
        parts: list[Part] = []
        section: str | None = None
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph) and _is_heading(item) and item.text.strip():
                if blocks:
                    parts.append(Part("\n\n".join(blocks), section=section))
                section, blocks = " ".join(item.text.split()), [item.text]
            elif isinstance(item, Paragraph):
                blocks.append(item.text)
            elif isinstance(item, Table):
                blocks.append(table_text(item))
        if blocks:
            parts.append(Part("\n\n".join(blocks), section=section))
        properties = document.core_properties
        title, author, created = properties.title, properties.author, properties.created
    except UnsupportedDocument:
        raise
    except Exception as err:  # noqa: BLE001 - python-docx and lxml raise many types on damaged files
        raise damaged(request.rel, ".docx", err) from None
    return Extracted(
        tuple(parts), title=clean_field(title), publisher=clean_field(author), date=day_of(created)
    )


def _is_heading(paragraph: Paragraph) -> bool:
    name = paragraph.style.name if paragraph.style is not None else ""
    return (name or "").startswith(("Heading", "Title"))


def table_text(table: Table) -> str:
    """A table as one line per row, its cells separated by " | " (a merged cell once)."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return "\n\n".join(rows)
