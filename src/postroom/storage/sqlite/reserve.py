"""Disk-full handling: a reserve file that keeps receives and deletes working.

While there is space, ``postroom.reserve`` holds RESERVE_BYTES of the data directory's
disk. When a write fails because the disk is full, the reserve is deleted: the space it
frees lets receives and deletes (which rewrite pages in SQLite's WAL) go on, so a queue can
be drained, while writes that add data are refused until the disk has room for the reserve
again; then it is re-created and writes resume by themselves.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("postroom.storage")

RESERVE_FILE = "postroom.reserve"
# About two WAL auto-checkpoints' worth of pages (1,000 pages of 4 KiB each): enough for
# receives and deletes to keep committing until the WAL wraps around.
RESERVE_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
_SQLITE_FULL = 13
_SQLITE_IOERR = 10
_NEARLY_FULL_BYTES = 1024 * 1024


def is_disk_full(exc: BaseException, reserve: Reserve | None = None) -> bool:
    """Did this storage error come from a full disk (SQLite's SQLITE_FULL, or ENOSPC)?

    SQLite reports some out-of-space failures (growing its -shm file) as a generic I/O
    error; with ``reserve``, such an error on a disk with almost no free space counts too."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == _SQLITE_FULL:
            return True
        if "disk is full" in str(exc):
            return True
        io_error = (code is not None and code & 0xFF == _SQLITE_IOERR) or "disk I/O error" in str(exc)
        return io_error and reserve is not None and reserve.disk_nearly_full()
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Reserve:
    """The reserve file of one data directory (``None``: in memory, nothing to reserve)."""

    def __init__(self, directory: Path | None, size: int = RESERVE_BYTES) -> None:
        self.path = directory / RESERVE_FILE if directory is not None else None
        self.size = size

    def create(self) -> bool:
        """Make sure the reserve exists at full size; False if the disk has no room for it."""
        if self.path is None:
            return True
        try:
            if self.path.exists() and self.path.stat().st_size >= self.size:
                return True
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, self.size)
                except OSError as error:
                    if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise
                    zeros = bytes(_CHUNK)  # the filesystem cannot allocate: write it out
                    for offset in range(0, self.size, _CHUNK):
                        os.pwrite(fd, zeros[: min(_CHUNK, self.size - offset)], offset)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError as error:
            self.release()
            if is_disk_full(error):
                return False
            raise

    def release(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def disk_nearly_full(self) -> bool:
        if self.path is None:
            return False
        stats = os.statvfs(self.path.parent)
        return stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES

    def room_for_it(self) -> bool:
        """Is there space to re-create the reserve and still write (twice its size free)?"""
        if self.path is None:
            return True
        stats = os.statvfs(self.path.parent)
        return stats.f_bavail * stats.f_frsize >= 2 * self.size
