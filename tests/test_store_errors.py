"""Bad store input gets one line and a non-zero exit, never a traceback: a wrong URL, a server that is
down, wrong credentials, a database without pgvector, an index built by another model."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from qa.cli import main
from tests.conftest import SEEDS, database_url
from tests.fakes import FakeEmbedder
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.stores.factory import open_store


def _one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("citeqa: ")
    return lines[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://user@host/db", "must be a PostgreSQL URL such as postgresql://user@host/dbname"),
        ("postgresql://user@localhost:notaport/db", "the port in the URL is not a number"),
        ("postgresql://user@no-such-host.invalid/db", "no such host"),
    ],
    ids=["scheme", "port", "host"],
)
def test_a_wrong_url_is_one_line(capsys: pytest.CaptureFixture[str], url: str, says: str) -> None:
    line = _one_line_error(capsys, "ask", "What was offered?", "--store", url)
    assert says in line


def test_a_server_that_is_down_is_one_line_saying_how_to_start_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"postgresql://postgres@/citeqa?host={tmp_path}"  # no server has a socket there
    for argv in (["ask", "What was offered?"], ["index", str(SEEDS)], ["eval", "gold/seeds.jsonl"]):
        line = _one_line_error(capsys, *argv, "--store", url)
        assert f"Cannot use the PostgreSQL store {url}" in line
        assert "no PostgreSQL server answers there; start it (a private one: citeqa db start)" in line


def test_wrong_credentials_are_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], pg_server: str
) -> None:
    url = database_url(pg_server, "citeqa", "citeqa_pw:wrong")
    line = _one_line_error(capsys, "ask", "What was offered?", "--store", url)
    assert "the server refused the login; check the user and password in the URL" in line
    assert "wrong" not in line and "citeqa_pw@" in line
    line = _one_line_error(
        capsys, "ask", "What was offered?", "--store", database_url(pg_server, "citeqa", "nobody")
    )
    assert "refused the login" in line
    line = _one_line_error(
        capsys, "ask", "What was offered?", "--store", database_url(pg_server, "no_such_db")
    )
    assert "that database does not exist" in line


def test_the_right_password_gets_in(capsys: pytest.CaptureFixture[str], pg_server: str) -> None:
    url = database_url(pg_server, "citeqa", "citeqa_pw:right")
    line = _one_line_error(capsys, "ask", "What was offered?", "--store", url)
    assert "No index in" in line and "citeqa_pw@" in line and "right" not in line.split("citeqa index")[0]


def test_a_database_without_pgvector_says_how_to_add_it(
    capsys: pytest.CaptureFixture[str], pg_server: str
) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS plain_db WITH (FORCE)")
        conn.execute("CREATE DATABASE plain_db OWNER citeqa_plain")
    try:
        url = database_url(pg_server, "plain_db", "citeqa_plain")
        line = _one_line_error(capsys, "index", str(SEEDS), "--store", url)
        assert "has no `vector` extension and citeqa could not add it" in line
        assert "a superuser adds it with: psql -d plain_db -c 'CREATE EXTENSION vector'" in line
        line = _one_line_error(capsys, "ask", "What was offered?", "--store", url)
        assert "its database has no `vector` extension" in line and "CREATE EXTENSION vector" in line
        # As the message says: a superuser adds it, and the same user can then build the index.
        with psycopg.connect(database_url(pg_server, "plain_db"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        store = open_store(StoreSettings(url=url), Path("unused"))
        report = store.index([SEEDS], embedder=FakeEmbedder(), chunking=ChunkingSettings())
        store.close()
        assert len(report.added) == 5
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS plain_db WITH (FORCE)")


def test_an_index_built_by_another_model_is_one_line_saying_how_to_rebuild(
    capsys: pytest.CaptureFixture[str], pg_url: str
) -> None:
    store = open_store(StoreSettings(url=pg_url), Path("unused"))
    store.index([SEEDS], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    store.close()
    line = _one_line_error(capsys, "ask", "What was offered?", "--store", pg_url)
    assert (
        "was built with model fake-embedder (dim 64), settings ask for embeddinggemma-300m (dim 768)" in line
    )
    assert f"rebuild it with: citeqa index --rebuild --store '{pg_url}'" in line


def test_citeqa_store_names_the_database_and_its_section_stays_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qa.settings import Settings

    assert Settings().store.url is None
    monkeypatch.setenv("CITEQA_STORE", "postgresql://me@db.example/citeqa")
    assert Settings().store.url == "postgresql://me@db.example/citeqa"
    assert Settings(store={"url": None}).store.url is None  # type: ignore[arg-type]  # --store ''
    monkeypatch.delenv("CITEQA_STORE")
    monkeypatch.setenv("CITEQA_STORE__URL", "postgresql://me@db.example/other")
    monkeypatch.setenv("CITEQA_STORE__NPROBE", "8")
    assert (Settings().store.url, Settings().store.nprobe) == ("postgresql://me@db.example/other", 8)
