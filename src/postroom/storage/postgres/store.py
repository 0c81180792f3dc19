"""PostgresStore: the SQL stores over PostgreSQL, shared by every node given the same URL.

The URL is libpq's (``postgresql://user:password@host:port/dbname?param=value``) plus one
parameter of Postroom's own, ``schema=NAME`` (default ``public``): the schema holding the
tables, created if missing. Stores in different schemas of one database are independent
(their own tables, advisory lock and notification channel). ``options=-csearch_path=NAME``
is read as the schema too when ``schema`` is not given.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict

from postroom.storage.errors import StorageError
from postroom.storage.postgres.committer import PgCommitter
from postroom.storage.sql.store import SqlStore

SCHEMES = ("postgresql", "postgres")
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,49}")
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([A-Za-z0-9_]+)")
# Fail fast when the database is away, and notice a dead peer within about half a minute.
_DEFAULTS = {
    "connect_timeout": "5", "application_name": "postroom",
    "keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3",
}


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES and "://" in url


def parse_url(url: str) -> tuple[dict[str, Any], str]:
    """libpq connection parameters and the schema name of a store URL (StorageError if bad)."""
    if not is_postgres_url(url):
        raise StorageError(f"not a PostgreSQL URL (postgresql://...): {_redact(url)}")
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in params if key == "schema"]
    rest = [(key, value) for key, value in params if key != "schema"]
    if not schemas:
        options = " ".join(unquote(value) for key, value in rest if key == "options")
        found = _SEARCH_PATH.search(options)
        schemas = [found.group(1)] if found else ["public"]
    schema = schemas[-1]
    if not _SCHEMA_NAME.fullmatch(schema):
        raise StorageError(
            f"schema={schema!r}: a schema name is 1-50 letters, digits and underscores, not starting with a digit"
        )
    try:
        conninfo: dict[str, Any] = conninfo_to_dict(urlunsplit(parts._replace(query=urlencode(rest))))
    except Exception as exc:
        raise StorageError(f"bad PostgreSQL URL {_redact(url)}: {exc}") from None
    for key, value in _DEFAULTS.items():
        conninfo.setdefault(key, value)
    return conninfo, schema


def describe(conninfo: dict[str, Any], schema: str) -> str:
    """Where the store is, without its password."""
    host = conninfo.get("host") or "localhost"
    port = conninfo.get("port") or "5432"
    user = f"{conninfo['user']}@" if conninfo.get("user") else ""
    return f"postgresql://{user}{host}:{port}/{conninfo.get('dbname', '')} schema {schema}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


class PostgresStore(SqlStore):
    """PostgreSQL with group commit under one advisory lock per schema."""

    def __init__(self, url: str) -> None:
        conninfo, schema = parse_url(url)
        self.schema = schema
        super().__init__(PgCommitter(conninfo, schema), describe(conninfo, schema))
