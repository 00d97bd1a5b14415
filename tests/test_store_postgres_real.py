"""The PostgreSQL store with the real model: the same answers as the folder on the gold set, and two
`citeqa serve` processes on one database answering alike and following an update without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from qa.engine import Engine, clear_engines, get_engine
from qa.pipeline import answer_from_vector, embed_question, validate_question
from qa.settings import Settings
from tests.conftest import REAL_CACHE, ROOT, SEEDS, database_url
from tests.test_web_browser import _free_port
from vectorstore.models.embedding import SentenceTransformerEmbedder
from vectorstore.stores.factory import open_store

pytestmark = pytest.mark.integration

HARBOUR = (
    "Harbour news\n\nThe new harbour of Zandvoort opened on 3 March 2031. "
    "It has 17 berths for fishing boats and a small museum about the dunes.\n"
)
HARBOUR_QUESTION = "How many berths does the harbour of Zandvoort have?"


@pytest.fixture(scope="module")
def seeds_db(pg_server: str) -> Iterator[str]:
    """The seeds indexed with the real model into a database of their own (a template for copies)."""
    name = "real_seeds"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = database_url(pg_server, name)
    settings = Settings(cache_dir=REAL_CACHE, store={"url": url})  # type: ignore[arg-type]
    store = open_store(settings.store, settings.resolved_index_dir)
    store.index(
        [SEEDS],
        embedder=SentenceTransformerEmbedder(settings.embedding, REAL_CACHE),
        chunking=settings.chunking,
    )
    store.close()
    yield url
    clear_engines()
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _essence(answer: Any) -> tuple[Any, ...]:
    return (
        answer.text,
        answer.refused,
        [(c.source, c.chunk_id, c.quote) for c in answer.citations],
        [p.chunk_id for p in answer.passages],
    )


def test_postgres_answers_every_gold_question_as_the_folder_does(
    seeds_db: str, real_settings: Settings
) -> None:
    pg_settings = Settings(cache_dir=REAL_CACHE, store={"url": seeds_db})  # type: ignore[arg-type]
    folder: Engine = get_engine(real_settings)
    pg: Engine = get_engine(pg_settings, folder.embedder)
    assert pg.location.startswith("postgresql://") and pg.status() == folder.status()
    questions = [
        json.loads(line)["question"] for line in (ROOT / "gold" / "seeds.jsonl").open(encoding="utf-8")
    ]
    assert len(questions) == 94
    answered = 0
    for question in questions:
        question = validate_question(question)
        vector, focus = embed_question(question, folder)
        ours = answer_from_vector(question, vector, pg, pg_settings, focus_vector=focus)
        theirs = answer_from_vector(question, vector, folder, real_settings, focus_vector=focus)
        assert _essence(ours) == _essence(theirs), question
        answered += not ours.refused
    assert answered > 60


def _serve(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "CITEQA_CACHE_DIR": str(REAL_CACHE), "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--store", url, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}/"


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            pytest.fail(f"serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"serve did not answer on {url}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def test_two_serve_processes_on_one_database_answer_alike_and_follow_an_update(
    seeds_db: str, pg_server: str, tmp_path: Path
) -> None:
    from gradio_client import Client

    clear_engines()  # a template database must have no connections while it is copied
    name = "serve_copy"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE real_seeds")
    url = database_url(pg_server, name)
    servers = [_serve(url, tmp_path / f"serve{i}.log") for i in range(2)]
    try:
        for i, (proc, address) in enumerate(servers):
            _wait_until_up(proc, address, tmp_path / f"serve{i}.log")
        clients = [Client(address, verbose=False) for _, address in servers]

        def ask(question: str) -> list[tuple[Any, ...]]:
            results = [client.predict(question, api_name="/ask") for client in clients]
            for result in results:
                assert "error" not in result, result
            return [(r["answer"], r["refused"], [c["source"] for c in r["citations"]]) for r in results]

        for question in ("What was offered at Istanbul?", "Wer führte das Interview mit Harald Kujat?"):
            first, second = ask(question)
            assert first == second and first[2], question
        before = ask(HARBOUR_QUESTION)
        assert before[0] == before[1] and "harbour.txt" not in before[0][2]

        docs = tmp_path / "more"
        docs.mkdir()
        (docs / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
        settings = Settings(cache_dir=REAL_CACHE, store={"url": url})  # type: ignore[arg-type]
        store = open_store(settings.store, settings.resolved_index_dir)
        report = store.index(
            [SEEDS, docs],
            embedder=SentenceTransformerEmbedder(settings.embedding, REAL_CACHE),
            chunking=settings.chunking,
        )
        store.close()
        assert report.added == ["harbour.txt"] and len(report.unchanged) == 5

        after = ask(HARBOUR_QUESTION)
        assert after[0] == after[1], "the two processes answer alike"
        assert after[0][2][0] == "harbour.txt" and "17" in after[0][0], after[0]
        assert all(proc.poll() is None for proc, _ in servers), "no restart"
    finally:
        for proc, _ in servers:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
