"""SQS rules that outlive one request and must hold on every node: recently deleted queue
names (60 s before a name may be reused), the last purge of each queue (one per 60 s) and
FIFO ReceiveRequestAttemptId answers (replayed while the attempt is valid)."""

DDL = """
CREATE TABLE IF NOT EXISTS sqs_deleted_queues (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE INDEX IF NOT EXISTS sqs_deleted_queues_by_time ON sqs_deleted_queues (deleted_at);
CREATE TABLE IF NOT EXISTS sqs_purges (
    queue_id INTEGER PRIMARY KEY,
    purged_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sqs_receive_attempts (
    queue_id INTEGER NOT NULL,
    attempt_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    answer BLOB NOT NULL,
    PRIMARY KEY (queue_id, attempt_id)
);
CREATE INDEX IF NOT EXISTS sqs_receive_attempts_by_expiry ON sqs_receive_attempts (expires_at);
"""
