"""SQLite tables for SNS mobile push and SMS settings."""

DDL = """
CREATE TABLE IF NOT EXISTS sns_platform_applications (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sns_platform_endpoints (
    arn TEXT PRIMARY KEY,
    application_arn TEXT NOT NULL,
    token TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sns_sms_attributes (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (account, region)
);
-- Phone-number lists per account: kind 'opted-out' or 'sandbox' (status Pending/Verified).
CREATE TABLE IF NOT EXISTS sns_phone_numbers (
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (account, kind, number)
);
"""
