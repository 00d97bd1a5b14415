"""HTML reading stays linear in the page's size and never recurses (issue 22): deeply nested pages of
every block kind, nesting deeper than Python's recursion limit, and pages of millions of tiny tags.

No wall-clock asserts: the work is counted as the interpreter's function calls (sys.setprofile sees
every Python and C call, including the `isinstance` loop in bs4 that made the old reading quadratic).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.html import MAX_HTML_TAGS
from vectorstore.ingest.loaders import load_document

LIMIT = 50_000_000

NESTINGS: dict[str, Callable[[int], str]] = {
    "div": lambda n: "<div>x " * n + "</div>" * n,
    "unclosed div": lambda n: "<div>x " * n,
    "li": lambda n: "<ul><li>x " * n,
    "table": lambda n: "<table><tr><td>x " * n,
    "blockquote in section": lambda n: "<section><blockquote>x " * n,
}


def _calls(page: str, tmp_path: Path) -> int:
    path = tmp_path / "page.html"
    path.write_text(f"<html><body>{page}</body></html>", encoding="utf-8")
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        count += 1

    sys.setprofile(profile)
    try:
        load_document(path, tmp_path, LIMIT)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("kind", ["div", "table"])
def test_four_times_the_nesting_is_about_four_times_the_work(kind: str, tmp_path: Path) -> None:
    small, large = (_calls(NESTINGS[kind](n), tmp_path) for n in (1_000, 4_000))
    # Linear gives 4; the old reading (blank lines inserted into the tree) gave 14.5 (div) and 15.0
    # (table) here, 16 in the limit.
    assert large / small < 5, (small, large)


@pytest.mark.parametrize("kind", sorted(NESTINGS))
def test_nesting_deeper_than_the_recursion_limit_is_read_in_full(kind: str, tmp_path: Path) -> None:
    depth = 3 * sys.getrecursionlimit()
    path = tmp_path / "deep.html"
    path.write_text(NESTINGS[kind](depth), encoding="utf-8")
    doc = load_document(path, tmp_path, LIMIT)
    assert doc.text.split("\n\n") == ["x"] * depth


def test_inline_tags_and_breaks_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    depth = 3 * sys.getrecursionlimit()
    path = tmp_path / "spans.html"
    path.write_text("<p>" + "<span><b>a</b>" * depth + "<br>end</p>", encoding="utf-8")
    assert load_document(path, tmp_path, LIMIT).text == "a" * depth + "\n\nend"


def test_a_page_of_more_tiny_tags_than_the_limit_is_refused_in_one_line(tmp_path: Path) -> None:
    """A few MB of `<b>` would otherwise take GB of memory to parse; refused before parsing."""
    path = tmp_path / "tags.html"
    path.write_bytes(b"<html><body>" + b"<b>" * (MAX_HTML_TAGS + 1))
    with pytest.raises(UnsupportedDocument) as err:
        load_document(path, tmp_path, LIMIT)
    assert str(err.value) == (
        f"tags.html: too many HTML tags ({MAX_HTML_TAGS + 3:,} '<', the limit is {MAX_HTML_TAGS:,})"
    )


def test_a_page_of_many_tiny_tags_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "words.html"
    n = 20_000
    path.write_text("<p>" + "<i>w</i> " * n + "</p>", encoding="utf-8")
    assert load_document(path, tmp_path, LIMIT).text == " ".join(["w"] * n)
