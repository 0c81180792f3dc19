"""Answers after the WAL flush: the second half of the PostgreSQL committer's commits.

The committer's storage thread commits each transaction without waiting for PostgreSQL to
flush its WAL (``synchronous_commit`` off for the writer's session), so the writer lock is free
as soon as COMMIT has run, and goes on with the next batch. The committed batches come here:
this thread, on a connection of its own, runs one small transaction that writes a WAL record
and commits synchronously. When it returns, the WAL up to and past every commit before it is
on disk (PostgreSQL flushes its WAL in order), and only then are the batches' answers
delivered. One flush answers every batch that was waiting for it, so flushes never queue
behind the lock and a node's next transaction never waits for its last flush.

A flush that fails (the database went away) answers the batches' successful operations
with ``StorageUnavailable``: they may or may not be on disk, and the client retries (at least
once; nothing acknowledged is lost).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from postroom.storage.errors import StorageUnavailable

log = logging.getLogger("postroom.storage")

Results = list[tuple[bool, Any]]
Deliver = Callable[[Any, Results], None]  # (batch, results); thread-safe

# A transaction that only took an xid would not do: with no WAL record of its own,
# PostgreSQL commits it without waiting for the flush.
FLUSH = "BEGIN; SELECT pg_logical_emit_message(true, 'postroom', ''); COMMIT"
CAN_FLUSH = "SELECT has_function_privilege('pg_logical_emit_message(boolean,text,text)', 'EXECUTE')"


class Flusher:
    """Delivers committed batches' results once their WAL is on disk (a thread of its own)."""

    def __init__(self, conninfo: dict[str, Any], deliver: Deliver) -> None:
        self._conninfo = conninfo
        self._deliver = deliver
        self._inbox: queue.SimpleQueue[tuple[Any, Results] | None] = queue.SimpleQueue()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="postroom-flush", daemon=True)
        self.flushes = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, batch: Any, results: Results) -> None:
        """Deliver ``results`` of the committed ``batch`` after the next flush."""
        self._inbox.put((batch, results))

    def stop(self) -> None:
        """Flush and deliver what was submitted, then end (blocks: call from a thread)."""
        self._inbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            waiting: list[tuple[Any, Results]] = []
            item = self._inbox.get()
            while True:
                if item is None:
                    stopping = True
                else:
                    waiting.append(item)
                if self._inbox.empty():
                    break
                item = self._inbox.get_nowait()
            if waiting:
                flushed = self._flush()
                for batch, results in waiting:
                    if not flushed:
                        results = [(False, StorageUnavailable()) if ok else (ok, value) for ok, value in results]
                    self._deliver(batch, results)
        if self._conn is not None:
            self._conn.close()

    def _flush(self) -> bool:
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(**self._conninfo, autocommit=True)
            self._conn.execute(FLUSH)
        except psycopg.Error as exc:
            log.warning("storage: could not wait for the WAL flush: %s", exc)
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            return False
        self.flushes += 1
        return True
