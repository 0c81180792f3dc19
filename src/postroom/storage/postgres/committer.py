"""Group commit on PostgreSQL: one storage thread, one connection, one writer at a time.

Operations are grouped into transactions exactly as on SQLite (storage/sqlite/committer.py):
whatever arrives while a transaction is being written shares the next one. The SQL stores
were written for one writer, so every transaction begins with ``pg_advisory_xact_lock(K)``
(K derived from the schema name): several nodes on one database then behave as one writer,
and stores in other schemas never wait on each other. READ COMMITTED suffices under that
lock: no transaction of this schema sees another one half-done. Two exceptions keep several
nodes from queueing behind each other:
- the lock is released at a COMMIT that does not wait for the WAL flush; the answers wait
  for it in the Flusher (flusher.py), which waits for one flush for all the batches
  committed meanwhile, off the lock (nothing is answered before it is on disk);
- transactions made only of shared operations (standard-queue sends, which only add rows)
  take the lock in shared mode, so several nodes' sends commit side by side, and are sent
  in one round trip (libpq's pipeline mode).

Inside each transaction, before COMMIT, the committer also
- adds the transaction's message-count deltas to ``queue_totals`` (one statement), so every
  node reads the same totals;
- sends the transaction's notices to the other nodes with ``pg_notify`` (one statement); a
  listener thread on each node LISTENs and delivers them to its notifier as ``remote``.

Failures: a lost connection fails the batch with ``StorageUnavailable`` (503) unless it was
lost before COMMIT was sent, in which case the batch is retried once on a new connection;
while the database is unreachable new operations fail at once and the storage thread
reconnects with backoff. A lost COMMIT answer is reported as unavailable: the client
retries (at least once; nothing acknowledged is lost). Serialization failures and deadlocks
retry the operation. SQLite's disk-full handling does not apply (``full`` stays False).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import queue
import secrets
import threading
import time
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from postroom.metrics.histogram import COMMIT_BUCKETS_S, GROUP_SIZE_BUCKETS, Histogram
from postroom.storage.errors import StorageError, StorageUnavailable
from postroom.storage.notifier import Notice, Notifier
from postroom.storage.postgres.connection import PgConnection
from postroom.storage.postgres.flusher import CAN_FLUSH, Flusher
from postroom.storage.postgres.schema import migrate
from postroom.storage.sql.txn import Operation, Txn, is_expected, settle, settle_all

log = logging.getLogger("postroom.storage")

Item = tuple[Operation, "asyncio.Future[Any]", bool]  # operation, its answer, shared?
_RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
_RETRIES = 3
_BACKOFF_S = (0.05, 2.0)  # reconnect waits: first, longest (doubling in between)
_MAX_PAYLOAD = 7000  # bytes per pg_notify payload (PostgreSQL's limit is 8000)
_TOTALS = (
    "INSERT INTO queue_totals (queue_id, total) SELECT * FROM unnest({}::bigint[], {}::bigint[])"
    " ON CONFLICT (queue_id) DO UPDATE SET total = queue_totals.total + excluded.total"
)
_NOTICES = "SELECT pg_notify({}, payload) FROM unnest({}::text[]) AS payload"
# Totals and notices in one statement when a transaction has both (most do): each statement
# costs the client as much as the server (a query message, its answer) and sends are many.
_ADD_TOTALS = sql.SQL(_TOTALS)
_NOTIFY = sql.SQL(_NOTICES)
_ADD_TOTALS_AND_NOTIFY = sql.SQL(f"WITH totals AS ({_TOTALS} RETURNING 1) {_NOTICES}")


def lock_key(schema: str) -> int:
    """The advisory lock key (a signed 64-bit int) of a schema's writer."""
    digest = hashlib.blake2b(f"postroom:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def channel_name(schema: str) -> str:
    """The LISTEN/NOTIFY channel of a schema (at most 63 bytes, PostgreSQL's name limit)."""
    return f"postroom_{schema}"[:63]


class PgTotals:
    """Message totals per queue, read from ``queue_totals`` (on the storage thread)."""

    def __init__(self, committer: PgCommitter) -> None:
        self._committer = committer

    def get(self, queue_id: int, default: int = 0) -> int:
        conn = self._committer.connection
        row = conn.raw.execute("SELECT total FROM queue_totals WHERE queue_id=%s", (queue_id,)).fetchone()
        return default if row is None else int(row[0])


class PgCommitter:
    """Runs operations on the storage thread, grouping them into shared transactions."""

    def __init__(self, conninfo: dict[str, Any], schema: str, notifier: Notifier | None = None) -> None:
        self.notifier = notifier or Notifier()
        self.totals = PgTotals(self)
        self.full = False  # PostgreSQL manages its own disk
        self.batches = 0
        self.operations = 0
        self.commit_seconds = Histogram(COMMIT_BUCKETS_S)
        self.group_size = Histogram(GROUP_SIZE_BUCKETS)
        self._conninfo = conninfo
        self._schema = schema
        self._lock_key = lock_key(schema)
        self._flusher: Flusher | None = None  # answers after the WAL flush (early release)
        # One statement each (pipeline mode sends one per query), or joined with ";" and
        # sent as one simple query (one round trip).
        self._begin = f"BEGIN; SELECT pg_advisory_xact_lock({self._lock_key})"
        self._begin_shared = ("BEGIN", f"SELECT pg_advisory_xact_lock_shared({self._lock_key})")
        self._channel = channel_name(schema)
        self._node = secrets.token_hex(8)  # this node's notices come back to it: skip them
        self._own_prefix = orjson.dumps({"n": self._node, "e": []}).decode()[:-7]
        # Read barriers: a NOTIFY of this node's own, '{"n":"<node>","b":<n>}' (see barrier()).
        self._own_barrier = orjson.dumps({"n": self._node, "b": 0}).decode()[:-2]
        self._barriers: dict[int, asyncio.Future[bool]] = {}  # awaited ones (event loop)
        self._barrier_count = 0
        self._heard: list[Notice] = []  # other nodes' notices not yet delivered (listener thread)
        self._heard_lock = threading.Lock()
        self._heard_scheduled = False
        self._inbox: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._closing = False
        self._stop_seen = False  # the stop marker was taken from the inbox by _join_waiting
        self._deferred: list[Item] = []  # taken while a shared transaction held the lock
        self._available = False
        self._conn: PgConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    @property
    def connection(self) -> PgConnection:
        assert self._conn is not None, "read on the storage thread, inside an operation"
        return self._conn

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="postroom-storage", daemon=True)
        self._thread.start()
        await ready
        listening: asyncio.Future[None] = self._loop.create_future()
        self._listener = threading.Thread(
            target=self._listen, args=(listening,), name="postroom-listen", daemon=True
        )
        self._listener.start()
        try:
            await listening
        except BaseException:
            await self.close()
            raise

    async def run(self, op: Operation, *, drain: bool = False, shared: bool = False) -> Any:
        """Run ``op(conn, txn)`` in the next transaction; return once it is committed.
        ``shared``: a transaction of shared operations only (standard-queue sends) takes the
        writer lock in shared mode, so such transactions of several nodes run side by side
        (they only add rows); any other operation takes it exclusively.
        (``drain`` matters on SQLite's full disk only.)"""
        assert self._loop is not None
        if self._closing:
            raise RuntimeError("storage is closed")
        if not self._available:
            raise StorageUnavailable()
        fut = self._loop.create_future()
        self._inbox.put((op, fut, shared))
        return await fut

    async def barrier(self) -> bool:
        """Wait until this node has heard every notice that other nodes' transactions
        committed before the call, and delivered them to its notifier (True); False when
        that cannot be known (no flusher; the database or the listener's link is away).
        The caller bounds the wait."""
        if self._flusher is None or not self._available or self._loop is None:
            return False
        self._barrier_count += 1
        n = self._barrier_count
        fut: asyncio.Future[bool] = self._loop.create_future()
        self._barriers[n] = fut
        self._flusher.barrier(n)
        try:
            return await fut
        finally:
            self._barriers.pop(n, None)  # a caller that gave up waiting

    def _barrier_reached(self, n: int, heard: bool) -> None:
        """Barriers up to ``n`` are reached (``heard``) or lost (on the event loop)."""
        for k in [k for k in self._barriers if k <= n]:
            settle(self._barriers.pop(k), True, heard)

    async def close(self) -> None:
        self._closing = True
        self._inbox.put(None)
        loop = asyncio.get_running_loop()
        for thread in (self._thread, self._listener):
            if thread is not None:
                await loop.run_in_executor(None, thread.join)
        if self._flusher is not None:  # after the storage thread: its last batches are in
            await loop.run_in_executor(None, self._flusher.stop)

    def table_names(self, conn: PgConnection) -> list[str]:
        rows = conn.raw.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename <> 'schema_migrations' ORDER BY tablename"
        ).fetchall()
        return [row[0] for row in rows]

    def recount(self, conn: PgConnection, txn: Txn) -> None:
        txn.deltas.clear()  # the batch's earlier changes are in the count
        conn.raw.execute("DELETE FROM queue_totals")
        conn.raw.execute(
            "INSERT INTO queue_totals (queue_id, total) SELECT queue_id, COUNT(*) FROM messages GROUP BY queue_id"
        )

    # -- storage thread ------------------------------------------------------------------

    def _connect(self) -> None:
        # Autocommit: the committer sends BEGIN and COMMIT itself, each in the same round trip
        # as other statements (a statement without parameters may hold several).
        raw = psycopg.connect(**self._conninfo, autocommit=True)
        try:
            raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
            migrate(raw, self._schema, self._lock_key)
            mode = raw.execute("SHOW synchronous_commit").fetchone()
            can_flush = raw.execute(CAN_FLUSH).fetchone()
        except BaseException:
            raw.close()
            raise
        if mode is not None and mode[0] == "off":
            log.warning(
                "the database runs with synchronous_commit=off: a database crash may lose "
                "changes Postroom already acknowledged"
            )
        if self._flusher is None and can_flush and can_flush[0]:  # decided once, at start
            assert self._loop is not None
            loop = self._loop
            self._flusher = Flusher(
                self._conninfo, lambda batch, results: loop.call_soon_threadsafe(_deliver, batch, results),
                barrier_notice=lambda n: (self._channel, f"{self._own_barrier}{n}}}"),
                barrier_failed=lambda n: loop.call_soon_threadsafe(self._barrier_reached, n, False),
            )
            self._flusher.start()
        if self._flusher is not None:
            # The writer lock is released at a COMMIT that does not wait for the WAL flush;
            # answers wait for it in the Flusher, with the lock already free: nodes' flushes
            # overlap instead of queueing behind the lock, one flush answers several
            # batches, and no answer leaves before its transaction is on disk. (Without the
            # right to write the flush record, COMMIT waits for the flush under the lock.)
            try:
                raw.execute("SET synchronous_commit TO off")
            except BaseException:
                raw.close()
                raise
        self._conn = PgConnection(raw)
        self._available = True

    def _drop_connection(self) -> None:
        self._available = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.raw.close()
            except Exception:  # already broken: nothing to release
                pass

    def _run(self, ready: asyncio.Future[None]) -> None:
        assert self._loop is not None
        try:
            self._connect()
        except Exception as exc:  # report start-up failure to the caller
            error = StorageError(f"cannot open the PostgreSQL store: {exc}".strip())
            self._loop.call_soon_threadsafe(settle, ready, False, error)
            return
        self._loop.call_soon_threadsafe(settle, ready, True, None)
        backoff = _BACKOFF_S[0]
        stopping = False
        while not stopping or self._deferred:  # deferred operations run before the end
            if self._conn is None:
                try:
                    self._connect()
                    log.warning("storage: reconnected to the database")
                    backoff = _BACKOFF_S[0]
                except Exception as exc:
                    log.debug("storage: reconnect failed: %s", exc)
                    # Real time, not engine time: how long to wait before dialling again.
                    batch, stopping = self._take(timeout=backoff)
                    self._fail(batch)
                    backoff = min(backoff * 2, _BACKOFF_S[1])
                    continue
            batch, stopping = self._take(timeout=None)
            if batch:
                # A measurement of the database, not engine time.
                began = time.perf_counter()
                results = self._execute(batch)
                stopping = stopping or self._stop_seen
                self.commit_seconds.observe(time.perf_counter() - began)
                self.group_size.observe(len(batch))
                if self._flusher is not None:
                    self._flusher.submit(batch, results)  # answered once on disk
                else:
                    self._loop.call_soon_threadsafe(_deliver, batch, results)
        self._drop_connection()

    def _take(self, timeout: float | None) -> tuple[list[Item], bool]:
        """The queued operations (waiting up to ``timeout`` for the first); stop requested?"""
        batch, self._deferred = self._deferred, []
        stopping = self._stop_seen
        try:
            item = self._inbox.get(timeout=0 if batch or stopping else timeout)
        except queue.Empty:
            return batch, stopping
        while True:
            if item is None:
                stopping = True  # finish what was queued before the stop, then end
            else:
                batch.append(item)
            if self._inbox.empty():
                return batch, stopping
            item = self._inbox.get_nowait()

    def _join_waiting(self, batch: list[Item], ops: list[Operation], shared: bool) -> None:
        """Once the writer lock is ours, the operations that queued up while we waited for it
        join this transaction: the longer other nodes hold the lock, the more each commit
        carries (group commit across nodes, instead of one small commit per lock turn).
        Under a shared lock only shared operations join; the first other one and everything
        after it wait for the next transaction (in arrival order)."""
        while not self._deferred:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._stop_seen = True  # finish this transaction, then end
                return
            if shared and not item[2]:
                self._deferred.append(item)
                return
            batch.append(item)
            ops.append(item[0])

    def _fail(self, batch: list[Item]) -> None:
        if batch:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_deliver, batch, [(False, StorageUnavailable())] * len(batch))

    def _execute(self, batch: list[Item]) -> list[tuple[bool, Any]]:
        self.batches += 1
        ops = [item[0] for item in batch]
        shared = all(item[2] for item in batch)
        try:
            return [(True, value) for value in self._transaction(ops, shared, grow=batch)]
        except _Lost:
            return [(False, StorageUnavailable())] * len(batch)
        except Exception:
            pass  # one operation failed: find it by running each alone
        finally:
            self.operations += len(batch)  # with the operations that joined under the lock
        results: list[tuple[bool, Any]] = []
        for op, (_, _, alone_shared) in zip(ops, batch, strict=True):
            if self._conn is None:
                results.append((False, StorageUnavailable()))
                continue
            for attempt in range(_RETRIES):
                try:
                    results.append((True, self._transaction([op], alone_shared)[0]))
                except _Lost:
                    results.append((False, StorageUnavailable()))
                except Exception as exc:
                    if isinstance(exc, _RETRYABLE) and attempt + 1 < _RETRIES:
                        continue  # another transaction won a row or lock: try again
                    if not is_expected(exc):
                        log.exception("storage operation failed")
                    results.append((False, exc))
                break
        return results

    def _transaction(self, ops: list[Operation], shared: bool, grow: list[Item] | None = None) -> list[Any]:
        """Run ``ops`` in one transaction (the writer lock shared or exclusive) and commit;
        raise _Lost if the connection went. With ``grow`` (the batch ``ops`` came from),
        operations queued meanwhile join it once the lock is held (both lists are extended
        in place)."""
        for attempt in (1, 2):
            conn = self._conn
            if conn is None:
                raise _Lost()
            txn = Txn()
            committing = False
            try:
                if shared:
                    committing = True  # all of it is sent at once: a loss may follow COMMIT
                    values = self._pipelined(conn, txn, ops, grow)
                else:
                    raw = conn.raw
                    raw.execute(self._begin)
                    if grow is not None:
                        self._join_waiting(grow, ops, shared)
                    values = [op(conn, txn) for op in ops]
                    committing = True
                    raw.execute(sql.SQL("; ").join([*self._finish(txn), sql.SQL("COMMIT")]))
            except Exception as exc:
                if not (conn.raw.closed or conn.raw.broken):
                    try:
                        conn.raw.execute("ROLLBACK")
                    except psycopg.Error:
                        pass
                if conn.raw.closed or conn.raw.broken:
                    log.warning("storage: lost the database connection: %s", exc)
                    self._drop_connection()
                    if committing or attempt == 2:
                        raise _Lost() from exc
                    try:  # nothing was committed: run the batch again on a new connection
                        self._connect()
                    except Exception:
                        raise _Lost() from exc
                    continue
                raise
            # Notices nobody here subscribes to (most are for the other nodes) cost no wake-up.
            local = [notice for notice in txn.notices if self.notifier.heard_locally(notice[0])]
            if local:
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self.notifier.deliver, local)
            return values
        raise _Lost()

    def _pipelined(self, conn: PgConnection, txn: Txn, ops: list[Operation], grow: list[Item] | None) -> list[Any]:
        """A transaction of shared operations (they write and read nothing back) in one round
        trip: BEGIN, the shared writer lock, the operations' statements, totals and notices,
        and COMMIT are sent together (libpq's pipeline mode) and answered at once."""
        raw = conn.raw
        with raw.pipeline():
            for statement in self._begin_shared:
                raw.execute(statement)
            if grow is not None:
                self._join_waiting(grow, ops, True)
            values = [op(conn, txn) for op in ops]
            for statement in self._finish(txn):
                raw.execute(statement)
            raw.execute("COMMIT")
        return values

    def _finish(self, txn: Txn) -> list[sql.Composable]:
        """The statements that end a transaction before COMMIT: totals and notices."""
        totals: list[Any] = []
        if txn.deltas:
            # In queue order: shared transactions of several nodes then take the totals' row
            # locks in one order (no deadlock).
            queues = sorted(txn.deltas)
            totals = [queues, [txn.deltas[q] for q in queues]]
        notices = [self._channel, self._payloads(txn.notices)] if txn.notices else []
        if totals and notices:
            return [_ADD_TOTALS_AND_NOTIFY.format(*totals, *notices)]
        if totals:
            return [_ADD_TOTALS.format(*totals)]
        if notices:
            return [_NOTIFY.format(*notices)]
        return []

    def _payloads(self, notices: set[Notice]) -> list[str]:
        """``{"n": node, "e": [[channel, key], ...]}`` documents, each under the size limit."""
        out: list[str] = []
        chunk: list[Notice] = []
        size = 0
        for notice in sorted(notices):
            cost = len(notice[0]) + len(notice[1]) + 8
            if chunk and size + cost > _MAX_PAYLOAD:
                out.append(orjson.dumps({"n": self._node, "e": chunk}).decode())
                chunk, size = [], 0
            chunk.append(notice)
            size += cost
        if chunk:
            out.append(orjson.dumps({"n": self._node, "e": chunk}).decode())
        return out

    # -- listener thread -----------------------------------------------------------------

    def _listen(self, listening: asyncio.Future[None]) -> None:
        """LISTEN for other nodes' notices; after a reconnect, announce ``("*", "")``."""
        loop = self._loop
        assert loop is not None
        backoff = _BACKOFF_S[0]
        connected_before = False
        while not self._closing:
            try:
                with psycopg.connect(**self._conninfo, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    if connected_before:  # notices may have been missed while away
                        loop.call_soon_threadsafe(functools.partial(
                            self.notifier.deliver, [("*", "")], remote=True))
                        # Barriers sent meanwhile may never be heard: the reload stands in.
                        loop.call_soon_threadsafe(self._barrier_reached, self._barrier_count, False)
                        log.warning("storage: listening for other nodes' changes again")
                    else:
                        loop.call_soon_threadsafe(settle, listening, True, None)
                    connected_before = True
                    backoff = _BACKOFF_S[0]
                    while not self._closing:
                        for notice in conn.notifies(timeout=0.5):
                            self._received(notice.payload)
            except psycopg.Error as exc:
                if not connected_before:
                    error = StorageError(f"cannot listen on the PostgreSQL store: {exc}".strip())
                    loop.call_soon_threadsafe(settle, listening, False, error)
                    return
                log.debug("storage: listener connection lost: %s", exc)
                # Real time, not engine time: how long to wait before dialling again.
                time.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_S[1])

    def _received(self, payload: str) -> None:
        if payload.startswith(self._own_prefix):
            if payload.startswith(self._own_barrier):
                # After the delivery of the notices heard before it (scheduled earlier).
                assert self._loop is not None
                self._loop.call_soon_threadsafe(
                    self._barrier_reached, int(payload[len(self._own_barrier):-1]), True)
            return  # this node's own notice (it acted on it at commit)
        try:
            doc = orjson.loads(payload)
            if doc.get("n") == self._node or "b" in doc:
                return  # another node's read barrier: nothing for this one
            notices = [(str(channel), str(key)) for channel, key in doc["e"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("storage: ignored a malformed notice: %.200s", payload)
            return
        # One event-loop wake-up per burst: notices that arrive before the loop has taken the
        # pending ones join them (with several busy nodes, most commits send one).
        with self._heard_lock:
            self._heard.extend(notices)
            if self._heard_scheduled:
                return
            self._heard_scheduled = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._deliver_heard)

    def _deliver_heard(self) -> None:
        with self._heard_lock:
            notices, self._heard = self._heard, []
            self._heard_scheduled = False
        self.notifier.deliver(notices, remote=True)


class _Lost(Exception):
    """The database connection is gone (the batch is answered StorageUnavailable)."""


def _deliver(batch: list[Item], results: list[tuple[bool, Any]]) -> None:
    settle_all([item[1] for item in batch], results)
