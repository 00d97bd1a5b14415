"""What the benchmark runs in fresh processes besides `citeqa` itself (see `processes.py`).

    plain_child.py plain-index DOCS OUT [tuned]  the plain pipeline: files to a saved FAISS store
                                               (tuned: given citeqa's dtype and batch size)
    plain_child.py plain-ask OUT QUESTION      load the saved store and the model, answer one question
    plain_child.py plain-serve OUT GOLD N      load once, answer the first N gold questions (0: all)
    plain_child.py ours-serve INDEX GOLD N     citeqa's engine, the same questions
    plain_child.py citeqa ARGS...              `citeqa ARGS...` (qa.cli.main), e.g. index DOCS --index-dir OUT

Each prints its peak resident memory last, to stderr, as `peak_rss_mb=N`: VmHWM of this process's own
address space. (ru_maxrss is no use here: Linux carries the parent's peak over fork and exec, so a child
of a benchmark holding two models would report theirs.)

The plain store is saved as `faiss.write_index` plus JSON (benchmarks/plain_store.py), not with
LangChain's pickling `save_local`: nothing in this project loads pickle.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _plain_store(out: Path):  # type: ignore[no-untyped-def]
    from plain_store import load_plain

    from qa.evaluate.baseline import plain_embeddings
    from qa.settings import Settings

    return load_plain(out, plain_embeddings(Settings(), library_defaults=True))


def _questions(gold: Path, limit: int) -> list[str]:
    from qa.evaluate.gold import load_gold

    questions = [g.question for g in load_gold(gold)]
    return questions[:limit] if limit else questions


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "citeqa":
        from qa.cli import main as citeqa_main

        return citeqa_main(rest)
    if command == "plain-index":
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from qa.evaluate.baseline import CHUNK_OVERLAP, CHUNK_SIZE, load_raw, plain_embeddings
        from qa.settings import Settings

        docs, out = Path(rest[0]), Path(rest[1])
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        chunks = splitter.split_documents(load_raw(docs))
        from plain_store import save_plain

        defaults = rest[2:] != ["tuned"]
        save_plain(FAISS.from_documents(chunks, plain_embeddings(Settings(), library_defaults=defaults)), out)
        print(f"{len(chunks)} chunks")
    elif command == "plain-ask":
        hits = _plain_store(Path(rest[0])).similarity_search(rest[1], k=4)
        print(hits[0].page_content)
    elif command == "plain-serve":
        store = _plain_store(Path(rest[0]))
        for question in _questions(Path(rest[1]), int(rest[2])):
            store.similarity_search(question, k=4)
    elif command == "ours-serve":
        from qa.engine import get_engine
        from qa.pipeline import answer
        from qa.settings import Settings

        settings = Settings(index_dir=Path(rest[0]))
        engine = get_engine(settings)
        for question in _questions(Path(rest[1]), int(rest[2])):
            answer(question, settings, engine=engine)
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    print(f"peak_rss_mb={peak_rss_mb():.0f}", file=sys.stderr)
    sys.exit(code)
