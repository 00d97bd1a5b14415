"""Shared fixtures: every data folder points at tmp_path; the real model is shared per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# The real cache (model weights) as the user's environment defines it, read before any test changes it.
REAL_CACHE = Path(os.environ.get("CITEQA_CACHE_DIR", Path.home() / ".cache" / "citeqa")).expanduser()


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's cache or index unless it asks for the real model."""
    monkeypatch.setenv("CITEQA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def fake_embedder():  # type: ignore[no-untyped-def]
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()
