"""citeqa's answering side: turn a question into a cited answer.

`qa.answer(question, settings)` is the library entry point used by the CLI, the web app and the
evaluation. Importing this package does no model or index work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.settings import Settings
    from qa.types import Answer

__all__ = ["answer"]


def answer(question: str, settings: Settings) -> Answer:
    """Answer `question` from the index `settings` point at (see `qa.pipeline.answer`)."""
    from qa.pipeline import answer as _answer

    return _answer(question, settings)
