"""SQLite tables for Lambda: functions, versions, aliases, settings, layers, and the
invocations running under reserved concurrency."""

from __future__ import annotations

import sqlite3

DDL = """
CREATE TABLE IF NOT EXISTS lambda_functions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_version INTEGER NOT NULL,
    tags TEXT NOT NULL,
    reserved_concurrency INTEGER,
    -- Bumped by every save; a save names the revision it read (several nodes, one function).
    revision INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
-- One row per version, alias, event-invoke config or policy ('kind' says which).
CREATE TABLE IF NOT EXISTS lambda_function_parts (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    kind TEXT NOT NULL,
    part TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region, name, kind, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lambda_layers (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    next_version INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lambda_layer_versions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    policy TEXT,
    PRIMARY KEY (account, region, name, version)
) WITHOUT ROWID;
-- Invocations running now of functions with reserved concurrency (storage/running.py):
-- shared by every node, so the limit holds across them. Few rows, each short-lived.
CREATE TABLE IF NOT EXISTS lambda_running (
    function TEXT NOT NULL,  -- the unqualified function ARN
    invocation TEXT NOT NULL,  -- unique per run
    node TEXT NOT NULL,  -- whose renewals keep the row
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (function, invocation)
) WITHOUT ROWID;
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Data directories made before revisions: add the column (existing rows: revision 1)."""
    for table in ("lambda_functions", "lambda_layers"):
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "revision" not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")
