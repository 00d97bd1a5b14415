"""Connecting to PostgreSQL: URLs shown without passwords, connection failures as one line saying what to
do, and what a database lacks when pgvector is missing."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from vectorstore.errors import StoreUnavailable

CONNECT_TIMEOUT_S = 10


def display_url(url: str) -> str:
    """`url` without its password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return url.split("://", 1)[0] + "://…"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    where = f"{host}:{parts['port']}" if parts.get("port") else host
    if host.startswith("/"):  # a Unix socket folder goes into the query, as libpq writes it
        return f"postgresql://{user}/{parts.get('dbname', '')}?host={host}"
    return f"postgresql://{user}{where}/{parts.get('dbname', '')}"


def connection_error(err: psycopg.Error, location: str) -> StoreUnavailable:
    """A one-line StoreUnavailable saying what went wrong connecting to `location` and what to do."""
    raw = " ".join(str(err).split())
    low = raw.lower()
    if "password authentication failed" in low or ("role" in low and "does not exist" in low):
        why = "the server refused the login; check the user and password in the URL"
    elif "no password supplied" in low:
        why = "the server asks for a password; put it in the URL (postgresql://user:password@host/db)"
    elif "database" in low and "does not exist" in low:
        why = "that database does not exist; create it (createdb NAME) or fix the URL"
    elif "servname not supported" in low or "invalid integer value" in low:
        why = "the port in the URL is not a number"
    elif any(s in low for s in ("could not translate host name", "failed to resolve host", "not known")):
        why = "no such host; check the host name in the URL"
    elif any(s in low for s in ("connection refused", "no such file or directory", "timeout expired")):
        why = "no PostgreSQL server answers there; start it (a private one: citeqa db start) or fix the URL"
    elif "invalid" in low or "missing" in low or "unexpected" in low:
        why = f"the URL is malformed ({raw[:120]})"
    else:
        why = raw[:160]
    return StoreUnavailable(f"Cannot use the PostgreSQL store {location}: {why}.")


def connect(url: str, location: str) -> psycopg.Connection[Any]:
    """An autocommit connection to `url`, or StoreUnavailable in one line."""
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="citeqa"
        )
    except psycopg.Error as err:
        raise connection_error(err, location) from None


def has_vector_extension(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is not None


def vector_extension_hint(conn: psycopg.Connection[Any]) -> str:
    """How to add pgvector to this database: installed on the server or not."""
    available = (
        conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None
    )
    dbname = conn.info.dbname
    if available:
        return f"a superuser adds it with: psql -d {dbname} -c 'CREATE EXTENSION vector'"
    return (
        "install pgvector on the server (https://github.com/pgvector/pgvector, or use the private server "
        f"of: citeqa db start), then run in database {dbname}: CREATE EXTENSION vector"
    )


def has_table(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone() == (True,)
