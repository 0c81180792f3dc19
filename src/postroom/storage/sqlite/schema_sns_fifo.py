"""SNS FIFO topics: deduplication ids seen in the last five minutes, kept durably so a
retried publish after a restart is still recognised; each topic's last sequence number."""

DDL = """
CREATE TABLE IF NOT EXISTS sns_fifo_dedup (
    topic_arn TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (topic_arn, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sns_fifo_dedup_by_expiry ON sns_fifo_dedup (expires_at);
-- The topic's last committed SequenceNumber less 10^19 (every node numbers above it).
CREATE TABLE IF NOT EXISTS sns_fifo_sequence (
    topic_arn TEXT PRIMARY KEY,
    last_number INTEGER NOT NULL
) WITHOUT ROWID;
"""
