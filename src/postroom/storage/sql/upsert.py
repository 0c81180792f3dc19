"""``INSERT OR REPLACE`` in SQL that SQLite and PostgreSQL both accept."""

from __future__ import annotations

from functools import cache


@cache
def upsert(table: str, columns: tuple[str, ...], key_columns: int) -> str:
    """An insert of ``columns`` into ``table`` that overwrites the row whose key (the first
    ``key_columns`` columns) is taken: ``INSERT .. ON CONFLICT (key) DO UPDATE``."""
    key, rest = columns[:key_columns], columns[key_columns:]
    updates = ", ".join(f"{c}=excluded.{c}" for c in rest)
    action = f"DO UPDATE SET {updates}" if rest else "DO NOTHING"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        f" ON CONFLICT ({', '.join(key)}) {action}"
    )
