"""SqliteStore: the SQL stores over SQLite (WAL, group commit), in a locked data directory."""

from __future__ import annotations

import os
from pathlib import Path

from postroom.storage.sql.store import SqlStore
from postroom.storage.sqlite.committer import Committer
from postroom.storage.sqlite.lock import DataDirLock
from postroom.storage.sqlite.reserve import Reserve


class SqliteStore(SqlStore):
    """SQLite in WAL mode with group commit; ``data_dir=None`` keeps everything in memory."""

    # The data directory lock (or a private in-memory database) keeps every other process out.
    exclusive = True

    def __init__(self, data_dir: str | os.PathLike[str] | None) -> None:
        self._lock: DataDirLock | None = None
        if data_dir is None:
            path, durable, description = ":memory:", False, "memory"
        else:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            path, durable = str(Path(data_dir) / "postroom.sqlite3"), True
            description = f"sqlite:{path}"
            self._lock = DataDirLock(Path(data_dir))
        super().__init__(Committer(path, durable, Reserve(Path(data_dir) if data_dir is not None else None)), description)

    async def start(self) -> None:
        if self._lock is not None:
            self._lock.acquire()  # before opening the database: a second server changes nothing
        try:
            await super().start()
        except BaseException:
            self.release_lock()
            raise

    async def close(self) -> None:
        await super().close()
        self.release_lock()

    def release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
