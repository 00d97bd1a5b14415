"""`CiteqaRetriever`: LangChain's standard retriever tests with the real model, and its metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from qa.adapters.retriever import CiteqaRetriever, to_document
from qa.settings import Settings
from qa.types import Passage
from vectorstore.types import Place

KUJAT = "000_d6b9d14a00a44e16.txt"


@pytest.mark.integration
class TestCiteqaRetrieverStandard(RetrieversIntegrationTests):
    """The `langchain-tests` suite, against the seeds index built with the real model."""

    settings: Settings | None = None

    @pytest.fixture(autouse=True)
    def _seeds(self, real_settings: Settings) -> None:
        type(self).settings = real_settings

    @property
    def retriever_constructor(self) -> type[CiteqaRetriever]:
        return CiteqaRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"settings": type(self).settings}

    @property
    def retriever_query_example(self) -> str:
        return "What was offered at Istanbul?"


@pytest.mark.integration
def test_the_istanbul_question_retrieves_the_kujat_interview_first(real_settings: Settings) -> None:
    docs = CiteqaRetriever(settings=real_settings, k=3).invoke("What was offered at Istanbul?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    first = docs[0]
    assert first.metadata["source"] == KUJAT and first.metadata["title"] == "Rusland wil onderhandelen!"
    assert (first.metadata["date"], first.metadata["language"]) == ("2023-03-04", "nl")
    assert first.id == first.metadata["chunk_id"] and first.metadata["rank"] == 1
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)


def test_a_passage_becomes_a_document_with_its_source_in_metadata() -> None:
    passage = Passage(
        rank=2, chunk_id="c7", source="a.txt", title="A", date="2024-01-02", publisher="P",
        language="de", text="Text.", score=0.25, dense=0.5, place=Place(page=3, last_page=4, section="Intro"),
    )  # fmt: skip
    doc = to_document(passage)
    assert doc == Document(
        id="c7",
        page_content="Text.",
        metadata={
            "source": "a.txt", "title": "A", "date": "2024-01-02", "publisher": "P", "language": "de",
            "score": 0.25, "chunk_id": "c7", "rank": 2,
            "page": 3, "last_page": 4, "slide": None, "section": "Intro", "location": "pp. 3\u20134, Intro",
        },
    )  # fmt: skip


def test_the_retriever_reads_the_index_folder_it_is_given(tmp_path: Path, fake_embedder: Any) -> None:
    from qa.engine import clear_engines, get_engine
    from tests.fakes import fake_collection

    index = fake_collection(tmp_path, {"a.txt": "Alpha\n\nThe alpha team met the beta team in Oslo."})
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=index)
    clear_engines()
    get_engine(settings, fake_embedder)  # the fake model stays with this index folder for the process
    try:
        docs = CiteqaRetriever(index_dir=index, settings=Settings(cache_dir=tmp_path / "cache")).invoke(
            "Where did the alpha team meet?", k=1
        )
    finally:
        clear_engines()
    assert [d.metadata["source"] for d in docs] == ["a.txt"]
