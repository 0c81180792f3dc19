"""Table of Lambda code packages (function and layer zips, by content)."""

DDL = """
CREATE TABLE IF NOT EXISTS lambda_code (
    sha TEXT PRIMARY KEY,  -- hex SHA-256 of data
    data BLOB NOT NULL,
    size INTEGER NOT NULL,
    -- Engine ms of the last put: a package put moments ago may not be named by a version yet.
    created_at INTEGER NOT NULL
);
"""
