"""A bounded burst of concurrent `/ask` calls against the app on loopback, with the real model."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from tests.test_web_browser import start_app

pytestmark = pytest.mark.integration

CONCURRENCY = 20
TOTAL = 200
TIME_LIMIT_S = 600
QUESTIONS = (
    "What was offered at Istanbul?",
    "Wat bood Oekraïne aan in Istanbul?",
    "Wer führte das Interview mit Harald Kujat?",
    "Who won the 1998 Tour de France?",  # a refusal
    "<script>alert(1)</script>",
)


@pytest.fixture(scope="module")
def app_url(real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_app(real_seeds_index, tmp_path_factory.mktemp("load") / "app.log")


def _essence(result: dict[str, Any]) -> tuple[Any, ...]:
    """What must not change under load: the answer, refusal and cited sources."""
    assert "error" not in result, result
    return result["answer"], result["refused"], tuple(c["source"] for c in result["citations"])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_a_burst_of_200_asks_20_at_a_time_is_answered_in_full(app_url: str) -> None:
    from gradio_client import Client

    alone = {q: _essence(Client(app_url, verbose=False).predict(q, api_name="/ask")) for q in QUESTIONS}
    for q, (_, refused, sources) in alone.items():
        assert refused or sources, f"{q!r} neither cites nor refuses"
    clients = [Client(app_url, verbose=False) for _ in range(CONCURRENCY)]

    def one(i: int) -> tuple[str, dict[str, Any], float]:
        question = QUESTIONS[i % len(QUESTIONS)]
        t0 = time.perf_counter()
        result = clients[i % CONCURRENCY].predict(question, api_name="/ask")
        return question, result, time.perf_counter() - t0

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        jobs = [pool.submit(one, i) for i in range(TOTAL)]
        done, pending = wait(jobs, timeout=TIME_LIMIT_S)
        for job in pending:
            job.cancel()
    wall = time.perf_counter() - started
    assert not pending, f"{len(pending)} of {TOTAL} asks unanswered after {TIME_LIMIT_S} s"
    results = [job.result() for job in jobs]
    assert len(results) == TOTAL
    for question, result, _ in results:
        assert result["question"] == question
        assert _essence(result) == alone[question]
    latencies = [seconds for _, _, seconds in results]
    p50, p95 = _percentile(latencies, 0.50), _percentile(latencies, 0.95)
    print(
        f"\nload: {TOTAL} asks, {CONCURRENCY} concurrent, all answered in {wall:.1f} s "
        f"({TOTAL / wall:.1f}/s); latency p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s, "
        f"mean {statistics.mean(latencies):.2f} s"
    )
