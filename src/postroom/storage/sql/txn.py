"""What the SQL stores share with the backend that runs their operations.

Every storage operation is a plain function ``op(conn, txn)`` run on the backend's storage
thread inside a transaction it shares with other operations (group commit). The stores in
this package are written once, in SQL that SQLite and PostgreSQL both accept; a backend
hands them a DB-API style connection (``execute``/``executemany``, cursors with
``fetchone``/``fetchall``/``rowcount``) and a ``Txn``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias

from postroom.metrics.histogram import Histogram
from postroom.storage.notifier import Notifier

# A DB-API connection: Connection, or PostgreSQL's adapter (storage/postgres).
Connection: TypeAlias = Any


class Txn:
    """Per-transaction bookkeeping an operation may record; applied only after COMMIT."""

    __slots__ = ("deltas", "notices")

    def __init__(self) -> None:
        self.deltas: dict[int, int] = {}
        self.notices: set[tuple[str, str]] = set()

    def count(self, queue_id: int, delta: int) -> None:
        if delta:
            self.deltas[queue_id] = self.deltas.get(queue_id, 0) + delta

    def notify(self, channel: str, key: object) -> None:
        """Announce ``(channel, key)`` once this transaction commits (see storage/notifier)."""
        self.notices.add((channel, str(key)))


Operation = Callable[[Connection, Txn], Any]


class Committer(Protocol):
    """Runs operations on the storage thread, grouping them into shared transactions."""

    notifier: Notifier  # delivers the notices of committed transactions
    totals: Any  # message totals per queue: ``.get(queue_id, 0)``, read on the storage thread
    full: bool  # writes are refused for lack of space (SQLite's disk; never on PostgreSQL)
    commit_seconds: Histogram  # seconds per transaction
    group_size: Histogram  # operations per transaction
    batches: int
    operations: int

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def run(self, op: Operation, *, drain: bool = False, shared: bool = False) -> Any:
        """``shared``: the operation only adds rows no other operation of its batch or of
        another node's concurrent shared batch can conflict with (a standard-queue send); a
        backend with several writers may run such batches side by side."""
        ...
    async def barrier(self) -> bool:
        """Wait until this node has heard every notice other nodes committed before the
        call (True), or False if that cannot be known; with one node, True at once."""
        ...
    def table_names(self, conn: Connection) -> list[str]:
        """Every table holding state, for ``reset`` (on the storage thread)."""
        ...
    def recount(self, conn: Connection, txn: Txn) -> None:
        """Make the message totals match the messages table, including what ``txn``'s
        earlier operations changed (on the storage thread, at start and after ``reset``)."""
        ...


# -- shared by the committers: settling the futures of a batch on the event loop -----------


def is_expected(exc: Exception) -> bool:
    """An operation's answer (an AWS error, a stale conditional write), not a storage fault."""
    from postroom.protocol.errors import AWSError
    from postroom.storage.errors import StaleRecord

    return isinstance(exc, AWSError | StaleRecord)


def settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def settle_all(futures: Sequence[asyncio.Future[Any]], results: Sequence[tuple[bool, Any]]) -> None:
    for fut, (ok, value) in zip(futures, results, strict=True):
        settle(fut, ok, value)
