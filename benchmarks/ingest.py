"""Ingestion throughput, files to a saved index: citeqa's indexer against the plain LangChain pipeline.

Both use the same EmbeddingGemma weights, loaded once before timing (model load is reported apart, as
part of cold start). The plain pipeline is what a user assembles from the LangChain documentation:
`HuggingFaceEmbeddings` with the libraries' defaults (float32, batches of 32). citeqa's own choices
(bf16, batches of similar token length) are part of what is measured; `--tuned-plain` adds a line for
the plain pipeline given citeqa's dtype and batch size, to show what is left once those are shared.
Runs alternate, ours then plain, so load from other processes falls on both; the ratio is taken per
pair and the median reported.

What each embeds: citeqa embeds every sentence alone with its document's title in the model's prompt
(the evidence the answer quotes) and takes each chunk's vector as the mean of its sentences'
(`chunk_vectors` "sentences", the default; "embedded" embeds the chunks as well); the plain pipeline
embeds its chunks. This in-process comparison is the secondary line; the headline is `wall.py`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plain_store import save_plain

from qa.evaluate.baseline import CHUNK_OVERLAP, CHUNK_SIZE, load_raw, plain_embeddings
from qa.settings import Settings
from vectorstore.indexer import build
from vectorstore.ingest.loaders import SIDECAR
from vectorstore.models.embedding import SentenceTransformerEmbedder

#: The two smallest seeds: enough for a ratio in a few seconds (used by --quick).
QUICK_FILES = ("001_5b70a646f9b877f3.txt", "003_70503c2fd6e06528.txt")


@dataclass(frozen=True)
class Run:
    """One timed ingestion: wall and CPU seconds, chunks in the index, texts embedded."""

    seconds: float
    cpu_seconds: float
    chunks: int
    texts: int

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds


def copy_collection(source: Path, target: Path, names: Sequence[str] | None = None) -> Path:
    """Copy the collection's documents (all, or `names`) and its metadata sidecar into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file() and (names is None or path.name in names or path.name == SIDECAR):
            shutil.copy2(path, target / path.name)
    return target


class Ingestion:
    """Both pipelines with warm models, ready to index a folder again and again.

    Args:
        settings: Model, dtype, batch size, chunking and store settings (ours and plain share the model ones).
        workdir: Where indexes are written; each run replaces the previous one.
    """

    def __init__(self, settings: Settings, workdir: Path, *, tuned_plain: bool = False) -> None:
        self.settings = settings
        self.workdir = workdir
        self.embedder = SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
        self.embedder.embed_documents(["warm-up"])  # loads the model and its first kernels
        self.plain = plain_embeddings(settings, library_defaults=not tuned_plain)
        self.plain.embed_documents(["warm-up"])
        self.tokenizer: Any = self.embedder._loaded().model.tokenizer
        self.plain_store: Any = None
        self.plain_texts: list[str] = []

    def _tokens(self, texts: Sequence[str]) -> int:
        return sum(len(ids) for ids in self.tokenizer(list(texts))["input_ids"])

    def ours(self, docs: Path, index_dir: Path | None = None) -> Run:
        """`vectorstore.indexer.build` from scratch into a fresh folder."""
        index_dir = index_dir or self.workdir / "ours-index"
        shutil.rmtree(index_dir, ignore_errors=True)
        started, cpu = time.perf_counter(), time.process_time()
        report = build(
            [docs],
            index_dir,
            embedder=self.embedder,
            chunking=self.settings.chunking,
            store_settings=self.settings.store,
            rebuild=True,
        )
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        return Run(seconds, cpu_seconds, report.chunks, report.embedded_texts)

    def plain_run(self, docs: Path) -> Run:
        """TextLoader, RecursiveCharacterTextSplitter(1000, 200), FAISS.from_documents, saved (no pickle)."""
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        target = self.workdir / "plain-index"
        shutil.rmtree(target, ignore_errors=True)
        started, cpu = time.perf_counter(), time.process_time()
        documents = load_raw(docs)
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        chunks = splitter.split_documents(documents)
        self.plain_store = FAISS.from_documents(chunks, self.plain)
        save_plain(self.plain_store, target)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        self.plain_texts = ["title: none | text: " + c.page_content for c in chunks]
        return Run(seconds, cpu_seconds, len(chunks), len(chunks))

    def plain_tokens(self) -> int:
        """Tokens the last plain run embedded."""
        return self._tokens(self.plain_texts)

    def our_tokens(self, index_dir: Path) -> int:
        """Tokens citeqa embedded for `index_dir`: sentences with context, chunks if embedded."""
        from vectorstore import store
        from vectorstore.indexer import sentence_in_context

        data = store.load(index_dir)
        titles = {doc_id: doc.meta.title for doc_id, doc in data.documents.items()}
        texts = []
        if self.settings.chunking.chunk_vectors == "embedded":
            texts = [f"title: {titles[c.doc_id]} | text: {c.text}" for c in data.chunks]
        context = self.settings.chunking.sentence_context_chars
        texts += [
            f"title: {titles[s.doc_id]} | text: "
            + sentence_in_context(data.documents[s.doc_id].text, s.start, s.end, context)
            for s in data.sentences
        ]
        return self._tokens(texts)


@dataclass(frozen=True)
class Comparison:
    ours: list[Run]
    plain: list[Run]
    our_tokens: int
    plain_tokens: int

    def _ratio(self, key: str) -> float:
        pairs = zip(self.ours, self.plain, strict=True)
        return statistics.median(getattr(o, key) / getattr(p, key) for o, p in pairs)

    @property
    def throughput_ratio(self) -> float:
        """Median over pairs of (our chunks/s) / (plain chunks/s)."""
        pairs = zip(self.ours, self.plain, strict=True)
        return statistics.median(o.chunks_per_s / p.chunks_per_s for o, p in pairs)

    @property
    def time_ratio(self) -> float:
        """Median over pairs of our seconds / plain seconds for the same files."""
        return self._ratio("seconds")

    @property
    def cpu_time_ratio(self) -> float:
        return self._ratio("cpu_seconds")

    def lines(self, label: str) -> list[str]:
        token_ratio = self.our_tokens / max(self.plain_tokens, 1)
        return [
            f"ingestion ({label}; {len(self.ours)} alternating run pair(s), models loaded beforehand):",
            "  ours : " + _describe(self.ours, "texts (sentences with context)", self.our_tokens),
            "  plain: " + _describe(self.plain, "texts (chunks)", self.plain_tokens),
            f"  ingestion ratio ours/plain: {self.throughput_ratio:.2f}x chunks/s (target 1.5x); "
            f"the same files take {self.time_ratio:.2f}x the wall time ({self.cpu_time_ratio:.2f}x CPU time) "
            f"for {token_ratio:.2f}x the tokens: {token_ratio / self.time_ratio:.2f}x the plain tokens/s",
        ]


def _describe(runs: Sequence[Run], what: str, tokens: int) -> str:
    seconds = [r.seconds for r in runs]
    return (
        f"{runs[0].chunks} chunks, {runs[0].texts} {what} embedded, {tokens} tokens; "
        f"median {statistics.median(seconds):.1f} s (best {min(seconds):.1f}), "
        f"{statistics.median(r.chunks_per_s for r in runs):.2f} chunks/s"
    )


def compare(ingestion: Ingestion, docs: Path, pairs: int) -> Comparison:
    """Alternate ours and plain on `docs` `pairs` times."""
    ours, plain = [], []
    for _ in range(pairs):
        ours.append(ingestion.ours(docs))
        plain.append(ingestion.plain_run(docs))
    our_tokens = ingestion.our_tokens(ingestion.workdir / "ours-index")
    return Comparison(ours, plain, our_tokens, ingestion.plain_tokens())


def quick_subset(seeds: Path, workdir: Path) -> Path:
    return copy_collection(seeds, Path(tempfile.mkdtemp(prefix="quick-", dir=workdir)), QUICK_FILES)


def load_now() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cores"
