"""SQLite tables for Lambda: functions, versions, aliases, settings, layers."""

DDL = """
CREATE TABLE IF NOT EXISTS lambda_functions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_version INTEGER NOT NULL,
    tags TEXT NOT NULL,
    reserved_concurrency INTEGER,
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
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lambda_layer_versions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    policy TEXT,
    PRIMARY KEY (account, region, name, version)
) WITHOUT ROWID;
"""
