"""What the REST, OpenAI-compatible and MCP adapters call: one answer function and two read-outs.

A `Backend` answers a question (`qa.pipeline`), lists what is indexed and says whether it is ready.
The adapters only translate requests and answers to and from it; none of them retrieves or composes
anything itself. `LocalBackend` serves the index the settings name, folder or database (`citeqa mcp`);
the web server passes its own, which answers through the chat's collection so both see the same index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from qa.engine import Engine, get_engine
from qa.settings import Settings
from qa.types import Answer
from vectorstore.errors import CiteqaError
from vectorstore.models.embedding import Embedder

if TYPE_CHECKING:
    from qa.conversation import Turn


class Backend(Protocol):
    def answer(
        self,
        question: str,
        k: int | None = None,
        mode: str | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer:
        """The cited answer (raises BadQuestion, IndexNotBuilt, ... as `qa.pipeline.answer` does),
        read with the conversation's earlier turns when there are any."""
        ...

    def documents(self) -> list[dict[str, Any]]:
        """One entry per indexed document (see `document_list`)."""
        ...

    def health(self) -> dict[str, Any]:
        """Whether questions can be answered now, and what is indexed; never raises."""
        ...


def document_list(engine: Engine) -> list[dict[str, Any]]:
    """What is indexed: file, title, date, publisher, language and number of chunks, by file name."""
    chunks = engine.data.chunk_counts()
    return [
        {
            "file": meta.source,
            "title": meta.title,
            "date": meta.date,
            "publisher": meta.publisher,
            "language": meta.language,
            "chunks": chunks.get(doc_id, 0),
        }
        for doc_id, meta in engine.data.metas()
    ]


def engine_health(engine: Callable[[], Engine]) -> dict[str, Any]:
    """{"status": "ok", documents, chunks, model} or {"status": "unavailable", "detail": why}."""
    try:
        loaded = engine()
    except CiteqaError as err:
        return {"status": "unavailable", "detail": str(err)}
    counts = loaded.data.manifest.get("counts", {})
    return {
        "status": "ok",
        "documents": counts.get("documents", len(loaded.data.documents)),
        "chunks": counts.get("chunks", len(loaded.data.chunks)),
        "model": loaded.data.fingerprint.model_id,
    }


class LocalBackend:
    """Answers from the index `settings` name (folder or database), loading the model on the first
    question."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder

    def engine(self) -> Engine:
        return get_engine(self.settings, self._embedder)

    def answer(
        self,
        question: str,
        k: int | None = None,
        mode: str | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer:
        from qa.pipeline import answer

        return answer(question, self.settings, k=k, engine=self.engine(), mode=mode, history=history)

    def documents(self) -> list[dict[str, Any]]:
        return document_list(self.engine())

    def health(self) -> dict[str, Any]:
        return engine_health(self.engine)
