"""In-process stores on the suite's backend: SQLite in a directory, or, with
POSTROOM_TEST_STORE=postgresql://..., a fresh schema of that database (dropped afterwards)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from postroom.storage.sql.store import SqlStore
from postroom.testing import pg


def open_test_store(tmp_path: Path) -> tuple[SqlStore, Callable[[], None]]:
    """The store (not started) and how to drop it once closed."""
    base = pg.test_store()
    if base is None:
        from postroom.storage.sqlite import SqliteStore

        return SqliteStore(tmp_path / "data"), lambda: None
    from postroom.storage.postgres.store import PostgresStore

    schema = pg.fresh_schema()
    return PostgresStore(pg.store_url(base, schema)), lambda: pg.drop_schemas(base, [schema])
