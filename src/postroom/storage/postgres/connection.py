"""The SQL stores' view of a PostgreSQL connection: sqlite3's ``execute``/``executemany``.

The stores in storage/sql write SQL once, with ``?`` placeholders, in the subset SQLite
and PostgreSQL share. Each SQL string is translated once (then cached) to psycopg's
paramstyle, with the only dialect differences the stores keep (their hints for SQLite's
planner and its byte length of text) rewritten here:

- ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``);
- ``INDEXED BY name`` (SQLite's index hint) is dropped: PostgreSQL's planner chooses;
- ``LENGTH(CAST(col AS BLOB))`` (bytes of UTF-8 text in SQLite) becomes ``OCTET_LENGTH(col)``.

Parameters: Python booleans become integers (the schema keeps SQLite's integer flags), and
a NUL character in a text parameter becomes U+FFFD, since PostgreSQL's text cannot hold NUL:
a lookup by such a name (no valid name has one) then finds nothing, as it does on SQLite,
instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import psycopg

_INDEXED_BY = re.compile(r"\s+INDEXED BY \w+", re.IGNORECASE)
_BYTE_LENGTH = re.compile(r"LENGTH\(CAST\((\w+) AS BLOB\)\)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def translate(query: str) -> str:
    """SQLite-flavoured SQL of the stores -> PostgreSQL with psycopg placeholders."""
    query = _INDEXED_BY.sub("", query)
    query = _BYTE_LENGTH.sub(r"OCTET_LENGTH(\1)", query)
    return query.replace("%", "%%").replace("?", "%s")


def _params(params: Sequence[Any]) -> Sequence[Any]:
    for value in params:
        if value is True or value is False or (value.__class__ is str and "\x00" in value):
            return tuple(_param(v) for v in params)
    return params


def _param(value: Any) -> Any:
    if value is True or value is False:
        return int(value)
    if value.__class__ is str:
        return value.replace("\x00", "\ufffd")
    return value


class PgConnection:
    """Wraps a psycopg connection (not in autocommit: the committer commits)."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, query: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(translate(query), _params(params))  # type: ignore[arg-type]

    def executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(translate(query), [_params(r) for r in rows])  # type: ignore[arg-type]
        return cursor  # rowcount: the rows all of them changed
