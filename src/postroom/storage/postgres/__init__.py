"""The PostgreSQL backend: several Postroom nodes share one database (see committer.py)."""

from postroom.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
