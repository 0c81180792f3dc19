"""Background rounds log a database outage in one line, a bug with its traceback."""

from __future__ import annotations

import logging

from postroom.storage.errors import StorageFull, StorageUnavailable, log_round_failed

log = logging.getLogger("postroom.test-rounds")


def _fail(exc: Exception) -> None:
    try:
        raise exc
    except Exception:
        log_round_failed(log, "sweep of %s failed", "q1")


def test_database_away_is_one_line_without_traceback(caplog):
    with caplog.at_level(logging.WARNING, logger=log.name):
        _fail(StorageUnavailable())
        _fail(StorageFull())
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in caplog.records)
    assert caplog.records[0].getMessage().startswith("sweep of q1 failed (Postroom's database is unavailable")


def test_a_bug_keeps_its_traceback(caplog):
    with caplog.at_level(logging.WARNING, logger=log.name):
        _fail(KeyError("boom"))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert record.getMessage() == "sweep of q1 failed"
