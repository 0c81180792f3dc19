"""Tables of event source mappings."""

from __future__ import annotations

import sqlite3

DDL = """
CREATE TABLE IF NOT EXISTS lambda_event_source_mappings (
    uuid TEXT PRIMARY KEY,
    -- The whole record as JSON: mappings are few, read once at start and cached.
    doc TEXT NOT NULL,
    -- Bumped by every save; a save names the revision it read (several nodes, one mapping).
    revision INTEGER NOT NULL DEFAULT 1
);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Data directories made before revisions: add the column (existing rows: revision 1)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(lambda_event_source_mappings)")}
    if "revision" not in columns:
        conn.execute("ALTER TABLE lambda_event_source_mappings ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")
