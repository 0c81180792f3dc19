"""Test servers on PostgreSQL: ``POSTROOM_TEST_STORE=postgresql://...`` gives each server a
schema of its own in that database (created by the server at start, dropped by the
harness once the server is gone), so a suite runs unchanged on the shared backend."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ENV = "POSTROOM_TEST_STORE"


def test_store() -> str | None:
    """The PostgreSQL URL test servers use, or None (SQLite)."""
    return os.environ.get(ENV) or None


def fresh_schema(key: str | os.PathLike[str] | None = None) -> str:
    """A schema name: derived from ``key`` (a data directory a restarted server reuses),
    else new each time."""
    if key is None:
        return f"prt_{uuid.uuid4().hex[:24]}"
    digest = hashlib.sha1(os.fspath(os.path.abspath(key)).encode()).hexdigest()[:24]
    return f"prt_{digest}"


def store_url(base: str, schema: str) -> str:
    """``base`` with ``schema=`` set (replacing any)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("schema", schema)])))


def drop_schemas(base: str, schemas: Iterable[str]) -> None:
    """Drop the schemas (and everything in them) of servers that have stopped."""
    names = sorted(set(schemas))
    if not names:
        return
    import psycopg
    from psycopg import sql

    from postroom.storage.postgres.store import parse_url

    conninfo, _ = parse_url(base)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
