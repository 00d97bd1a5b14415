"""Pick the store an index lives in from the settings: a PostgreSQL URL, or else the index folder."""

from __future__ import annotations

from pathlib import Path

from vectorstore.errors import StoreUnavailable
from vectorstore.settings import StoreSettings
from vectorstore.stores.base import Store

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in url


def open_store(settings: StoreSettings, index_dir: Path) -> Store:
    """The store named by `settings.url` (PostgreSQL), or the folder `index_dir` when there is no URL.

    A PostgreSQL store also reads the uploads kept in `index_dir` on this machine when it updates.

    Raises StoreUnavailable, in one line, for any other kind of URL or a database that cannot be used.
    """
    url = (settings.url or "").strip()
    if not url:
        from vectorstore.stores.folder import FolderStore

        return FolderStore(index_dir, settings)
    if not is_postgres_url(url):
        scheme = url.split("://", 1)[0] if "://" in url else url[:20]
        raise StoreUnavailable(
            f"The store must be a PostgreSQL URL such as postgresql://user@host/dbname (or none, for the "
            f"index folder); {scheme!r} is not one."
        )
    from vectorstore.stores.postgres import PostgresStore

    return PostgresStore(url, settings, uploads_of=index_dir)
