"""The web chat: a Gradio Blocks app over `qa.pipeline.answer`, with a sources panel and uploads.

`build_app(settings)` assembles the page; `qa.web.server.serve` mounts it beside the HTTP APIs and runs
it. `ChatService` holds what the page's events call (and what those APIs call); the HTML they return
comes from `qa.web.render`, the folders, uploads and index builds from `qa.web.collection`. Document text
reaches the page only through `html.escape`, and every error reaches it as a short chat message,
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
from qa.web.render import (
    escape,
    one_line,
    pending,
    render_answer,
    render_draft,
    render_error,
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


# ---------------------------------------------------------------------------------------------- handlers


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
            history.append({"role": "user", "content": one_line(escape(question.strip()))})
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

    def upload(self, files: list[str] | None) -> Iterator[tuple[Any, ...]]:
        """Save, index and report uploads: yields (upload report, status line, file input)."""
        saved, refused = self.collection.save_uploads(files or [])
        lines = [f"Refused {r}" for r in refused]
        if not saved:
            yield upload_report(lines or ["No files."]), self.collection.status(), None
            return
        since = time.monotonic()
        yield upload_report([f"Indexing {', '.join(saved)}…", *lines]), self.collection.status(), None
        state = None
        for state in self.collection.update(since):
            yield gr.skip(), build_progress(state), None
        if state is None or state.error or state.report is None:
            lines.insert(0, f"Indexing failed: {state.error if state else 'no build ran'}")
        else:
            skipped = {s.split(":", 1)[0]: s for s in state.report.skipped}
            caveats = dict(w.split(": ", 1) for w in state.report.warnings)
            for name in saved:
                if name in skipped:
                    lines.insert(0, f"Could not read {skipped[name]}")
                elif name in caveats:
                    lines.insert(0, f"Added {name}: it is now searchable; {caveats[name]}.")
                else:
                    lines.insert(0, f"Added {name}: it is now searchable.")
        yield upload_report(lines), self.collection.status(), None

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
        new.click(
            lambda: ([], {}, render_sources(None)), None, [chat, answers, sources], api_visibility="private"
        )
        files.upload(service.upload, [files], [report, status, files], api_visibility="private")
        app.load(service.on_load, None, [status], api_visibility="private")

        def ask_api(question: str) -> dict[str, Any]:
            """Answer one question; returns the same object as `citeqa ask --json`, or {"error": ...}."""
            return service.ask(question)

        gr.api(ask_api, api_name="ask")
    return app
