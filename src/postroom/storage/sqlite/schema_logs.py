"""SQLite tables for CloudWatch Logs: log groups, log streams and their events."""

DDL = """
CREATE TABLE IF NOT EXISTS log_groups (
    -- AUTOINCREMENT: a deleted group's id (inside paging tokens) is never reused.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retention_days INTEGER,
    kms_key_id TEXT,
    log_group_class TEXT NOT NULL,
    deletion_protection INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    first_event_at INTEGER,
    last_event_at INTEGER,
    last_ingestion_at INTEGER,
    UNIQUE (group_id, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    -- AUTOINCREMENT: event ids and paging tokens carry seq; it never repeats.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL,
    message TEXT NOT NULL
);
-- GetLogEvents reads one stream in (timestamp, seq) order: the rowid ends every index entry.
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, timestamp);
-- FilterLogEvents and the retention sweep read a group in timestamp order.
CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (group_id, timestamp);
"""
