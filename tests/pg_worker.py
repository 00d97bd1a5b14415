"""A `citeqa index` into PostgreSQL with the fake embedder, as a separate process for the store tests.

`python -m tests.pg_worker URL DOCS LOG [--delay S] [--hang TITLE] [--claim-texts N]` indexes the folder
DOCS into the database at URL. Before embedding a document it appends the document's title to LOG (one
line, flushed), then waits `--delay` seconds, or for ever for the document titled `--hang` (to be killed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tests.fakes import FakeEmbedder
from vectorstore.models.embedding import Progress
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.stores.factory import open_store


class LoggingEmbedder(FakeEmbedder):
    def __init__(self, log: Path, delay: float, hang: str | None) -> None:
        super().__init__()
        self._log, self._delay, self._hang = log, delay, hang

    def embed_documents(
        self, texts: Sequence[str], titles: Sequence[str] | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        for title in dict.fromkeys(titles or ()):
            with self._log.open("a", encoding="utf-8") as fh:
                fh.write(f"{title}\n")
            while title == self._hang:
                time.sleep(1)
        time.sleep(self._delay)
        return super().embed_documents(texts, titles, progress)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("docs")
    parser.add_argument("log")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hang")
    parser.add_argument("--claim-texts", type=int, default=StoreSettings().claim_texts)
    args = parser.parse_args(argv)
    store = open_store(StoreSettings(url=args.url, claim_texts=args.claim_texts), Path("unused"))
    report = store.index(
        [Path(args.docs)],
        embedder=LoggingEmbedder(Path(args.log), args.delay, args.hang),
        chunking=ChunkingSettings(),
    )
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
