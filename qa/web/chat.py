"""The web chat: a Gradio Blocks app over `qa.pipeline.answer`, with a sources panel and uploads.

`build_app(settings)` assembles the page; `qa.web.server.serve` mounts it beside the HTTP APIs and runs
it. `ChatService` holds what the page's events call (and what those APIs call); the HTML they return
comes from `qa.web.render`, the folders, uploads and index builds from `qa.web.collection`. Document and
user text reach the page only escaped (`qa.web.render`: the question as plain text, never Markdown),
uploads only as bytes the client sent (`qa.web.received`), and every error as a short chat message,
never a traceback.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from qa import prompts
from qa.backend import document_list, engine_health
from qa.conversation import Turn
from qa.pipeline import MODE_GENERATIVE, answer, answer_stream
from qa.settings import Settings
from qa.types import Answer
from qa.web.collection import UPLOAD_SUFFIXES, Collection, build_progress
from qa.web.received import ReceivedFiles, cleaned_name
from qa.web.render import (
    pending,
    render_answer,
    render_draft,
    render_error,
    render_question,
    render_sources,
    render_status,
    upload_report,
)
from vectorstore.build_lock import running_update
from vectorstore.errors import CiteqaError, IndexNotBuilt
from vectorstore.models.embedding import Embedder

log = logging.getLogger(__name__)

EXAMPLES = (
    "What was offered at Istanbul?",
    "Wat bood Oekraïne aan in Istanbul?",
    "Wer führte das Interview mit Harald Kujat?",
)
# Events run at once per worker; the model itself serialises encoding behind its own lock.
DEFAULT_CONCURRENCY = 4
_STREAM_WORDS = 3  # words added per streamed update
_STREAM_DELAY = 0.025  # seconds between updates: visible, yet a 60-word answer takes well under a second
CANCEL_LABEL = "Cancel indexing"


# ---------------------------------------------------------------------------------------------- handlers


def _cancel_hidden() -> Any:
    return gr.update(value=CANCEL_LABEL, visible=False, interactive=True)


def _skipped(lines: Sequence[str], name: str) -> str | None:
    """The build's "<file>: <why>" line about the upload `name` (named alone or within its folder)."""
    for line in lines:
        file = line.split(": ", 1)[0]
        if file == name or file.endswith(f"/{name}"):
            return line
    return None


class ChatService:
    """What the page's events call; plain methods, so tests can drive them without a browser."""

    def __init__(self, settings: Settings, collection: Collection) -> None:
        self.settings = settings
        self.collection = collection

    def _update_note(self) -> str | None:
        """While an update runs, the note for answers from the generation before it (None otherwise).

        Only the very first build, with no generation before it, keeps questions waiting.
        """
        state = self.collection.building
        update = state.describe() if state else self._folder_update()
        if update is None:
            return None
        # Not index_missing(): a first build's files appear before its manifest does.
        if not self.collection.store.exists():
            raise IndexNotBuilt(f"{update} There is nothing to answer from until this first build is done.")
        return f"{update} {prompts.BEFORE_UPDATE}"

    def _folder_update(self) -> str | None:
        """Another process's build of the index folder (a database's updates commit per document,
        and need no note)."""
        return None if self.settings.store.url else running_update(self.settings.resolved_index_dir)

    def _answer(self, question: str, k: int | None, history: Sequence[Turn] | None = None) -> Answer:
        note = self._update_note()
        result = answer(question, self.settings, k=k, engine=self.collection.engine(), history=history)
        return result.with_note(note) if note else result

    def _answer_stream(
        self, question: str, k: int | None, mode: str, history: Sequence[Turn] | None = None
    ) -> Iterator[str | Answer]:
        note = self._update_note()
        engine = self.collection.engine()
        for item in answer_stream(question, self.settings, k=k, engine=engine, mode=mode, history=history):
            yield item.with_note(note) if note and isinstance(item, Answer) else item

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
        # The conversation so far: citeqa's earlier answers, each knowing its question and quotes.
        turns = [Turn.of(a) for _, a in sorted(answers.items())]
        question = question or ""
        if question.strip():
            history.append({"role": "user", "content": render_question(question.strip())})
        history.append({"role": "assistant", "content": pending("Searching the documents…")})
        yield "", list(history), dict(answers), gr.skip(), gr.skip()
        drafted = False
        try:
            if mode == MODE_GENERATIVE:
                draft, result = "", None
                for item in self._answer_stream(question, int(k) if k else None, mode, turns):
                    if isinstance(item, Answer):
                        result = item
                        continue
                    draft, drafted = draft + item, True
                    history[-1] = {"role": "assistant", "content": render_draft(draft)}
                    yield "", list(history), dict(answers), gr.skip(), gr.skip()
                if result is None:
                    raise RuntimeError("answer_stream ended without an answer")
            else:
                result = self._answer(question, int(k) if k else None, turns)
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

    # The `qa.backend.Backend` the REST, OpenAI-compatible routes call: the chat's own index and builds.

    def answer(
        self,
        question: str,
        k: int | None = None,
        mode: str | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer:
        """The verified answer in either mode (a generative draft is not streamed here)."""
        *_, result = self._answer_stream(question, k, mode or self.settings.mode, history)
        if not isinstance(result, Answer):
            raise RuntimeError("answer_stream ended without an answer")
        return result

    def documents(self) -> list[dict[str, Any]]:
        return document_list(self.collection.engine())

    def health(self) -> dict[str, Any]:
        if (state := self.collection.building) is not None and self.collection.index_missing():
            return {"status": "building", "detail": state.describe()}
        return engine_health(self.collection.engine)

    def ask(self, question: str) -> dict[str, Any]:
        """The `/ask` API: the same object as `citeqa ask --json`, or {"error": "..."}."""
        try:
            return self._answer(question, None).to_dict()
        except CiteqaError as err:
            return {"error": str(err)}
        except Exception as err:  # noqa: BLE001
            log.exception("API ask failed")
            return {"error": f"unexpected error ({type(err).__name__}); see the server log"}

    def upload(self, files: list[str] | None, received: ReceivedFiles) -> Iterator[tuple[Any, ...]]:
        """Save, index and report uploads: yields (upload report, status line, file input, cancel button).

        Only bytes the client sent count (`received`: a path it names is never read otherwise). What
        the build cannot read, and everything of a cancelled or failed build, leaves the uploads
        folder again, so it holds only what is indexed.
        """
        incoming: list[tuple[str, bytes]] = []
        lines: list[str] = []
        for given in files or []:
            data = received.take(given)
            if data is None:
                lines.append(f"Refused {cleaned_name(given)}: not a file sent from this page.")
            else:
                incoming.append((cleaned_name(given), data))
        saved, refused = self.collection.save_uploads(incoming)
        lines += [f"Refused {r}" for r in refused]
        if not saved:
            yield upload_report(lines or ["No files."]), self.collection.status(), None, _cancel_hidden()
            return
        since = time.monotonic()
        names = ", ".join(s.name for s in saved)
        shown = gr.update(value=CANCEL_LABEL, visible=True, interactive=True)
        yield upload_report([f"Indexing {names}…", *lines]), self.collection.status(), None, shown
        state = None
        for state in self.collection.update(since):
            yield gr.skip(), build_progress(state), None, gr.skip()
        if state is None or state.error or state.report is None:
            for item in saved:
                self.collection.remove_upload(item)
            if state is not None and state.cancelled:
                lines.insert(0, f"Cancelled: {names} not added. {state.error}")
            else:
                why = state.error if state else "no build ran"
                lines.insert(0, f"Indexing failed: {why} {names} not added.")
        else:
            caveats = dict(w.split(": ", 1) for w in state.report.warnings)
            for item in saved:
                if (line := _skipped(state.report.skipped, item.name)) is not None:
                    self.collection.remove_upload(item)
                    lines.insert(0, f"Could not read {line}; it was not kept.")
                elif item.name in caveats:
                    lines.insert(0, f"Added {item.name}: it is now searchable; {caveats[item.name]}.")
                else:
                    lines.insert(0, f"Added {item.name}: it is now searchable.")
        yield upload_report(lines), self.collection.status(), None, _cancel_hidden()

    def cancel_upload(self) -> Any:
        """The cancel button: stop the running build (the upload it serves then reports and cleans up)."""
        if self.collection.cancel():
            return gr.update(value="Cancelling…", interactive=False)
        return _cancel_hidden()

    def on_load(self) -> Iterator[str]:
        """Status line on page load; builds the index first when there is none."""
        if not self.collection.index_missing() and self.collection.building is None:
            yield self.collection.status()
            return
        state = None
        for state in self.collection.update(since=0.0):
            yield build_progress(state)
        yield render_status(state.error) if state and state.error else self.collection.status()


# ---------------------------------------------------------------------------------------------- page


def build_app(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    folders: Sequence[Path] | None = None,
    service: ChatService | None = None,
) -> gr.Blocks:
    """The chat page: status line, chat with examples and settings, sources panel, uploads and `/ask`.

    `service` is what its events call (`qa.web.server` shares it with the REST and OpenAI routes); by
    default one over the configured folders.
    """
    if service is None:
        service = ChatService(settings, Collection(settings, embedder, folders))
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
                    # Messages are HTML made by qa.web.render, user text escaped in it: no LaTeX either.
                    latex_delimiters=[],
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
                # The chat remembers its questions and answers: a follow-up is read with them.
                new = gr.Button("New conversation", size="sm", variant="secondary", elem_id="citeqa-new")
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
                    cancel = gr.Button(CANCEL_LABEL, visible=False, size="sm", elem_id="citeqa-cancel")
                    report = gr.HTML("", js_on_load=None, elem_id="citeqa-upload-report")
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
        new.click(
            lambda: ([], {}, render_sources(None)), None, [chat, answers, sources], api_visibility="private"
        )
        received = ReceivedFiles(app.upload_file_set)  # what Gradio's upload route wrote, nothing else

        def upload(paths: list[str] | None) -> Iterator[tuple[Any, ...]]:
            yield from service.upload(paths, received)

        files.upload(upload, [files], [report, status, files, cancel], api_visibility="private")
        cancel.click(service.cancel_upload, None, [cancel], api_visibility="private")
        app.load(service.on_load, None, [status], api_visibility="private")

        def ask_api(question: str) -> dict[str, Any]:
            """Answer one question; returns the same object as `citeqa ask --json`, or {"error": ...}."""
            return service.ask(question)

        gr.api(ask_api, api_name="ask")
    return app
