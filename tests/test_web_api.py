"""The `/ask` endpoint through `gradio_client`, against the real model and the seeds index."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.test_web_browser import start_app

pytestmark = pytest.mark.integration

ANSWER_KEYS = {
    "question",
    "answer",
    "refused",
    "mode",
    "language",
    "note",
    "citations",
    "passages",
    "closest_matches",
    "decision",
    "retrieval_question",
    "history_used",
    "timings_ms",
}


@pytest.fixture(scope="module")
def app_url(real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_app(real_seeds_index, tmp_path_factory.mktemp("web-api") / "app.log")


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def test_ask_returns_the_cli_json_object_citing_the_kujat_interview(app_url: str) -> None:
    result = _client(app_url).predict("What was offered at Istanbul?", api_name="/ask")
    assert set(result) == ANSWER_KEYS
    assert result["question"] == "What was offered at Istanbul?" and result["refused"] is False
    assert "[1]" in result["answer"]
    assert result["citations"][0]["n"] == 1
    assert "000_d6b9d14a00a44e16.txt" in {c["source"] for c in result["citations"]}


def test_ask_reports_a_bad_question_as_an_error_object(app_url: str) -> None:
    result = _client(app_url).predict("   ", api_name="/ask")
    assert list(result) == ["error"] and result["error"].startswith("The question is empty")


def test_a_burst_of_sessions_loses_no_request(app_url: str) -> None:
    questions = [
        "What was offered at Istanbul?",
        "Wat bood Oekraïne aan in Istanbul?",
        "Wer führte das Interview mit Harald Kujat?",
    ]
    clients = [_client(app_url) for _ in questions]
    with ThreadPoolExecutor(len(questions)) as pool:
        jobs = [pool.submit(c.predict, q, api_name="/ask") for c, q in zip(clients, questions, strict=True)]
        results = [job.result() for job in jobs]
    assert [r["question"] for r in results] == questions
    assert all(r["citations"] and not r["refused"] for r in results)
