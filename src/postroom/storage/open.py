"""Choose and build the store: SQLite in the data directory (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from postroom.storage.errors import StorageError
from postroom.storage.sql.store import SqlStore


def open_store(store: str | None, data_dir: Path | None) -> SqlStore:
    """``store``: a ``postgresql://`` (or ``postgres://``) URL, or None/"" for SQLite in
    ``data_dir`` (None: in memory). The store is not started."""
    if store:
        from postroom.storage.postgres.store import is_postgres_url

        if not is_postgres_url(store):
            raise StorageError(
                f"--store {store.split('://')[0]}://...: not a store Postroom knows; give a "
                "postgresql:// (or postgres://) URL, or leave --store out for SQLite in --data-dir"
            )
        from postroom.storage.postgres.store import PostgresStore

        return PostgresStore(store)
    from postroom.storage.sqlite import SqliteStore

    return SqliteStore(data_dir)
