"""SNS FIFO topics: deduplication ids seen in the last five minutes, kept durably so a
retried publish after a restart is still recognised."""

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
"""
