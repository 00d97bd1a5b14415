"""Read an HTML page: its article text with paragraph breaks, and the metadata its head declares.

Time and memory are linear in the page's size: the text comes from one pass over the parsed tree with
an explicit stack (no nesting is too deep), and a page with more tags than `MAX_HTML_TAGS` is refused
before it is parsed. (Inserting the blank lines around block elements into the tree, as before, cost
time quadratic in the nesting depth: bs4 walks an element's whole subtree on every insertion beside it.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from vectorstore.errors import UnsupportedDocument

#: A page with more "<" than this is refused: the parsed tree takes about 1 kB per element, so a file
#: of nothing but tiny tags would need many GB within the size limit; real pages, even long
#: articles, have tens of thousands.
MAX_HTML_TAGS = 500_000

# HTML elements that hold no article text (or, for header and footer, site chrome).
_DROPPED_TAGS = frozenset({
    "script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg", "iframe", "button",
})  # fmt: skip
_BLOCK_TAGS = frozenset({
    "address", "article", "blockquote", "caption", "dd", "details", "div", "dl", "dt", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table",
    "td", "th", "tr", "ul",
})  # fmt: skip
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Page:
    """What a page says about itself, as written (dates and languages are not yet checked)."""

    text: str
    title: str | None
    lang: str | None  # <html lang>, else og:locale
    date: str | None
    publisher: str | None
    url: str | None


def read_html(raw: bytes, rel: str) -> Page:
    """The page in `raw` (any encoding its <meta charset> or BOM declares).

    Raises:
        UnsupportedDocument: The page has more than `MAX_HTML_TAGS` tags.
    """
    if (marks := raw.count(b"<")) > MAX_HTML_TAGS:
        raise UnsupportedDocument(
            f"{rel}: too many HTML tags ({marks:,} '<', the limit is {MAX_HTML_TAGS:,})"
        )
    soup = BeautifulSoup(raw, "html.parser")
    # One pass finds the first <title>, <html> and <body> and every <meta> (a find per key would each
    # walk the whole tree of a page that has none).
    first: dict[str, Tag] = {}
    metas: list[Tag] = []
    for node in soup.descendants:
        if isinstance(node, Tag):
            if node.name == "meta":
                metas.append(node)
            elif node.name in ("title", "html", "body"):
                first.setdefault(node.name, node)
    heading = first.get("title")
    title = _meta(metas, "og:title") or (heading.get_text(" ", strip=True) if heading else None)
    lang = first["html"].get("lang") if "html" in first else None
    body = first.get("body", soup)
    return Page(
        text=_body_text(body, in_pre=body.find_parent("pre") is not None),
        title=title or None,
        lang=lang if isinstance(lang, str) else _meta(metas, "og:locale"),
        date=_meta(metas, "article:published_time") or _meta(metas, "date"),
        publisher=_meta(metas, "og:site_name"),
        url=_meta(metas, "og:url"),
    )


def body_text(soup: BeautifulSoup) -> str:
    """The text of a parsed page's body (an EPUB chapter's, say), as `read_html` gives a page's."""
    body = soup.body or soup
    return _body_text(body, in_pre=body.find_parent("pre") is not None)


def _body_text(body: Tag, in_pre: bool) -> str:
    """The text of `body` with blank lines around block elements, in one pass over its tree.

    Elements without article text are left out, and so are comments and other markup strings (as
    `get_text` leaves them out); outside <pre> source line breaks are spaces, only block boundaries
    and <br> make line breaks.
    """
    out: list[str] = []
    pre = int(in_pre)
    stack: list[tuple[Iterator[PageElement], Tag | None]] = [(iter(body.contents), None)]
    while stack:
        children, parent = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if parent is not None:
                pre -= parent.name == "pre"
                if parent.name in _BLOCK_TAGS:
                    out.append("\n\n")
        elif isinstance(child, Tag):
            if child.name in _DROPPED_TAGS:
                continue
            if child.name == "br":
                out.append("\n")
                continue
            if child.name in _BLOCK_TAGS:
                out.append("\n\n")
            pre += child.name == "pre"
            stack.append((iter(child.contents), child))
        elif type(child) is NavigableString:
            out.append(str(child) if pre else _WHITESPACE.sub(" ", child))
        elif type(child) is CData:
            out.append(str(child))
    return "".join(out)


def _meta(metas: list[Tag], key: str) -> str | None:
    """The content of the first <meta property=key>, else of the first <meta name=key>, stripped;
    None when absent or blank."""
    tag = next((m for m in metas if m.get("property") == key), None) or next(
        (m for m in metas if m.get("name") == key), None
    )
    content = tag.get("content") if tag is not None else None
    return content.strip() or None if isinstance(content, str) else None
