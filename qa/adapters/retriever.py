"""`CiteqaRetriever`: citeqa's retrieval as a LangChain `BaseRetriever`, for use in chains.

It returns the passages `qa.pipeline.answer` retrieves for a query (chunks ranked by their best
sentence's support), as `Document`s whose metadata carry the passage's source file, title, date,
publisher, language, score and chunk id. Nothing is re-implemented here: the retriever only
converts citeqa's passages to LangChain's documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from qa.settings import Settings
from qa.types import Passage


def to_document(passage: Passage) -> Document:
    """A retrieved passage as a LangChain Document (the chunk id doubles as the document id)."""
    return Document(
        id=passage.chunk_id,
        page_content=passage.text,
        metadata={
            "source": passage.source,
            "title": passage.title,
            "date": passage.date,
            "publisher": passage.publisher,
            "language": passage.language,
            "score": passage.score,
            "chunk_id": passage.chunk_id,
            "rank": passage.rank,
            # Where in the file: page (last_page for a range), slide, section, and "location" as cited.
            **passage.place.to_dict(),
        },
    )


class CiteqaRetriever(BaseRetriever):
    """Passages from a citeqa index, best first.

    Example:
        ```python
        from qa.adapters.retriever import CiteqaRetriever

        retriever = CiteqaRetriever(k=3)  # the default index; or index_dir="..."
        docs = retriever.invoke("What was offered at Istanbul?")
        ```

    Attributes:
        k: Passages returned per query (1-50); `invoke(query, k=2)` overrides it for one call.
        index_dir: The index folder; default: the settings' (`CITEQA_INDEX_DIR`, else the cache's).
        settings: Full settings instead; `index_dir` then overrides their index folder.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int = Field(5, ge=1, le=50)
    index_dir: str | Path | None = None
    settings: Settings | None = None

    def _settings(self) -> Settings:
        settings = self.settings or Settings()
        if self.index_dir is not None:
            settings = settings.model_copy(update={"index_dir": Path(self.index_dir)})
        return settings

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        from qa.pipeline import MODE_EXTRACTIVE, answer

        k = int(kwargs.get("k", self.k))
        result = answer(query, self._settings(), k=k, mode=MODE_EXTRACTIVE)
        return [to_document(p) for p in result.passages[:k]]
