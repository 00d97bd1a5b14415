"""Repair extracted text: ligature glyphs, line-break hyphens, hard wraps and web boilerplate.

`clean_text` is pure, deterministic and idempotent. Its output is a list of paragraphs joined by
exactly one blank line ("\\n\\n"), with single spaces inside a paragraph and no line-break hyphens.
Chunk offsets point into this text, so any change to the rules must bump `CLEANING_VERSION`.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass

#: Recorded in the index manifest: an index cleaned by other rules must be rebuilt.
CLEANING_VERSION = "1"

# Some PDF fonts map their ligature glyphs to unrelated code points, so a text layer says
# "poliƟek" for "politiek". Ɵ and ƫ are not letters of any language we index: always replaced.
_GLYPHS_ANYWHERE = str.maketrans(
    {
        "Ɵ": "ti",
        "ƫ": "tti",
        "ﬀ": "ff",
        "ﬁ": "fi",
        "ﬂ": "fl",
        "ﬃ": "ffi",
        "ﬄ": "ffl",
        "ﬅ": "st",
        "ﬆ": "st",
    }
)
# Ō, Ʃ and Ĭ are real letters elsewhere ("Ōsaka"), but ft/tt/fh never start a word: only a glyph
# that follows a letter inside a word is a ligature.
_GLYPHS_AFTER_LETTER = {"Ō": "ft", "Ʃ": "tt", "Ĭ": "fh"}
_GLYPH_AFTER_LETTER = re.compile(r"(?<=[^\W\d_])[ŌƩĬ]")

# Line and paragraph separators that are not "\n" (\x0c is the form feed between PDF pages).
_NEWLINES = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028]")
_SOFT_HYPHEN_AT_BREAK = re.compile(r"\u00ad[^\S\n]*\n")
# Joiners change how some scripts render (emoji, Persian), so they are kept; every other format
# character (soft hyphen, zero-width space, BOM, bidi marks) is invisible noise in a search index.
_KEPT_FORMAT_CHARS = frozenset("\u200c\u200d")
_SPACES = re.compile(r"[^\S\n]+")

_SENTENCE_END = re.compile(r"[.!?:…][\"'”’»)\]]*$")
# A word broken at the line end: a letter or digit right before the hyphen (" - " is a dash).
_BROKEN_WORD = re.compile(r"[^\W_]-$")
# "vracht-\nen verzendkosten": a suspended hyphen, the fragment shares the word after the conjunction.
_CONJUNCTION = re.compile(r"(?:en|of|und|oder|bzw|and|or|et|ou|resp)\b", re.IGNORECASE)
_LIST_ITEM = re.compile(r"(?:[-–•·▪◦‣*]|\d{1,2}[.)])\s")
_MARKDOWN_HEADING = re.compile(r"#{1,6}\s")


@dataclass(frozen=True)
class _Rule:
    """A line that is page furniture rather than text; `tagline` also drops a short line after it."""

    pattern: re.Pattern[str]
    tagline: bool = False


# Whole lines dropped from web extractions. Each pattern must match the full (stripped) line, and
# each is narrow enough not to eat a line of a hard-wrapped PDF paragraph.
_BOILERPLATE: tuple[_Rule, ...] = (
    # Skip links of German news sites: "1. Zum Inhalt springen", "3. Zu weiteren Angeboten der DW springen".
    _Rule(re.compile(r"(?:\d{1,2}\.\s*)?(?:Zum|Zur|Zu|Direkt zu[mr]?)\s[^.!?]{0,60}\sspringen")),
    # ... and their "skip this block" cousins: "Den nächsten Abschnitt Mehr zum Thema überspringen".
    _Rule(re.compile(r"(?:[^.!?\s]+\s){1,6}überspringen")),
    # Skip links in English, Dutch and French: "Skip to main content", "Ga naar de inhoud".
    _Rule(
        re.compile(
            r"(?:\d{1,2}\.\s*)?(?:skip|jump|ga|spring|direct|aller|passer)\s(?:to|naar|au|à)\s[^.!?]{0,30}"
            r"(?:content|inhoud|navigat|menu|search|zoeken|contenu|footer)\w*",
            re.IGNORECASE,
        )
    ),
    # Breadcrumbs whose section names lost their separator: "PolitikEuropa".
    _Rule(re.compile(r"(?:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]{2,}){2,4}")),
    # Newsletter calls to action: "Entsperren Sie den White House Watch-Newsletter kostenlos",
    # "Newsletter abonnieren". The teaser's tagline usually follows on the next line.
    _Rule(
        re.compile(
            r"(?=.*\b(?:newsletter|nieuwsbrief)\b)"
            r"(?=.*\b(?:abonnieren|anmelden|entsperren|bestellen|kostenlos|subscribe|sign up|unlock|free"
            r"|inschrijven|aanmelden|abonneer|gratis|s'abonner|inscri\w*)\b)[^.!?]{0,150}"
            r"|newsletters?|nieuwsbrief",
            re.IGNORECASE,
        ),
        tagline=True,
    ),
    # Photo captions ending in a credit, often glued on: "...Herausforderungen?Bild: Name/AP".
    _Rule(
        re.compile(
            r"(?=.{0,300}$).*?(?:Bild|Foto|Fotos|Photo|Beeld|Image|Credit)\s?:\s?[^!?:]{1,79}[^.!?:\s]"
        )
    ),
    # Copyright footers.
    _Rule(re.compile(r"(?=.{0,200}$)(?:.*©.*|(?:\(c\)|copyright)\s*\d{4}.*)", re.IGNORECASE)),
    # Page numbers on a line of their own: "12", "Seite 3 von 10", "Page 2 of 9".
    _Rule(
        re.compile(
            r"(?:(?:page|seite|pagina|p\.)\s*)?\d{1,4}(?:\s*(?:/|of|von|van)\s*\d{1,4})?", re.IGNORECASE
        )
    ),
    # Advertising labels on a line of their own.
    _Rule(re.compile(r"anzeige|werbung|advertisement|advertentie|publicité", re.IGNORECASE)),
)
_TAGLINE_MAX = 150


def clean_text(raw: str) -> str:
    """Clean extracted document text for indexing and display.

    Args:
        raw: Text as extracted from a file (PDF text layer, HTML text, plain text).

    Returns:
        Paragraphs separated by "\\n\\n"; an empty string when nothing is left.
    """
    lines = [_SPACES.sub(" ", line).strip() for line in _normalize_characters(raw).split("\n")]
    paragraphs = _assemble(_drop_boilerplate(lines))
    # Joining lines can assemble a boilerplate line that no single line was; filtering again
    # makes a second `clean_text` a no-op.
    return "\n\n".join(p for p in _drop_boilerplate(paragraphs) if p)


def _normalize_characters(text: str) -> str:
    """Unify newlines, drop invisible and control characters, repair ligature glyphs, NFC."""
    text = _NEWLINES.sub("\n", text).replace("\u2029", "\n\n")
    text = unicodedata.normalize("NFC", text)
    # A soft hyphen at a line end marks a word broken across lines, like a hard one.
    text = _SOFT_HYPHEN_AT_BREAK.sub("-\n", text)
    text = "".join(ch for ch in text if _keep_char(ch))
    # Each step can bring a base letter next to a combining mark ("Ɵ" + mark becomes "ti" + mark),
    # and the letter test below must see composed letters: normalise after every step.
    text = unicodedata.normalize("NFC", text)
    text = unicodedata.normalize("NFC", text.translate(_GLYPHS_ANYWHERE))
    text = _GLYPH_AFTER_LETTER.sub(lambda m: _GLYPHS_AFTER_LETTER[m.group()], text)
    return unicodedata.normalize("NFC", text)


def _keep_char(ch: str) -> bool:
    if ch in "\n\t":
        return True
    category = unicodedata.category(ch)
    if category == "Cc":
        return False
    return category != "Cf" or ch in _KEPT_FORMAT_CHARS


def _drop_boilerplate(lines: list[str]) -> list[str]:
    """Replace boilerplate lines by blank lines, so that they also separate paragraphs."""
    kept: list[str] = []
    drop_tagline = False
    for line in lines:
        if drop_tagline and line and len(line) <= _TAGLINE_MAX and not _SENTENCE_END.search(line):
            kept.append("")
            drop_tagline = False
            continue
        rule = next((r for r in _BOILERPLATE if line and r.pattern.fullmatch(line)), None)
        drop_tagline = rule is not None and rule.tagline
        kept.append("" if rule else line)
    return kept


def _assemble(lines: list[str]) -> list[str]:
    """Turn lines into paragraphs: blank lines always separate, single newlines depend on layout."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    blocks = [b for b in blocks if b]
    width = _wrap_width(blocks)
    paragraphs: list[str] = []
    for block in blocks:
        paragraph = prev = block[0]
        for line in block[1:]:
            if _BROKEN_WORD.search(prev) and line[0].isalnum():
                paragraph = _join_broken_word(paragraph, line)
            elif width is not None and not _is_break(prev, line, width):
                paragraph = f"{paragraph} {line}"
            else:
                paragraphs.append(paragraph)
                paragraph = line
            prev = line
        paragraphs.append(paragraph)
    return paragraphs


def _wrap_width(blocks: list[list[str]]) -> int | None:
    """The line width of hard-wrapped text (a PDF text layer), or None when newlines are paragraphs.

    Hard-wrapped text has most lines ending mid-sentence at about the same width. Web text has one
    paragraph per line: its lines end with punctuation (or are short headings) and vary in length.
    """
    inner = [line for block in blocks for line in block[:-1]]
    if len(inner) < 3:
        return None
    lengths = sorted(len(line) for block in blocks for line in block)
    width = lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))]
    open_ended = sum(1 for line in inner if not _SENTENCE_END.search(line)) / len(inner)
    if open_ended < 0.5 or statistics.median(len(line) for line in inner) < 0.7 * width:
        return None
    return width


def _is_break(prev: str, line: str, width: int) -> bool:
    """Whether a newline in hard-wrapped text ends a paragraph rather than a line."""
    if _LIST_ITEM.match(line) or _MARKDOWN_HEADING.match(line) or _MARKDOWN_HEADING.match(prev):
        return True
    if line[0].islower():
        return False
    # A wrapping program starts a new line only when the next word does not fit; if it would
    # have fitted, the line ended on purpose. Widths are in characters of a proportional font,
    # hence the slack.
    would_fit = len(prev) + 1 + len(line.split(" ", 1)[0]) < width - max(2, round(0.04 * width))
    if _SENTENCE_END.search(prev):
        return would_fit
    return len(prev) <= 0.6 * width  # a short line without punctuation: a heading


def _join_broken_word(left: str, right: str) -> str:
    """Join a line ending in a hyphen to the next one (`right` starts with a letter or digit).

    "be-" + "drijven" gives "bedrijven"; "vracht-" + "en verzendkosten" keeps the suspended hyphen
    and a space; "NAVO-" + "Rusland", "Energie-" + "Infrastruktur", "COVID-" + "19" keep the
    hyphen of a real compound. Only a lowercase fragment continued in lowercase loses its hyphen.
    """
    if _CONJUNCTION.match(right):
        return f"{left} {right}"
    if left[-2].islower() and right[0].islower():
        return left[:-1] + right
    return left + right
