"""HTML: the article's text by block elements, and its title, date, site, language and URL from meta tags.

The reading itself (linear in the page's size, at any nesting depth) is `vectorstore.ingest.html`.
"""

from __future__ import annotations

from vectorstore.ingest.converters.base import Extracted, Part, Request, iso_date, language_code
from vectorstore.ingest.html import body_text, read_html

__all__ = ["body_text", "convert"]


def convert(request: Request) -> Extracted:
    page = read_html(request.raw, request.rel)
    return Extracted(
        parts=(Part(page.text),),
        title=page.title,
        date=iso_date(page.date or ""),
        publisher=page.publisher,
        language=language_code(page.lang or ""),
        url=page.url,
    )
