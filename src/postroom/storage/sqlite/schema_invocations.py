"""Tables of the asynchronous invocation queue."""

DDL = """
CREATE TABLE IF NOT EXISTS lambda_async_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    function TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_result BLOB,
    -- A worker owns an event until then; a crashed worker's events come back after it.
    lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS lambda_async_events_by_due ON lambda_async_events (due_at);
"""
