"""Tables of event source mappings."""

DDL = """
CREATE TABLE IF NOT EXISTS lambda_event_source_mappings (
    uuid TEXT PRIMARY KEY,
    -- The whole record as JSON: mappings are few, read once at start and cached.
    doc TEXT NOT NULL
);
"""
