"""Steps that bring an older SQLite data dir to the current schema, each run once inside
the transaction ``schema.migrate`` opens. Each writes the tables as its version defined
them (later DDL may differ: a step is history, not the current schema)."""

from __future__ import annotations

import sqlite3

# Version 2's queues table: names unique per (account, region, name).
_QUEUES_V2 = """
CREATE TABLE queues_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (account, region, name)
)
"""
_DELETED_QUEUES_V2 = """
CREATE TABLE sqs_deleted_queues (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (account, region, name)
)
"""


def regional_queue_names(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2. SQLite cannot change a table's constraints, so ``queues`` is rebuilt:
    ids are kept (receipt handles carry them) and so is the AUTOINCREMENT high-water mark
    (a deleted queue's id is never reused, even when it was the newest)."""
    sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='queues'").fetchone()
    conn.execute(_QUEUES_V2)
    conn.execute(
        "INSERT INTO queues_v2 (id, account, region, name, attributes, tags, created_at, modified_at)"
        " SELECT id, account, region, name, attributes, tags, created_at, modified_at FROM queues"
    )
    conn.execute("DROP TABLE queues")
    conn.execute("ALTER TABLE queues_v2 RENAME TO queues")
    if sequence is not None:
        conn.execute("DELETE FROM sqlite_sequence WHERE name='queues'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('queues', ?)", (sequence[0],))
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sqs_deleted_queues)")}
    if "region" not in columns:
        # Its rows (names deleted in the last 60 s) do not say in which region the queue
        # was: they go, so such a name may be reused at once after the upgrade.
        conn.execute("DROP TABLE IF EXISTS sqs_deleted_queues")
        conn.execute(_DELETED_QUEUES_V2)
        conn.execute("CREATE INDEX sqs_deleted_queues_by_time ON sqs_deleted_queues (deleted_at)")
