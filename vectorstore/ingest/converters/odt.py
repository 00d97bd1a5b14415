"""OpenDocument text (.odt) through odfpy: headings, paragraphs, lists and tables in order, and the
metadata (title, creator, date)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from odf import teletype
from odf.namespaces import TABLENS, TEXTNS
from odf.opendocument import load

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters.base import (
    Extracted,
    Part,
    Request,
    clean_field,
    damaged,
    iso_date,
    open_zip,
)

_HEADING = (TEXTNS, "h")
_PARAGRAPH = (TEXTNS, "p")
_TABLE_ROW = (TABLENS, "table-row")
_CONTAINERS = {(TEXTNS, "list"), (TEXTNS, "list-item"), (TEXTNS, "section"), (TABLENS, "table"),
               (TABLENS, "table-rows"), (TABLENS, "table-header-rows")}  # fmt: skip


def convert(request: Request) -> Extracted:
    archive = open_zip(request, ".odt")
    try:
        document = load(archive)
        parts: list[Part] = []
        section: str | None = None
        blocks: list[str] = []
        for kind, text in _blocks(document.text):
            if kind == "heading" and text.strip():
                if blocks:
                    parts.append(Part("\n\n".join(blocks), section=section))
                section, blocks = " ".join(text.split()), [text]
            else:
                blocks.append(text)
        if blocks:
            parts.append(Part("\n\n".join(blocks), section=section))
        meta = {(node.qname[1]): teletype.extractText(node) for node in document.meta.childNodes}
    except UnsupportedDocument:
        raise
    except Exception as err:  # noqa: BLE001 - odfpy raises many types on damaged files
        raise damaged(request.rel, ".odt", err) from None
    return Extracted(
        tuple(parts),
        title=clean_field(meta.get("title")),
        publisher=clean_field(meta.get("initial-creator") or meta.get("creator")),
        date=iso_date(meta.get("creation-date") or meta.get("date") or ""),
    )


def _blocks(node: Any) -> Iterator[tuple[str, str]]:
    """("heading" | "text", text) for each heading, paragraph and table row under `node`, in order."""
    for child in node.childNodes:
        qname = getattr(child, "qname", None)
        if qname == _HEADING:
            yield "heading", teletype.extractText(child)
        elif qname == _PARAGRAPH:
            yield "text", teletype.extractText(child)
        elif qname == _TABLE_ROW:
            cells = [" ".join(teletype.extractText(cell).split()) for cell in child.childNodes]
            yield "text", " | ".join(c for c in cells if c)
        elif qname in _CONTAINERS:
            yield from _blocks(child)
