"""One server per data directory: an exclusive lock held for the server's lifetime.

Two servers writing one SQLite file would each keep their own caches and counters and
diverge; ``flock`` is released by the kernel when the process dies, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from postroom.storage.errors import DataDirectoryLocked

LOCK_FILE = "postroom.lock"


class DataDirLock:
    """Holds ``DIR/postroom.lock`` locked (with the owner's pid in it) until released."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirectoryLocked(
                f"the data directory {self.path.parent} is in use by another Postroom server "
                f"(pid {owner}); stop it or choose another --data-dir"
            ) from None
        try:  # the pid only makes the message above helpful: a full disk must not stop us
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
