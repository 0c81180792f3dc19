"""Group commit: one thread owns the SQLite connection and runs every storage operation.

Operations that arrive while a transaction is being written share the next transaction
and its single fsync, so durability does not cap throughput at the disk's commit rate,
and the event loop never waits on disk I/O.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from typing import Any, TypeVar

from postroom.metrics.histogram import COMMIT_BUCKETS_S, GROUP_SIZE_BUCKETS, Histogram
from postroom.storage.errors import StorageError, StorageFull
from postroom.storage.notifier import Notifier
from postroom.storage.sql.txn import Operation, Txn, is_expected, settle, settle_all
from postroom.storage.sqlite.reserve import Reserve, is_disk_full
from postroom.storage.sqlite.schema import open_connection

log = logging.getLogger("postroom.storage")

T = TypeVar("T")


Item = tuple[Operation, "asyncio.Future[Any]", bool]  # (op, its future, may it run when full)


class Committer:
    """Runs operations on the storage thread, grouping them into shared transactions."""

    def __init__(
        self, path: str, durable: bool, reserve: Reserve | None = None, notifier: Notifier | None = None,
    ) -> None:
        self.notifier = notifier or Notifier()
        self._path = path
        self._durable = durable
        self._reserve = reserve or Reserve(None)
        # Disk full: writes are refused (StorageFull) until there is room for the reserve.
        self.full = False
        self._restore_reserve = False
        # A C-level queue: handing an operation to the storage thread costs one put().
        self._inbox: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        # Message totals per queue, owned by the storage thread; changed after commits only.
        self.totals: dict[int, int] = {}
        self.batches = 0
        self.operations = 0
        # Observed on the storage thread, once per transaction; read when metrics are scraped.
        self.commit_seconds = Histogram(COMMIT_BUCKETS_S)
        self.group_size = Histogram(GROUP_SIZE_BUCKETS)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="postroom-storage", daemon=True)
        self._thread.start()
        await ready

    async def barrier(self) -> bool:
        """One process owns a SQLite store: there are no other nodes' notices to hear."""
        return True

    async def run(self, op: Operation, *, drain: bool = False, shared: bool = False) -> Any:
        """Run ``op(conn, txn)`` in the next transaction; return once it is committed.
        (``shared`` matters with several writers only: SQLite has one.)

        ``drain``: the operation only reads, or frees space or keeps queues draining
        (receive, delete, purge, ...): it runs even when the disk is full. Other operations
        then fail with StorageFull until space returns."""
        assert self._loop is not None
        if self._closing:
            raise RuntimeError("storage is closed")
        if self.full and not drain:
            if not self._reserve.room_for_it():
                raise StorageFull()
            self._restore_reserve = True  # the storage thread re-creates it, then writes resume
        fut = self._loop.create_future()
        self._inbox.put((op, fut, drain))
        return await fut

    async def close(self) -> None:
        self._closing = True
        self._inbox.put(None)
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    # -- storage thread ------------------------------------------------------------------

    def _run(self, ready: asyncio.Future[None]) -> None:
        assert self._loop is not None
        try:
            self._conn = self._open()
        except Exception as exc:  # report start-up failure to the caller
            self._loop.call_soon_threadsafe(settle, ready, False, exc)
            return
        self._loop.call_soon_threadsafe(settle, ready, True, None)
        inbox = self._inbox
        stopping = False
        while not stopping:
            first = inbox.get()
            batch = []
            item = first
            while True:
                if item is None:
                    stopping = True  # finish what was queued before the stop, then end
                else:
                    batch.append(item)
                if inbox.empty():
                    break
                item = inbox.get_nowait()
            if batch:
                # A measurement of the disk, not engine time: the injected clock does not apply.
                began = time.perf_counter()
                results = self._execute(batch)
                self.commit_seconds.observe(time.perf_counter() - began)
                self.group_size.observe(len(batch))
                self._loop.call_soon_threadsafe(_deliver, batch, results)
        self._conn.close()

    def _open(self) -> sqlite3.Connection:
        """Open the database; on a full disk, with the reserve's space (then refusing writes)."""
        try:
            conn = open_connection(self._path, self._durable)
        except Exception as exc:
            if not is_disk_full(exc, self._reserve):
                raise
            self._enter_full()  # WAL mode needs room for its -wal and -shm files
            try:
                conn = open_connection(self._path, self._durable)
            except Exception as again:
                if is_disk_full(again, self._reserve):
                    raise StorageError(
                        f"the disk holding {self._path} is full: free some space and start again"
                    ) from None
                raise
        if not self.full and not self._reserve.create():
            self._enter_full()
        return conn

    def _execute(self, batch: list[Item]) -> list[tuple[bool, Any]]:
        conn = self._conn
        assert conn is not None
        self.batches += 1
        self.operations += len(batch)
        if self._restore_reserve:
            self._restore_reserve = False
            if self.full and self._reserve.create():
                self.full = False
                log.warning("storage has space again: writes resume")
        if not self.full:
            txn = Txn()
            try:
                conn.execute("BEGIN")
                results = [(True, op(conn, txn)) for op, _, _ in batch]
                conn.execute("COMMIT")
                self._apply(txn)
                return results
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if is_disk_full(exc, self._reserve):
                    self._enter_full()
        # Something in the batch failed (or the disk is full): run each operation alone so
        # only it fails; while the disk is full only drain operations run.
        results = []
        for op, _, drain in batch:
            if self.full and not drain:
                results.append((False, StorageFull()))
                continue
            txn = Txn()
            try:
                conn.execute("BEGIN")
                value = op(conn, txn)
                conn.execute("COMMIT")
                self._apply(txn)
                results.append((True, value))
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if is_disk_full(exc, self._reserve):
                    self._enter_full()
                    exc = StorageFull()
                elif not is_expected(exc):
                    log.exception("storage operation failed")
                results.append((False, exc))
        return results

    def table_names(self, conn: sqlite3.Connection) -> list[str]:
        # Virtual tables are emptied through themselves, never through their shadow tables.
        try:
            listed = [(row[1], row[2]) for row in conn.execute("PRAGMA main.table_list")]
        except sqlite3.OperationalError:  # SQLite before 3.37 has no table_list
            listed = [(row[0], "table") for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [name for name, kind in listed
                if kind in ("table", "virtual") and not name.startswith("sqlite_") and name != "meta"]

    def recount(self, conn: sqlite3.Connection, txn: Txn) -> None:
        # The batch's earlier deltas are in the count: applying them after COMMIT too would
        # count them twice.
        txn.deltas.clear()
        counted = conn.execute("SELECT queue_id, COUNT(*) FROM messages GROUP BY queue_id").fetchall()
        self.totals.clear()  # in place: stores hold this dict
        self.totals.update(counted)

    def _enter_full(self) -> None:
        """Give the reserve's space to drain operations and refuse writes (logged once)."""
        self._reserve.release()
        if not self.full:
            self.full = True
            log.error(
                "storage is full: writes are refused (503 ServiceUnavailable) until space is freed "
                "on the data directory's disk; receives and deletes keep working"
            )

    def _apply(self, txn: Txn) -> None:
        totals = self.totals
        for queue_id, delta in txn.deltas.items():
            totals[queue_id] = totals.get(queue_id, 0) + delta
        if txn.notices:
            # One node only: notices nobody here subscribes to (most are for other nodes'
            # caches and long polls) are dropped, so the hot path pays no extra wake-up.
            notifier = self.notifier
            local = [notice for notice in txn.notices if notifier.heard_locally(notice[0])]
            if local:
                assert self._loop is not None
                self._loop.call_soon_threadsafe(notifier.deliver, local)


def _deliver(batch: list[Item], results: list[tuple[bool, Any]]) -> None:
    settle_all([item[1] for item in batch], results)
