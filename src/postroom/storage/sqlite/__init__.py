"""The embedded SQLite backend (WAL, group commit); also serves ``--in-memory``."""

from postroom.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
