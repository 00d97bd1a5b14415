"""`python -m tests.fake_cli ARGS`: the `citeqa` command line with the fake embedder for the model.

For tests that need a real process (a server for real HTTP clients, an MCP host's stdio, argv bytes
that are not UTF-8) but not the real model: every `SentenceTransformerEmbedder` the command would
load is a `tests.fakes.FakeEmbedder`, so an index built by `tests.fakes.index_with_fake` answers.
"""

from __future__ import annotations

import sys
from typing import Any

import vectorstore.models.embedding
from tests.fakes import FakeEmbedder


def main() -> int:
    def fake(*args: Any, **kwargs: Any) -> FakeEmbedder:
        return FakeEmbedder()

    # Before anything imports the name from the module (qa.engine does at import).
    vectorstore.models.embedding.SentenceTransformerEmbedder = fake  # type: ignore[misc,assignment]
    from qa.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
