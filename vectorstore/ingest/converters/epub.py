"""EPUB through EbookLib: chapters in reading order (the spine), each under its table-of-contents title,
and the title, author, date and language of the book's metadata."""

from __future__ import annotations

import posixpath
from typing import Any

import ebooklib
from bs4 import BeautifulSoup
from ebooklib import epub

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters.base import (
    Extracted,
    Part,
    Request,
    clean_field,
    damaged,
    iso_date,
    language_code,
    open_zip,
)
from vectorstore.ingest.converters.html import body_text


def convert(request: Request) -> Extracted:
    stream = open_zip(request, ".epub")
    try:
        book = epub.read_epub(stream, {"ignore_ncx": True})
        titles = _toc_titles(book.toc)
        parts = []
        for idref, *_ in book.spine:
            item = book.get_item_with_id(idref)
            if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
                continue
            soup = BeautifulSoup(item.get_content(), "html.parser")
            heading = soup.find(["h1", "h2", "h3"])
            section = titles.get(posixpath.normpath(item.get_name())) or (
                " ".join(heading.get_text(" ").split()) if heading is not None else None
            )
            parts.append(Part(body_text(soup), section=section or None))
        title, author = _first(book, "title"), _first(book, "creator")
        day, language = _first(book, "date"), _first(book, "language")
    except UnsupportedDocument:
        raise
    except Exception as err:  # noqa: BLE001 - EbookLib and lxml raise many types on damaged files
        raise damaged(request.rel, ".epub", err) from None
    return Extracted(
        tuple(parts),
        title=title,
        publisher=author,
        date=iso_date(day or ""),
        language=language_code(language or ""),
    )


def _first(book: epub.EpubBook, name: str) -> str | None:
    values = book.get_metadata("DC", name)
    return clean_field(values[0][0]) if values else None


def _toc_titles(toc: Any) -> dict[str, str]:
    """The table of contents' title of each chapter file (the first entry pointing into it)."""
    titles: dict[str, str] = {}
    for entry in toc:
        if isinstance(entry, tuple):  # (section, children)
            section, children = entry
            _add(titles, section)
            for name, title in _toc_titles(children).items():
                titles.setdefault(name, title)
        else:
            _add(titles, entry)
    return titles


def _add(titles: dict[str, str], entry: Any) -> None:
    href, title = getattr(entry, "href", None), clean_field(getattr(entry, "title", None))
    if href and title:
        titles.setdefault(posixpath.normpath(href.split("#", 1)[0]), title)
