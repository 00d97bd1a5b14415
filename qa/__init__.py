"""citeqa's answering side: turn a question into a cited answer.

`qa.answer(question, settings)` is the library entry point used by the CLI, the web app and the
evaluation. Importing this package does no model or index work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.settings import Settings
    from qa.types import Answer

__all__ = ["answer", "answer_stream"]


def answer(question: str, settings: Settings, *, mode: str | None = None) -> Answer:
    """Answer `question` from the index `settings` point at (see `qa.pipeline.answer`); `mode` is
    "extractive" or "generative", by default `settings.mode`."""
    from qa.pipeline import answer as _answer

    return _answer(question, settings, mode=mode)


def answer_stream(question: str, settings: Settings, *, mode: str | None = None) -> Iterator[str | Answer]:
    """`answer`, yielding the generative draft's text as it comes and then the Answer."""
    from qa.pipeline import answer_stream as _answer_stream

    return _answer_stream(question, settings, mode=mode)
