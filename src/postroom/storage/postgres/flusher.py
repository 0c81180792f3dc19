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

The same thread sends the node's read barriers (``barrier``): a NOTIFY to its own node that
commits after the barrier was asked for, so once the node's listener hears it, every notice
other nodes committed before has been heard too (PostgreSQL delivers notifications in commit
order). Barriers asked for meanwhile share one NOTIFY.
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
BarrierNotice = Callable[[int], tuple[str, str]]  # n -> (channel, payload) of its NOTIFY
BarrierFailed = Callable[[int], None]  # n: barriers up to n could not be sent; thread-safe


class _Barrier:
    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

# A transaction that only took an xid would not do: with no WAL record of its own,
# PostgreSQL commits it without waiting for the flush.
FLUSH = "BEGIN; SELECT pg_logical_emit_message(true, 'postroom', ''); COMMIT"
CAN_FLUSH = "SELECT has_function_privilege('pg_logical_emit_message(boolean,text,text)', 'EXECUTE')"


class Flusher:
    """Delivers committed batches' results once their WAL is on disk (a thread of its own)."""

    def __init__(
        self, conninfo: dict[str, Any], deliver: Deliver,
        barrier_notice: BarrierNotice | None = None, barrier_failed: BarrierFailed | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._deliver = deliver
        self._barrier_notice = barrier_notice
        self._barrier_failed = barrier_failed
        self._inbox: queue.SimpleQueue[tuple[Any, Results] | _Barrier | None] = queue.SimpleQueue()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="postroom-flush", daemon=True)
        self.flushes = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, batch: Any, results: Results) -> None:
        """Deliver ``results`` of the committed ``batch`` after the next flush."""
        self._inbox.put((batch, results))

    def barrier(self, n: int) -> None:
        """Send barrier ``n`` (with any others asked for meanwhile) as soon as possible."""
        self._inbox.put(_Barrier(n))

    def stop(self) -> None:
        """Flush and deliver what was submitted, then end (blocks: call from a thread)."""
        self._inbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            waiting: list[tuple[Any, Results]] = []
            barrier = 0  # the highest barrier asked for, 0: none
            item = self._inbox.get()
            while True:
                if item is None:
                    stopping = True
                elif isinstance(item, _Barrier):
                    barrier = max(barrier, item.n)
                else:
                    waiting.append(item)
                if self._inbox.empty():
                    break
                item = self._inbox.get_nowait()
            if barrier:  # first: a request waits on it, a batch's answer is already late
                self._send_barrier(barrier)
            if waiting:
                flushed = self._flush()
                for batch, results in waiting:
                    if not flushed:
                        results = [(False, StorageUnavailable()) if ok else (ok, value) for ok, value in results]
                    self._deliver(batch, results)
        if self._conn is not None:
            self._conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(**self._conninfo, autocommit=True)
        return self._conn

    def _lost(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush(self) -> bool:
        try:
            self._connection().execute(FLUSH)
        except psycopg.Error as exc:
            log.warning("storage: could not wait for the WAL flush: %s", exc)
            self._lost()
            return False
        self.flushes += 1
        return True

    def _send_barrier(self, n: int) -> None:
        if self._barrier_notice is None:
            return
        try:
            self._connection().execute("SELECT pg_notify(%s, %s)", self._barrier_notice(n))
        except psycopg.Error as exc:
            log.debug("storage: could not send a read barrier: %s", exc)
            self._lost()
            if self._barrier_failed is not None:
                self._barrier_failed(n)
