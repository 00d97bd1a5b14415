"""The anchor to beat: a plain LangChain pipeline as its documentation teaches it.

Raw file text (no cleaning), `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`, the
same embedding model as citeqa through `HuggingFaceEmbeddings`, an in-memory `FAISS.from_documents`
(never saved, so no pickle), top-4 similarity search; the answer is the top passage and cites its
document; it never refuses. It returns our `Answer` so the same metrics apply.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.settings import Settings
from qa.types import Answer, Citation, Passage
from vectorstore.errors import CiteqaError, ModelUnavailable
from vectorstore.models.provision import is_pulled, packaged_model_dir
from vectorstore.settings import DEFAULT_MODEL
from vectorstore.types import content_hash

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

MODE_BASELINE = "plain-langchain"
CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 1000, 200, 4
#: Files the plain pipeline reads as text; the seeds are all .txt.
TEXT_SUFFIXES = (".txt", ".md")


def model_location(settings: Settings) -> str:
    """The folder (or hub name) of the configured embedding model, resolved as citeqa resolves it."""
    name = settings.embedding.model
    if name == DEFAULT_MODEL:
        if not is_pulled(settings.cache_dir):
            raise ModelUnavailable("Embedding model not found; run `citeqa models pull`.")
        return str(packaged_model_dir(settings.cache_dir))
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def plain_embeddings(settings: Settings, *, library_defaults: bool = False) -> Embeddings:
    """`HuggingFaceEmbeddings` on CPU with the model's own query and document prompts.

    EmbeddingGemma names no default prompt, so a user following the model card passes `prompt_name`
    for both sides. `query_encode_kwargs` replaces `encode_kwargs` for queries (it is not merged), so
    normalisation is asked for in both.

    With `library_defaults` the dtype and batch size are left to the libraries (float32, batches of
    32), as a user assembling the pipeline would; otherwise they are citeqa's (bf16, its batch size).
    """
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    model_kwargs: dict[str, Any] = {"device": "cpu"}
    if not library_defaults:
        # `dtype` is the name transformers 5 uses (it warns about `torch_dtype`).
        model_kwargs["model_kwargs"] = {"dtype": getattr(torch, settings.embedding.dtype)}
    if settings.embedding.dimension is not None:
        model_kwargs["truncate_dim"] = settings.embedding.dimension
    return HuggingFaceEmbeddings(
        model_name=model_location(settings),
        model_kwargs=model_kwargs,
        encode_kwargs={
            "prompt_name": "document",
            "normalize_embeddings": True,
            **({} if library_defaults else {"batch_size": settings.embedding.batch_size}),
        },
        query_encode_kwargs={"prompt_name": "query", "normalize_embeddings": True},
    )


def load_raw(docs_dir: Path) -> list[Any]:
    """Every text file under `docs_dir` as a LangChain Document; `source` is its path below `docs_dir`."""
    from langchain_community.document_loaders import TextLoader

    if not docs_dir.is_dir():
        raise CiteqaError(f"{docs_dir}: no such folder for the baseline; pass --docs with the indexed one.")
    files = sorted(
        p
        for p in docs_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in TEXT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(docs_dir).parts)
    )
    if not files:
        raise CiteqaError(f"{docs_dir}: no .txt or .md files for the baseline to read.")
    documents = []
    for path in files:
        for doc in TextLoader(str(path), encoding="utf-8").load():
            doc.metadata["source"] = path.relative_to(docs_dir).as_posix()
            documents.append(doc)
    return documents


class BaselinePipeline:
    """Builds the plain pipeline's in-memory index of `docs_dir` once; `answer` is then cheap.

    Args:
        docs_dir: The folder of documents (the one citeqa indexed).
        settings: Which embedding model, dtype and batch size.
        embeddings: A LangChain `Embeddings` to use instead of the real model (tests pass a fake).
    """

    def __init__(self, docs_dir: Path, settings: Settings, embeddings: Embeddings | None = None) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        documents = load_raw(docs_dir)
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        chunks = splitter.split_documents(documents)
        self.sources = {doc.metadata["source"] for doc in documents}
        self.chunks = len(chunks)
        self._store = FAISS.from_documents(chunks, embeddings or plain_embeddings(settings))

    def answer(self, question: str) -> Answer:
        """The top passage as the answer, citing its document; never a refusal."""
        started = time.perf_counter()
        hits = self._store.similarity_search_with_score(question, k=TOP_K)
        passages = tuple(
            Passage(
                rank=rank,
                chunk_id=content_hash(doc.page_content),
                source=doc.metadata["source"],
                title=doc.metadata["source"],
                date=None,
                publisher=None,
                language=None,
                text=doc.page_content,
                # The default index is exact squared L2; on unit vectors cosine = 1 - d²/2.
                score=1.0 - float(distance) / 2,
                dense=1.0 - float(distance) / 2,
            )
            for rank, (doc, distance) in enumerate(hits, start=1)
        )
        top = passages[0]
        citation = Citation(
            n=1,
            source=top.source,
            title=top.title,
            date=None,
            publisher=None,
            language=None,
            chunk_id=top.chunk_id,
            quote=top.text,
            passage=top.text,
            quote_start=0,
            quote_end=len(top.text),
            score=top.score,
        )
        return Answer(
            question=question,
            text=top.text,
            refused=False,
            mode=MODE_BASELINE,
            language="und",  # the plain pipeline does not detect languages
            citations=(citation,),
            passages=passages,
            timings_ms={"total": (time.perf_counter() - started) * 1000},
        )
