"""The web chat: a Gradio Blocks app over `qa.pipeline.answer`, with a sources panel and uploads.

`build_app(settings)` assembles the page, `serve(args, settings)` launches it (127.0.0.1 unless told
otherwise, never a share link). Document text reaches the page only through `html.escape`, and every
error reaches it as a short chat message, never a traceback.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from qa import prompts
from qa.engine import Engine, get_engine
from qa.pipeline import MODE_GENERATIVE, answer, answer_stream
from qa.settings import Settings
from qa.types import Answer, Passage
from vectorstore import store
from vectorstore.embedding import Embedder
from vectorstore.errors import CiteqaError, IndexNotBuilt
from vectorstore.indexer import BuildReport, build

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".pdf")
EXAMPLES = (
    "What was offered at Istanbul?",
    "Wat bood Oekraïne aan in Istanbul?",
    "Wer führte das Interview mit Harald Kujat?",
)
# Events run at once per worker; the model itself serialises encoding behind its own lock.
DEFAULT_CONCURRENCY = 4
_STREAM_WORDS = 3  # words added per streamed update
_STREAM_DELAY = 0.025  # seconds between updates: visible, yet a 60-word answer takes well under a second
_MARKER = re.compile(r"\[(\d{1,3})\]")
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ]+", re.UNICODE)
_MAX_NAME_CHARS = 120
_CONTEXT_CHARS = 300  # characters of passage shown on each side of a cited sentence


def default_folders(settings: Settings) -> list[Path]:
    """What the web app indexes: the configured collections and the uploads folder."""
    return [*settings.collections, settings.uploads_dir]


def uploads_dir(settings: Settings) -> Path:
    return settings.uploads_dir


# ---------------------------------------------------------------------------------------------- rendering


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _markers(escaped: str) -> str:
    return _MARKER.sub(r'<span class="citeqa-marker">[\1]</span>', escaped)


def _lines(escaped: str) -> str:
    # One line of HTML: a blank line would end the chat's HTML block and hand the rest to Markdown.
    return escaped.replace("\r", "").replace("\n", "<br>")


def render_answer(result: Answer, shown: str | None = None) -> str:
    """The chat bubble for an answer; `shown` is the part streamed so far (None: complete)."""
    body = _lines(_markers(_e(result.text if shown is None else shown)))
    kind = "citeqa-refusal" if result.refused else "citeqa-answer"
    parts = [f'<div class="{kind}">{body}</div>']
    if shown is None and result.note:
        parts.append(f'<div class="citeqa-note">{_e(result.note)}</div>')
    if shown is None and result.refused and result.closest:
        head = prompts.CLOSEST_MATCHES[prompts.ui_language(result.language)]
        documents = {p.source: p.title for p in result.closest}  # one line per document
        items = "".join(f"<li>{_e(title)} <code>{_e(src)}</code></li>" for src, title in documents.items())
        parts.append(f'<div class="citeqa-closest"><b>{_e(head)}:</b><ol>{items}</ol></div>')
    return "".join(parts)


def render_draft(draft: str) -> str:
    """The chat bubble while the chat model writes: its draft, marked as not yet checked."""
    return (
        f'<div class="citeqa-draft">{_lines(_e(draft))}</div>'
        '<div class="citeqa-pending">Draft; checking it against the sources…</div>'
    )


def render_error(message: str) -> str:
    return f'<div class="citeqa-error">{_lines(_e(message))}</div>'


def _pending(text: str) -> str:
    return f'<div class="citeqa-pending">{_e(text)}</div>'


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
        return _e(_clip(passage, 2 * _CONTEXT_CHARS))
    before = _clip(passage[:start], _CONTEXT_CHARS, keep_end=True)
    after = _clip(passage[end:], _CONTEXT_CHARS)
    return f"{_e(before)}<mark>{_e(passage[start:end])}</mark>{_e(after)}"


def _meta_line(publisher: str | None, date: str | None, language: str | None, source: str, ui: str) -> str:
    names = prompts.LANGUAGE_NAMES[ui]
    bits = [_e(x) for x in (publisher, date, names.get(language, language) if language else None) if x]
    bits.append(f'<code class="citeqa-file">{_e(source)}</code>')
    return '<div class="citeqa-meta">' + " · ".join(bits) + "</div>"


def _card(n: str, title: str, meta: str, passage_html: str) -> str:
    return (
        f'<article class="citeqa-card"><div class="citeqa-card-head"><span class="citeqa-n">{n}</span>'
        f'<span class="citeqa-title">{_e(title)}</span></div>{meta}'
        f'<div class="citeqa-passage">{_lines(passage_html)}</div></article>'
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
    head = f'<h3>Sources</h3><p class="citeqa-question">{_e(result.question)}</p>'
    if result.citations:
        cards = [
            _card(
                f"[{c.n}]",
                c.title,
                _meta_line(c.publisher, c.date, c.language, c.source, ui),
                _highlighted(c.passage, c.quote_start, c.quote_end, c.quote),
            )
            for c in result.citations
        ]
        return f'<div class="citeqa-sources">{head}{"".join(cards)}</div>'
    closest: Sequence[Passage] = result.closest
    if closest:
        label = (
            f'<p class="citeqa-closest-head">{_e(prompts.CLOSEST_MATCHES[ui])}</p>'
            '<p class="citeqa-closest-sub">None of these passages answers the question.</p>'
        )
        cards = [
            _card(
                f"{i}.",
                p.title,
                _meta_line(p.publisher, p.date, p.language, p.source, ui),
                _e(_clip(p.text, 2 * _CONTEXT_CHARS)),
            )
            for i, p in enumerate(closest, 1)
        ]
        return f'<div class="citeqa-sources citeqa-refused">{head}{label}{"".join(cards)}</div>'
    return f'<div class="citeqa-sources">{head}<p>No passages.</p></div>'


def render_status(text: str, *, busy: bool = False, done: int = 0, total: int = 0) -> str:
    bar = f'<progress value="{done}" max="{total}"></progress>' if busy and total else ""
    kind = "citeqa-status citeqa-busy" if busy else "citeqa-status"
    return f'<div class="{kind}">{_e(text)}{bar}</div>'


# ---------------------------------------------------------------------------------------------- uploads


def safe_upload_name(name: str) -> str | None:
    """A plain file name for an upload (no folders, no leading dots, no odd characters), or None."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/")).rsplit("/", 1)[-1]
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip(" ._"):
        return None
    stem = stem[: _MAX_NAME_CHARS - len(suffix) - 1].strip()
    return f"{stem}.{suffix.lower()}"


def check_upload(path: Path, name: str, max_bytes: int) -> str | None:
    """Why an uploaded file is refused, in one line, or None when it may be indexed."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return f"{name}: {suffix or 'no'} files are not accepted; upload {', '.join(UPLOAD_SUFFIXES)}."
    size = path.stat().st_size
    if size == 0:
        return f"{name}: the file is empty."
    if size > max_bytes:
        return f"{name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit."
    with path.open("rb") as fh:
        head = fh.read(1024)
    if suffix == ".pdf" and not head.startswith(b"%PDF-"):
        return f"{name}: not a PDF file."
    if suffix != ".pdf" and b"\0" in head:
        return f"{name}: not a text file."
    return None


@dataclass
class BuildState:
    """One index build, followed by every page that waits for it."""

    started: float
    total: int = 0
    done: int = 0
    finished: bool = False
    report: BuildReport | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def describe(self) -> str:
        if self.total:
            return f"Building the index: embedding {self.done:,} of {self.total:,} passages…"
        return "Building the index: reading documents…"


class Collection:
    """The folders behind the index, the uploads folder, and the one build that may run at a time."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, folders: Sequence[Path] | None = None
    ) -> None:
        self.settings = settings
        self.uploads = uploads_dir(settings)
        self.folders = list(folders) if folders is not None else default_folders(settings)
        self._embedder = embedder
        self._lock = threading.Lock()
        self._build: BuildState | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from vectorstore.embedding import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.settings.embedding, self.settings.cache_dir)
        return self._embedder

    def engine(self) -> Engine:
        return get_engine(self.settings, self.embedder)

    @property
    def building(self) -> BuildState | None:
        state = self._build
        return state if state is not None and not state.finished else None

    def status(self) -> str:
        if (state := self.building) is not None:
            return _progress(state)
        try:
            return render_status(self.engine().status())
        except CiteqaError as err:
            return render_status(str(err))

    def index_missing(self) -> bool:
        """No index yet: no manifest, and nothing in the folder but hidden files (such as the build lock).

        A folder with other files and no manifest is not ours to fill; answering says what to do with it.
        """
        folder = self.settings.resolved_index_dir
        if (folder / store.MANIFEST).is_file():
            return False
        return not folder.is_dir() or all(p.name.startswith(".") for p in folder.iterdir())

    def _start_or_join(self, since: float) -> BuildState | None:
        """A build that started at or after `since`: the running one, or a new one; None means wait."""
        with self._lock:
            running = self.building
            if running is not None:
                return running if running.started >= since else None
            state = BuildState(started=time.monotonic())
            state.thread = threading.Thread(target=self._run, args=(state,), name="citeqa-index", daemon=True)
            self._build = state
            state.thread.start()
            return state

    def _run(self, state: BuildState) -> None:
        def progress(total: int):  # type: ignore[no-untyped-def]
            state.total = total

            def tick(n: int) -> None:
                state.done += n

            return tick, lambda: None

        try:
            self.uploads.mkdir(parents=True, exist_ok=True)
            state.report = build(
                [f for f in self.folders if f.exists()],
                self.settings.resolved_index_dir,
                embedder=self.embedder,
                chunking=self.settings.chunking,
                store_settings=self.settings.store,
                rebuild=self.index_missing(),  # nothing to reuse; also skips reading a half-made folder
                progress=progress,
            )
        except CiteqaError as err:
            state.error = str(err)
        except Exception as err:  # noqa: BLE001 - logged in full; the page gets one line
            log.exception("index build failed")
            state.error = f"Building the index failed ({type(err).__name__}); see the server log."
        finally:
            state.finished = True

    def update(self, since: float, poll: float = 0.25) -> Iterator[BuildState]:
        """Run (or join) a build that sees every file saved before `since`, yielding it while it runs."""
        while (state := self._start_or_join(since)) is None:
            if (running := self.building) is not None:
                yield running
            time.sleep(poll)
        while not state.finished:
            yield state
            time.sleep(poll)
        yield state

    def save_uploads(self, paths: Sequence[str | Path]) -> tuple[list[str], list[str]]:
        """Copy acceptable uploads into the uploads folder; returns (saved names, refusal lines)."""
        saved: list[str] = []
        refused: list[str] = []
        self.uploads.mkdir(parents=True, exist_ok=True)
        for given in paths:
            path = Path(given)
            name = safe_upload_name(path.name)
            if name is None:
                refused.append(f"{path.name or '(no name)'}: not a usable file name.")
                continue
            reason = check_upload(path, name, self.settings.store.max_file_bytes)
            if reason:
                refused.append(reason)
                continue
            saved.append(self._store(path, name))
        return saved, refused

    def _store(self, path: Path, name: str) -> str:
        data = path.read_bytes()
        stem, suffix = name.rsplit(".", 1)
        candidate, n = name, 1
        # A name already used in any folder would give two documents one id: number the new one.
        while any((folder / candidate).exists() for folder in self.folders):
            existing = self.uploads / candidate
            if existing.is_file() and existing.read_bytes() == data:
                return candidate
            n += 1
            candidate = f"{stem}-{n}.{suffix}"
        fd, tmp = tempfile.mkstemp(dir=self.uploads, prefix=".upload-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.uploads / candidate)
        return candidate


# ---------------------------------------------------------------------------------------------- handlers


class ChatService:
    """What the page's events call; plain methods, so tests can drive them without a browser."""

    def __init__(self, settings: Settings, collection: Collection) -> None:
        self.settings = settings
        self.collection = collection

    def _check_ready(self) -> None:
        if (state := self.collection.building) is not None:
            raise IndexNotBuilt(f"{state.describe()} Ask again when it is done.")

    def _answer(self, question: str, k: int | None) -> Answer:
        self._check_ready()
        return answer(question, self.settings, k=k, engine=self.collection.engine())

    def _answer_stream(self, question: str, k: int | None, mode: str) -> Iterator[str | Answer]:
        self._check_ready()
        return answer_stream(question, self.settings, k=k, engine=self.collection.engine(), mode=mode)

    def respond(
        self,
        question: str,
        history: list[dict[str, Any]] | None,
        answers: dict[int, Answer] | None,
        k: float | None = None,
        mode: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one turn: yields (textbox, chat history, answers by message index, sources, status).

        In the generative `mode` the chat model's draft streams into the chat as it comes; the verified
        answer then takes its place, or the extractive answer with a note saying the draft was replaced.
        """
        mode = mode or self.settings.mode
        history, answers = list(history or []), dict(answers or {})
        question = question or ""
        if question.strip():
            history.append({"role": "user", "content": _lines(_e(question.strip()))})
        history.append({"role": "assistant", "content": _pending("Searching the documents…")})
        yield "", list(history), dict(answers), gr.skip(), gr.skip()
        drafted = False
        try:
            if mode == MODE_GENERATIVE:
                draft, result = "", None
                for item in self._answer_stream(question, int(k) if k else None, mode):
                    if isinstance(item, Answer):
                        result = item
                        continue
                    draft, drafted = draft + item, True
                    history[-1] = {"role": "assistant", "content": render_draft(draft)}
                    yield "", list(history), dict(answers), gr.skip(), gr.skip()
                if result is None:
                    raise RuntimeError("answer_stream ended without an answer")
            else:
                result = self._answer(question, int(k) if k else None)
        except CiteqaError as err:
            history[-1] = {"role": "assistant", "content": render_error(str(err))}
            yield "", list(history), dict(answers), gr.skip(), self.collection.status()
            return
        except Exception as err:  # noqa: BLE001 - the page gets one line, the log the traceback
            log.exception("answering %r failed", question[:200])
            message = f"Something went wrong while answering ({type(err).__name__}); see the server log."
            history[-1] = {"role": "assistant", "content": render_error(message)}
            yield "", list(history), dict(answers), gr.skip(), gr.skip()
            return
        answers[len(history) - 1] = result
        # A streamed draft is replaced at once by what passed verification (or by the fallback).
        words = [] if drafted else re.findall(r"\S+\s*", result.text)
        for end in range(_STREAM_WORDS, len(words), _STREAM_WORDS):
            history[-1] = {"role": "assistant", "content": render_answer(result, "".join(words[:end]))}
            yield "", list(history), dict(answers), gr.skip(), gr.skip()
            time.sleep(_STREAM_DELAY)
        history[-1] = {"role": "assistant", "content": render_answer(result)}
        yield "", list(history), dict(answers), render_sources(result), self.collection.status()

    def select(self, answers: dict[int, Answer] | None, evt: gr.SelectData) -> Any:
        """Show the sources of the clicked answer (or of the answer to the clicked question)."""
        answers = answers or {}
        index = evt.index if isinstance(evt.index, int) else None
        for i in (index, index + 1 if index is not None else None):
            if i in answers:
                return render_sources(answers[i])
        return gr.skip()

    def ask(self, question: str) -> dict[str, Any]:
        """The `/ask` API: the same object as `citeqa ask --json`, or {"error": "..."}."""
        try:
            return self._answer(question, None).to_dict()
        except CiteqaError as err:
            return {"error": str(err)}
        except Exception as err:  # noqa: BLE001
            log.exception("API ask failed")
            return {"error": f"unexpected error ({type(err).__name__}); see the server log"}

    def upload(self, files: list[str] | None) -> Iterator[tuple[Any, ...]]:
        """Save, index and report uploads: yields (upload report, status line, file input)."""
        saved, refused = self.collection.save_uploads(files or [])
        lines = [f"Refused {r}" for r in refused]
        if not saved:
            yield _report(lines or ["No files."]), self.collection.status(), None
            return
        since = time.monotonic()
        yield _report([f"Indexing {', '.join(saved)}…", *lines]), self.collection.status(), None
        state = None
        for state in self.collection.update(since):
            yield gr.skip(), _progress(state), None
        if state is None or state.error or state.report is None:
            lines.insert(0, f"Indexing failed: {state.error if state else 'no build ran'}")
        else:
            skipped = {s.split(":", 1)[0]: s for s in state.report.skipped}
            for name in saved:
                if name in skipped:
                    lines.insert(0, f"Could not read {skipped[name]}")
                else:
                    lines.insert(0, f"Added {name}: it is now searchable.")
        yield _report(lines), self.collection.status(), None

    def on_load(self) -> Iterator[str]:
        """Status line on page load; builds the index first when there is none."""
        if not self.collection.index_missing() and self.collection.building is None:
            yield self.collection.status()
            return
        state = None
        for state in self.collection.update(since=0.0):
            yield _progress(state)
        yield render_status(state.error) if state and state.error else self.collection.status()


def _progress(state: BuildState) -> str:
    return render_status(state.describe(), busy=True, done=state.done, total=state.total)


def _report(lines: list[str]) -> str:
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<ul class="citeqa-upload-report">{items}</ul>'


# ---------------------------------------------------------------------------------------------- page

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


def _theme() -> gr.themes.Base:
    # System fonts only: the app is offline, and a bundled display font reads poorly in long passages.
    sans = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=sans,
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def build_app(
    settings: Settings, *, embedder: Embedder | None = None, folders: Sequence[Path] | None = None
) -> gr.Blocks:
    """The chat page: status line, chat with examples and settings, sources panel, uploads and `/ask`."""
    collection = Collection(settings, embedder, folders)
    service = ChatService(settings, collection)
    with gr.Blocks(title="citeqa", analytics_enabled=False) as app:
        with gr.Row(elem_classes="citeqa-header"):
            gr.HTML(
                '<h1>citeqa <span class="citeqa-tagline">answers quoted from your documents, '
                "with sources</span></h1>",
                js_on_load=None,
            )
            status = gr.HTML(
                render_status("Loading the index…", busy=True), js_on_load=None, elem_id="citeqa-status"
            )
        answers = gr.State({})
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chat = gr.Chatbot(
                    label="Chat",
                    show_label=False,
                    height=560,
                    layout="bubble",
                    elem_id="citeqa-chat",
                    buttons=["copy"],
                    feedback_options=None,
                    group_consecutive_messages=False,
                    placeholder="Ask a question about the documents; every answer quotes its sources.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask in English, Nederlands or Deutsch…",
                        show_label=False,
                        scale=5,
                        max_lines=4,
                        submit_btn=False,
                        elem_id="citeqa-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="citeqa-ask")
                gr.Examples([[q] for q in EXAMPLES], inputs=[question], label="Examples")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 20, value=settings.retrieval.k, step=1, label="Passages to retrieve")
                    mode = gr.Radio(
                        [
                            ("Extractive: quotes from the documents", "extractive"),
                            (
                                "Generative: written from the quotes by the chat model, then checked",
                                "generative",
                            ),
                        ],
                        value=settings.mode,
                        label="Answer mode",
                        interactive=True,
                        elem_id="citeqa-mode",
                    )
                with gr.Accordion("Add documents", open=False):
                    files = gr.File(
                        label=f"{', '.join(UPLOAD_SUFFIXES)} up to "
                        f"{settings.store.max_file_bytes / 1e6:.0f} MB each",
                        file_count="multiple",
                        file_types=list(UPLOAD_SUFFIXES),
                        type="filepath",
                    )
                    report = gr.HTML("", js_on_load=None)
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(render_sources(None), elem_id="citeqa-sources-panel", js_on_load=None)

        turn = {
            "fn": service.respond,
            "inputs": [question, chat, answers, k, mode],
            "outputs": [question, chat, answers, sources, status],
            "api_visibility": "private",
        }
        question.submit(**turn)  # type: ignore[arg-type]
        ask.click(**turn)  # type: ignore[arg-type]
        chat.select(service.select, [answers], [sources], api_visibility="private")
        chat.clear(lambda: ({}, render_sources(None)), None, [answers, sources], api_visibility="private")
        files.upload(service.upload, [files], [report, status, files], api_visibility="private")
        app.load(service.on_load, None, [status], api_visibility="private")

        def ask_api(question: str) -> dict[str, Any]:
            """Answer one question; returns the same object as `citeqa ask --json`, or {"error": ...}."""
            return service.ask(question)

        gr.api(ask_api, api_name="ask")
    return app


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth takes USER:PASS, both non-empty")
    return user, password


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Launch the chat on args.host:args.port (127.0.0.1 by default), blocking until stopped."""
    try:
        auth = parse_auth(getattr(args, "auth", None))
    except ValueError as err:
        print(f"citeqa: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = build_app(settings)
    app.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=256)
    app.launch(
        server_name=getattr(args, "host", None) or "127.0.0.1",
        server_port=getattr(args, "port", None) or 7860,
        auth=auth,
        share=False,
        show_error=False,
        ssr_mode=False,
        max_file_size=settings.store.max_file_bytes,
        footer_links=["api"],
        theme=_theme(),
        css=CSS,
    )
    return 0
