"""Storage failures a caller can act on (as opposed to bugs)."""

from __future__ import annotations

import logging
import sys

from postroom.protocol.errors import AWSError


class StorageError(Exception):
    """A storage problem that stops the server from starting (reported, then exit)."""


class DataDirectoryLocked(StorageError):
    """Another server already uses the data directory."""


class StorageFull(AWSError):
    """The disk holding the data directory is full: a write was refused and not committed.

    Answered as AWS answers an overloaded service (503 ``ServiceUnavailable``) so SDKs back
    off and retry; receives and deletes keep working so queues can be drained."""

    def __init__(self) -> None:
        super().__init__(
            "ServiceUnavailable",
            "Postroom's storage is full: free disk space for its data directory. Receives and "
            "deletes still work; writes resume by themselves once space is available.",
            status=503,
            sender=False,
        )


class StaleRecord(Exception):
    """A conditional write found the stored record changed since it was read (another node
    wrote it meanwhile): nothing was written. The caller reads ``(channel, key)`` again
    (``key`` None: every record of the channel) and redoes its change on what is stored.
    ``stored``: what the store holds now, when the caller needs it (a counter's value)."""

    def __init__(self, channel: str, key: str | None, stored: object = None) -> None:
        super().__init__(f"stale {channel} record {key!r}")
        self.channel = channel
        self.key = key
        self.stored = stored


class DuplicateRecord(Exception):
    """A write would make a second record where one is allowed (checked inside the write's
    transaction, so it holds across nodes): nothing was written. ``existing``: the key of
    the record already there."""

    def __init__(self, channel: str, existing: str) -> None:
        super().__init__(f"{channel} record {existing!r} exists")
        self.channel = channel
        self.existing = existing


class StorageUnavailable(AWSError):
    """The database cannot be reached (down, restarting, connection lost): nothing of the
    request was acknowledged. Answered as 503 ``ServiceUnavailable`` so SDKs retry; a write
    whose COMMIT answer was lost may have happened (at least once, never lost)."""

    def __init__(self) -> None:
        super().__init__(
            "ServiceUnavailable",
            "Postroom's database is unavailable; retry shortly (Postroom reconnects by itself).",
            status=503,
            sender=False,
        )


def log_round_failed(log: logging.Logger, message: str, *args: object) -> None:
    """Log the exception being handled by a background round (a sweep, a delivery loop, a
    lease renewal): with its traceback when it is a bug, in one line when the database is
    away or the disk is full (each round says so until it is back; a traceback per round
    would bury the log)."""
    exc = sys.exc_info()[1]
    if isinstance(exc, (StorageUnavailable, StorageFull)):
        log.warning(message + " (%s)", *args, exc.message)
    else:
        log.exception(message, *args)
