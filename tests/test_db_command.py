"""`citeqa db start` / `citeqa db stop`: a private PostgreSQL 18 with pgvector from the pgserver wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import ROOT


def _citeqa(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITEQA_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_start_prints_a_url_to_postgres_18_with_pgvector_and_db_stop_stops_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    started = _citeqa("db", "start", cache=cache)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    data = cache / "postgres"
    assert url == f"postgresql://postgres@/citeqa?host={data}"
    assert "Traceback" not in started.stderr and "Warning" not in started.stderr
    try:
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()
            extension = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            tcp = conn.execute("SHOW listen_addresses").fetchone()
        assert version is not None and int(version[0]) // 10000 == 18
        assert extension is not None
        assert tcp == ("",), "the private server listens on its Unix socket only"
        again = _citeqa("db", "start", cache=cache)
        assert (again.returncode, again.stdout.strip()) == (0, url)
    finally:
        stopped = _citeqa("db", "stop", cache=cache)
    assert stopped.returncode == 0 and "Stopped" in stopped.stdout
    down = _citeqa("ask", "What was offered?", "--store", url, cache=cache)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines() == [
        f"citeqa: Cannot use the PostgreSQL store {url}: no PostgreSQL server answers there; "
        "start it (a private one: citeqa db start) or fix the URL."
    ]
    assert "No PostgreSQL server was running" in _citeqa("db", "stop", cache=cache).stdout
