"""What an incremental update costs against a full build, at the size of issue 26's acceptance line
("an update of one document in a 400k-sentence folder index costs at most 10% of a full build").

A synthetic collection of .txt files is written to a temporary folder, shaped like `benchmarks/ann.py`'s
(documents of 50 chunks, about 190 sentences, paragraphs, an interviewer's question every 40 sentences),
but as files, so the build reads, cleans and cuts them as it would a user's. It is indexed from scratch
with `vectorstore.indexer.build` and a cheap hashing embedder (768 dimensions, as the real model: the
FAISS indexes and vector files are the real size); then one document gets a paragraph more and the
index is updated (no --rebuild). Both are timed per phase (reading the files, splitting, embedding,
the chunk and sentence indexes, saving), by wrapping the functions `build` calls.

The real model's rate (`SentenceTransformerEmbedder`, default settings, the cached model: nothing is
downloaded) is measured on 1000 of the collection's sentences, so the full build with the real model
can be estimated as the fake build plus the real embedding time, and the update set against that.

    nice -n 5 .venv/bin/python benchmarks/update.py --sentences 400000
    .venv/bin/python benchmarks/update.py --sentences 60000 --no-model
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vectorstore.models.embedding import Progress  # noqa: E402

DIM = 768
SENTENCES_PER_DOC = 190
QUESTION_EVERY = 40
PARAGRAPH_EVERY = 12
_WORDS = 20_000


def vocabulary(n: int = _WORDS) -> list[str]:
    """`n` made-up words of two to four syllables (the text store's vocabulary grows with them)."""
    rng = np.random.default_rng(7)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "aa", "ei", "oe")]
    words: set[str] = set()
    while len(words) < n:
        k = int(rng.integers(2, 5))
        words.add("".join(syllables[int(i)] for i in rng.integers(0, len(syllables), k)))
    ordered = sorted(words)
    rng.shuffle(ordered)  # the frequent ranks spread over the alphabet
    return ordered


def document(d: int, words: list[str], rng: np.random.Generator) -> str:
    """A report of about `SENTENCES_PER_DOC` sentences of ~200 characters: about 60 chunks."""
    ranks = np.minimum(rng.zipf(1.3, size=SENTENCES_PER_DOC * 24), len(words)) - 1
    lines: list[str] = []
    paragraph: list[str] = []
    at = 0
    for j in range(SENTENCES_PER_DOC):
        if j % QUESTION_EVERY == QUESTION_EVERY - 1:
            if paragraph:
                lines.append(" ".join(paragraph))
                paragraph = []
            lines.append(f"What happened next on road {j} of report {d}?")
            continue
        n = 15 + j % 7
        body = " ".join(words[int(r)] for r in ranks[at : at + n])
        at += n
        paragraph.append(
            f"Report {d} notes in line {j} that {body} near the valley of {words[d % 89].title()}."
        )
        if len(paragraph) == PARAGRAPH_EVERY:
            lines.append(" ".join(paragraph))
            paragraph = []
    if paragraph:
        lines.append(" ".join(paragraph))
    return f"Report {d}\n\n" + "\n\n".join(lines) + "\n"


def write_collection(folder: Path, sentences: int) -> int:
    """Write about `sentences` sentences as .txt files into `folder`; returns the number of files."""
    folder.mkdir(parents=True, exist_ok=True)
    words = vocabulary()
    n_docs = max(1, round(sentences / SENTENCES_PER_DOC))
    for d in range(n_docs):
        rng = np.random.default_rng(1000 + d)
        (folder / f"report{d:06d}.txt").write_text(document(d, words, rng), encoding="utf-8")
    return n_docs


class HashingEmbedder:
    """A deterministic embedder that costs almost nothing: each text's vector is a fixed random
    direction chosen by hashing it, plus its title's (so a document's sentences lie near each other).

    `tests/fakes.py`'s FakeEmbedder hashes every word in Python, far slower at 400k sentences
    (`fake_embedder_texts_per_s` in the output says by how much)."""

    model_id = "hashing-bench"
    fingerprint = "hashing-bench-1"
    dimension = DIM

    def __init__(self, table_size: int = 4096) -> None:
        rng = np.random.default_rng(11)
        table = rng.standard_normal((table_size, DIM)).astype(np.float32)
        self.table = table / np.linalg.norm(table, axis=1, keepdims=True)

    def _indices(self, texts: Sequence[str]) -> np.ndarray:
        digests = [hashlib.blake2b(t.encode(), digest_size=8).digest() for t in texts]
        h = np.frombuffer(b"".join(digests), dtype=np.uint64) if digests else np.zeros(0, np.uint64)
        return (h % np.uint64(len(self.table))).astype(np.int64)

    def embed_documents(
        self, texts: Sequence[str], titles: Sequence[str] | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.empty((len(texts), DIM), np.float32)
        titles = list(titles) if titles is not None else [""] * len(texts)
        for start in range(0, len(texts), 50_000):
            part = slice(start, start + 50_000)
            v = self.table[self._indices(texts[part])] + self.table[self._indices(titles[part])]
            out[part] = v / np.linalg.norm(v, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)


class Phases:
    """Seconds spent in named functions while `timing` is active (wrapped module attributes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed

    @contextmanager
    def timing(self) -> Iterator[dict[str, float]]:
        from vectorstore import faiss_index, indexer, store, texts

        targets = [
            (store, "load", "load_old"),
            (indexer, "_assemble", "assemble"),
            (indexer, "read_documents", "read_files"),
            (indexer, "split_documents", "split"),
            (indexer, "embed_split", "embed"),
            (faiss_index, "build_index", "chunk_index"),
            (faiss_index, "sentence_index", "sentence_index"),
            (store, "_save_texts", "save_texts"),
            (store, "compute", "save_features"),
            (texts, "write", "save_text_store"),
            (store, "language_means", "save_language_means"),
            (store, "file_digest", "save_sha256"),
            (store, "save", "save"),
        ]
        saved = [(module, attr, getattr(module, attr)) for module, attr, _ in targets]
        self.seconds.clear()
        for module, attr, name in targets:
            setattr(module, attr, self.wrap(name, getattr(module, attr)))
        try:
            yield self.seconds
        finally:
            for module, attr, fn in saved:
                setattr(module, attr, fn)


def rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in seconds.items()}


def timed_build(
    docs: Path, index_dir: Path, embedder: Any, rebuild: bool
) -> tuple[float, dict[str, float], Any]:
    from vectorstore.indexer import build
    from vectorstore.settings import ChunkingSettings, StoreSettings

    phases = Phases()
    with phases.timing() as seconds:
        started = time.perf_counter()
        report = build(
            [docs],
            index_dir,
            embedder=embedder,
            chunking=ChunkingSettings(),
            store_settings=StoreSettings(),
            rebuild=rebuild,
        )
        total = time.perf_counter() - started
        phase = rounded(seconds)
    # Nested timers: what the outer ones spent outside the inner ones.
    inner = ("split", "embed", "chunk_index", "sentence_index")
    phase["assemble_other"] = round(phase.get("assemble", 0.0) - sum(phase.get(k, 0.0) for k in inner), 2)
    phase["build_other"] = round(
        total - sum(phase.get(k, 0.0) for k in ("load_old", "read_files", "assemble", "save")), 2
    )
    return total, phase, report


def fake_rate(texts: list[str]) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from tests.fakes import FakeEmbedder

    fake = FakeEmbedder(dimension=DIM)
    started = time.perf_counter()
    fake.embed_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def model_rate(texts: list[str], titles: list[str]) -> dict[str, Any]:
    """Sentences/s of the real embedder with default settings, the model loaded beforehand."""
    from qa.settings import Settings
    from vectorstore.models.embedding import SentenceTransformerEmbedder

    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
    embedder.embed_documents(texts[:16], titles[:16])  # loads the model and its first kernels
    started = time.perf_counter()
    embedder.embed_documents(texts, titles)
    seconds = time.perf_counter() - started
    return {
        "model": settings.embedding.model,
        "backend": settings.embedding.backend,
        "model_sentences": len(texts),
        "model_sentences_per_s": round(len(texts) / seconds, 1),
    }


def sample_texts(docs: Path, n: int) -> tuple[list[str], list[str]]:
    """`n` sentences as the indexer embeds them (its split of the first documents), with their titles."""
    from vectorstore.indexer import split_documents
    from vectorstore.ingest.loaders import load_file
    from vectorstore.settings import ChunkingSettings, StoreSettings

    texts: list[str] = []
    titles: list[str] = []
    for path in sorted(docs.iterdir()):
        loaded, _ = load_file(path, docs, StoreSettings().max_file_bytes)
        split = split_documents(loaded, ChunkingSettings())
        texts += split.texts
        titles += split.titles
        if len(texts) >= n:
            break
    return texts[:n], titles[:n]


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(sentences: int, workdir: Path | None, with_model: bool, model_texts: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:  # removed afterwards, whatever happens
        root = Path(tmp)
        docs, index_dir = root / "docs", root / "index"
        started = time.perf_counter()
        n_files = write_collection(docs, sentences)
        result: dict[str, Any] = {"files": n_files, "generate_s": round(time.perf_counter() - started, 1)}
        result["load_before"] = load_now()
        embedder = HashingEmbedder()
        full_s, full_phases, report = timed_build(docs, index_dir, embedder, rebuild=True)
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
        n_sent = int(manifest["counts"]["sentences"])
        result.update(
            sentences=n_sent,
            chunks=int(manifest["counts"]["chunks"]),
            sentence_index=manifest.get("sentence_index", {}).get("nlist"),
            chunk_index=manifest["faiss"],
            full_build_s=round(full_s, 1),
            full_phases=full_phases,
            full_embedded_texts=report.embedded_texts,
        )
        target = docs / "report000001.txt"
        with target.open("a", encoding="utf-8") as fh:
            fh.write(
                "\nA new paragraph, added for the update. It says that the committee met again in May "
                "and that nothing had changed on the road since the report was written.\n"
            )
        update_s, update_phases, report = timed_build(docs, index_dir, embedder, rebuild=False)
        result.update(
            update_s=round(update_s, 1),
            update_phases=update_phases,
            update_changed=report.changed,
            update_embedded_texts=report.embedded_texts,
            update_over_full=round(update_s / full_s, 3),
        )
        texts, titles = sample_texts(docs, model_texts)
        result["fake_embedder_texts_per_s"] = round(fake_rate(texts))
        result["hashing_embedder_texts_per_s"] = round(n_sent / max(full_phases.get("embed", 0.0), 1e-9))
        if with_model:
            rate = model_rate(texts, titles)
            result.update(rate)
            # The fake build's own embedding time is a second or two: left in, as the brief's estimate.
            real_full = full_s + result["full_embedded_texts"] / rate["model_sentences_per_s"]
            result["est_full_build_real_s"] = round(real_full, 1)
            result["update_over_est_full_real"] = round(update_s / real_full, 4)
        result["load_after"] = load_now()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=400_000)
    parser.add_argument("--workdir", type=Path, default=None, help="where the files and index go")
    parser.add_argument("--no-model", action="store_true", help="skip the real model's rate")
    parser.add_argument("--model-texts", type=int, default=1000)
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    result = run(args.sentences, args.workdir, not args.no_model, args.model_texts)
    result["cores"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
