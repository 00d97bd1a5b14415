"""The chat page's HTML and look: answer bubbles, the sources panel, status lines, the CSS and theme.

Pure functions of their arguments, no Gradio events. Every piece of document or user text passes
through `escape` (`html.escape`) before it reaches the page, and the result is one line of HTML
(`one_line`) inside a block element, since the chat renders Markdown outside HTML blocks and a blank
line would hand the rest of a message to it. The question is shown as plain text (`render_question`):
its Markdown punctuation becomes character references as well, so `![x](http://…)` or an autolink
is never an image the browser fetches or a link.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Sequence

import gradio as gr

from qa import prompts
from qa.types import Answer, Passage
from vectorstore.types import Place

_MARKER = re.compile(r"\[(\d{1,3})\]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Every ASCII punctuation mark: all of Markdown's and HTML's syntax, and the colon of a URL scheme.
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")
_CONTEXT_CHARS = 300  # characters of passage shown on each side of a cited sentence


def escape(text: object) -> str:
    """`text` as HTML text, quotes included: the only way document or user text reaches the page."""
    return html.escape(str(text), quote=True)


def _markers(escaped: str) -> str:
    return _MARKER.sub(r'<span class="citeqa-marker">[\1]</span>', escaped)


def one_line(escaped: str) -> str:
    """Escaped text with its line breaks as <br>."""
    # One line of HTML: a blank line would end the chat's HTML block and hand the rest to Markdown.
    return escaped.replace("\r", "").replace("\n", "<br>")


def plain(text: str) -> str:
    """`text` with every ASCII punctuation mark as a character reference (`&` `<` `>` among them), so
    no HTML, Markdown or autolink in it takes effect wherever the page renders it; it reads the same."""
    return _PUNCTUATION.sub(lambda m: f"&#{ord(m.group())};", str(text))


def render_question(question: str) -> str:
    """The chat bubble of the user's question: its text, literally (a lone surrogate, which no page
    can be sent, shown as U+FFFD; the pipeline refuses such a question in its own message)."""
    text = _SURROGATE.sub("\ufffd", question)
    return f'<div class="citeqa-user-text">{one_line(plain(text))}</div>'


def render_answer(result: Answer, shown: str | None = None) -> str:
    """The chat bubble for an answer; `shown` is the part streamed so far (None: complete)."""
    body = one_line(_markers(escape(result.text if shown is None else shown)))
    kind = "citeqa-refusal" if result.refused else "citeqa-answer"
    parts = [f'<div class="{kind}">{body}</div>']
    if shown is None and result.note:
        parts.append(f'<div class="citeqa-note">{escape(result.note)}</div>')
    if shown is None and result.refused and result.closest:
        head = prompts.CLOSEST_MATCHES[prompts.ui_language(result.language)]
        documents = {p.source: p.title for p in result.closest}  # one line per document
        items = "".join(
            f"<li>{escape(title)} <code>{escape(src)}</code></li>" for src, title in documents.items()
        )
        parts.append(f'<div class="citeqa-closest"><b>{escape(head)}:</b><ol>{items}</ol></div>')
    return "".join(parts)


def render_draft(draft: str) -> str:
    """The chat bubble while the chat model writes: its draft, marked as not yet checked."""
    return (
        f'<div class="citeqa-draft">{one_line(escape(draft))}</div>'
        '<div class="citeqa-pending">Draft; checking it against the sources…</div>'
    )


def render_error(message: str) -> str:
    return f'<div class="citeqa-error">{one_line(escape(message))}</div>'


def pending(text: str) -> str:
    """The chat bubble while an answer is being looked for."""
    return f'<div class="citeqa-pending">{escape(text)}</div>'


def _clip(text: str, limit: int, *, keep_end: bool = False) -> str:
    """About `limit` characters of `text` (its end when `keep_end`), cut between words, "…" where cut."""
    if len(text) <= limit:
        return text
    if keep_end:
        tail = text[-limit:]
        if not text[-limit - 1].isspace() and " " in tail:
            tail = tail[tail.find(" ") + 1 :]  # drop the partial first word
        return "…" + tail.lstrip()
    head = text[:limit]
    if not text[limit].isspace() and " " in head:
        head = head[: head.rfind(" ")]  # drop the partial last word
    return head.rstrip() + "…"


def _highlighted(passage: str, start: int, end: int, quote: str) -> str:
    """The passage around the quote, escaped, with the quote in <mark>."""
    if not (0 <= start < end <= len(passage)):
        start = passage.find(quote) if quote else -1
        end = start + len(quote)
    if start < 0:
        return escape(_clip(passage, 2 * _CONTEXT_CHARS))
    before = _clip(passage[:start], _CONTEXT_CHARS, keep_end=True)
    after = _clip(passage[end:], _CONTEXT_CHARS)
    return f"{escape(before)}<mark>{escape(passage[start:end])}</mark>{escape(after)}"


def _meta_line(
    publisher: str | None, date: str | None, language: str | None, source: str, ui: str, place: Place
) -> str:
    names = prompts.LANGUAGE_NAMES[ui]
    bits = [escape(x) for x in (publisher, date, names.get(language, language) if language else None) if x]
    bits.append(f'<code class="citeqa-file">{escape(source)}</code>')
    if (location := place.label()) is not None:
        bits.append(f'<span class="citeqa-place">{escape(location)}</span>')
    return '<div class="citeqa-meta">' + " · ".join(bits) + "</div>"


def _card(n: str, title: str, meta: str, passage_html: str) -> str:
    return (
        f'<article class="citeqa-card"><div class="citeqa-card-head"><span class="citeqa-n">{n}</span>'
        f'<span class="citeqa-title">{escape(title)}</span></div>{meta}'
        f'<div class="citeqa-passage">{one_line(passage_html)}</div></article>'
    )


def render_sources(result: Answer | None) -> str:
    """The sources panel for one answer: escaped metadata and passages, the cited sentence in <mark>."""
    if result is None:
        return (
            '<div class="citeqa-sources citeqa-empty"><h3>Sources</h3>'
            "<p>Ask a question: the passages an answer quotes appear here, with the quoted sentence "
            "highlighted. Click an answer in the chat to see its sources again.</p></div>"
        )
    ui = prompts.ui_language(result.language)
    head = f'<h3>Sources</h3><p class="citeqa-question">{escape(result.question)}</p>'
    if result.citations:
        cards = [
            _card(
                f"[{c.n}]",
                c.title,
                _meta_line(c.publisher, c.date, c.language, c.source, ui, c.place),
                _highlighted(c.passage, c.quote_start, c.quote_end, c.quote),
            )
            for c in result.citations
        ]
        return f'<div class="citeqa-sources">{head}{"".join(cards)}</div>'
    closest: Sequence[Passage] = result.closest
    if closest:
        label = (
            f'<p class="citeqa-closest-head">{escape(prompts.CLOSEST_MATCHES[ui])}</p>'
            '<p class="citeqa-closest-sub">None of these passages answers the question.</p>'
        )
        cards = [
            _card(
                f"{i}.",
                p.title,
                _meta_line(p.publisher, p.date, p.language, p.source, ui, p.place),
                escape(_clip(p.text, 2 * _CONTEXT_CHARS)),
            )
            for i, p in enumerate(closest, 1)
        ]
        return f'<div class="citeqa-sources citeqa-refused">{head}{label}{"".join(cards)}</div>'
    return f'<div class="citeqa-sources">{head}<p>No passages.</p></div>'


def render_status(text: str, *, busy: bool = False, done: int = 0, total: int = 0) -> str:
    bar = f'<progress value="{done}" max="{total}"></progress>' if busy and total else ""
    kind = "citeqa-status citeqa-busy" if busy else "citeqa-status"
    return f'<div class="{kind}">{escape(text)}{bar}</div>'


def upload_report(lines: list[str]) -> str:
    """What became of the files of one upload, one list item per line."""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<ul class="citeqa-upload-report">{items}</ul>'


CSS = """
.citeqa-header { align-items:baseline; gap:1rem; flex-wrap:wrap; }
.citeqa-header h1 { margin:0; font-size:1.5rem; white-space:nowrap; }
.citeqa-header .citeqa-tagline { color: var(--body-text-color-subdued); margin-left:.6rem; font-size:1rem;
  font-weight:400; }
#citeqa-status { text-align:right; align-self:center; }
.citeqa-status { font-size:.85rem; color: var(--body-text-color-subdued); }
.citeqa-status progress { margin-left:.6rem; width:12rem; vertical-align:middle; }
.citeqa-busy { color: var(--color-accent); font-weight:600; }
.citeqa-marker { color: var(--color-accent); font-weight:600; font-size:.85em; }
.citeqa-refusal { border-left:4px solid #d97706; background:rgba(217,119,6,.10); padding:.4rem .7rem;
  border-radius:4px; font-style:italic; }
.citeqa-error { border-left:4px solid #dc2626; background:rgba(220,38,38,.08); padding:.4rem .7rem;
  border-radius:4px; }
.citeqa-pending { color: var(--body-text-color-subdued); font-style:italic; }
.citeqa-draft { color: var(--body-text-color-subdued); border-left:3px dashed var(--border-color-primary);
  padding-left:.6rem; }
.citeqa-note { margin-top:.4rem; font-size:.85rem; color: var(--body-text-color-subdued); }
.citeqa-closest { margin-top:.4rem; font-size:.9rem; }
.citeqa-closest ol { margin:.2rem 0 0 1.2rem; }
#citeqa-sources-panel { max-height:640px; overflow-y:auto; }
.citeqa-sources h3 { margin:.2rem 0 .2rem; }
.citeqa-question { color: var(--body-text-color-subdued); margin:0 0 .6rem; font-style:italic; }
.citeqa-empty p { color: var(--body-text-color-subdued); }
.citeqa-card { border:1px solid var(--border-color-primary); border-radius:8px; padding:.6rem .8rem;
  margin-bottom:.7rem; background: var(--background-fill-secondary); }
.citeqa-card-head { display:flex; gap:.5rem; align-items:baseline; }
.citeqa-n { color: var(--color-accent); font-weight:700; }
.citeqa-title { font-weight:600; }
.citeqa-meta { font-size:.8rem; color: var(--body-text-color-subdued); margin:.15rem 0 .4rem; }
.citeqa-file { font-size:.75rem; }
.citeqa-passage { padding-left:.6rem; border-left:3px solid var(--border-color-primary);
  font-size:.88rem; line-height:1.45; }
.citeqa-passage mark { background:#fde68a; color:inherit; padding:0 .1rem; border-radius:2px; }
.citeqa-refused .citeqa-closest-head { color:#b45309; font-weight:600; margin:0; }
.citeqa-closest-sub { font-size:.85rem; color: var(--body-text-color-subdued); margin:0 0 .5rem; }
.citeqa-upload-report { margin:.3rem 0 0 1rem; font-size:.9rem; }
"""


def theme() -> gr.themes.Base:
    """The page's Gradio theme."""
    # System fonts only: the app is offline, and a bundled display font reads poorly in long passages.
    sans = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=sans,
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
