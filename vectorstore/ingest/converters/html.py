"""HTML: the article's text by block elements, and its title, date, site, language and URL from meta tags."""

from __future__ import annotations

import re
from dataclasses import replace

from bs4 import BeautifulSoup, Comment, NavigableString

from vectorstore.ingest.converters.base import Extracted, Part, Request, iso_date, language_code

# HTML elements that hold no article text (or, for header and footer, site chrome).
_DROPPED_TAGS = (
    "script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg", "iframe", "button",
)  # fmt: skip
_BLOCK_TAGS = (
    "address", "article", "blockquote", "caption", "dd", "details", "div", "dl", "dt", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table",
    "td", "th", "tr", "ul",
)  # fmt: skip


def convert(request: Request) -> Extracted:
    soup = BeautifulSoup(request.raw, "html.parser")  # reads <meta charset> and BOMs to pick the encoding
    title = _meta(soup, "og:title") or (soup.title.get_text(" ", strip=True) if soup.title else None)
    html = soup.find("html")
    lang = html.get("lang") if html is not None else None
    lang = lang if isinstance(lang, str) else _meta(soup, "og:locale")
    found = Extracted(
        parts=(),
        title=title or None,
        date=iso_date(_meta(soup, "article:published_time") or _meta(soup, "date") or ""),
        publisher=_meta(soup, "og:site_name"),
        language=language_code(lang or ""),
        url=_meta(soup, "og:url"),
    )
    return replace(found, parts=(Part(body_text(soup)),))


def body_text(soup: BeautifulSoup) -> str:
    """The text of the page's body: dropped chrome removed, block elements as paragraphs."""
    body = soup.body or soup
    for element in body.find_all(_DROPPED_TAGS):
        element.decompose()
    for comment in body.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    # Source line breaks inside an element are just spaces; only block boundaries make paragraphs.
    for string in body.find_all(string=True):
        if type(string) is NavigableString and string.find_parent("pre") is None:
            string.replace_with(re.sub(r"\s+", " ", str(string)))
    for element in body.find_all(_BLOCK_TAGS):
        element.insert_before("\n\n")
        element.insert_after("\n\n")
    for br in body.find_all("br"):
        br.replace_with("\n")
    return str(body.get_text())


def _meta(soup: BeautifulSoup, key: str) -> str | None:
    """The content of <meta property=key> or <meta name=key>, stripped; None when absent or blank."""
    tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
    content = tag.get("content") if tag is not None else None
    return content.strip() or None if isinstance(content, str) else None
