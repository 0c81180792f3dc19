"""SQLite schema and connection settings."""

from __future__ import annotations

import sqlite3

from postroom.storage.sqlite import (
    schema_code,
    schema_iam,
    schema_invocations,
    schema_lambda,
    schema_leases,
    schema_logs,
    schema_mappings,
    schema_migrations,
    schema_sns_fifo,
    schema_sns_mobile,
    schema_sqs_state,
)

# 2: queue names unique per (account, region, name), and so are deleted names.
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queues (
    -- AUTOINCREMENT: a deleted queue's id (inside its receipt handles) is never reused.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS messages (
    -- AUTOINCREMENT: sequence numbers never repeat, even after the newest row is deleted.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    md5_body TEXT NOT NULL,
    attributes BLOB,
    md5_attributes TEXT,
    system_attributes BLOB,
    md5_system_attributes TEXT,
    sender_id TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_at INTEGER,
    receipt INTEGER,
    group_id TEXT,
    dedup_id TEXT,
    dead_letter_source TEXT
);
-- Receive takes the oldest visible messages of one queue: an index range, never a scan.
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue_id, visible_at);
-- Retention deletes the oldest sent messages of one queue.
CREATE INDEX IF NOT EXISTS messages_by_sent ON messages (queue_id, sent_at);
-- FIFO: a group's messages in order.
CREATE INDEX IF NOT EXISTS messages_by_group ON messages (queue_id, group_id, seq)
    WHERE group_id IS NOT NULL;
-- FIFO: one row per message group that holds messages, ordered by its oldest message.
CREATE TABLE IF NOT EXISTS fifo_groups (
    queue_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    head_seq INTEGER NOT NULL,
    PRIMARY KEY (queue_id, group_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fifo_groups_by_head ON fifo_groups (queue_id, head_seq);
-- FIFO: deduplication ids seen in the last five minutes (scope '' = whole queue).
CREATE TABLE IF NOT EXISTS fifo_dedup (
    queue_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_id, scope, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fifo_dedup_by_expiry ON fifo_dedup (expires_at);
-- SNS topics and subscriptions.
CREATE TABLE IF NOT EXISTS topics (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    arn TEXT PRIMARY KEY,
    topic_arn TEXT NOT NULL,
    owner TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    attributes TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    token TEXT,
    created_at INTEGER NOT NULL
);
-- A publish reads its topic's subscriptions back (storage/sql/topics.py, _check_audience).
CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic_arn);
-- SNS deliveries still to make (HTTP/S and the like), committed with the publish.
CREATE TABLE IF NOT EXISTS sns_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_arn TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sns_outbox_by_due ON sns_outbox (due_at);
-- Would-be deliveries to protocols Postroom cannot reach (email, sms, ...), for inspection.
CREATE TABLE IF NOT EXISTS sns_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
-- Dead-letter redrive tasks (StartMessageMoveTask); their counters move with the messages.
CREATE TABLE IF NOT EXISTS move_tasks (
    handle TEXT PRIMARY KEY,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    rate INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    failure_reason TEXT,
    started_at INTEGER NOT NULL
);
"""


def open_connection(path: str, durable: bool) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are managed explicitly)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit fsyncs the WAL, so an acknowledged change survives power loss too.
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-32000")
    conn.executescript(SCHEMA)
    for ddl in (
        schema_invocations.DDL, schema_lambda.DDL, schema_sns_mobile.DDL, schema_logs.DDL, schema_iam.DDL,
        schema_sns_fifo.DDL, schema_mappings.DDL, schema_leases.DDL, schema_code.DDL, schema_sqs_state.DDL,
    ):
        conn.executescript(ddl)
    schema_lambda.migrate(conn)  # columns added in place (idempotent)
    schema_mappings.migrate(conn)
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a data dir written by an older version to ``SCHEMA_VERSION``, in one
    transaction (a crash leaves it as it was); a new database is stamped current."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row is not None else SCHEMA_VERSION
        if version < 2:
            schema_migrations.regional_queue_names(conn)
        if row is None or version < SCHEMA_VERSION:  # a newer version's stamp is left alone
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
