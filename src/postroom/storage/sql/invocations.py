"""The asynchronous invocation queue in SQL."""

from __future__ import annotations

from postroom.storage.invocations import AsyncEvent
from postroom.storage.sql.txn import Committer, Connection, Txn

_COLUMNS = "request_id, account, region, function, qualifier, payload, created_at, due_at, attempts, last_result, id"


class SqlInvocationStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def enqueue(self, events: list[AsyncEvent]) -> None:
        rows = [
            (e.request_id, e.account, e.region, e.function, e.qualifier, e.payload, e.created_at, e.due_at,
             e.attempts, e.last_result)
            for e in events
        ]

        def op(conn: Connection, txn: Txn) -> None:
            conn.executemany(
                "INSERT INTO lambda_async_events (request_id, account, region, function, qualifier, payload,"
                " created_at, due_at, attempts, last_result) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            txn.notify("async", "")  # wakes the async invoker, on whichever node runs it

        await self._committer.run(op)

    # Claiming, rescheduling and finishing events rewrite or delete rows in place: they keep
    # the async queue draining even when the disk is full (drain=True).
    async def claim(self, now: int, limit: int, lease_ms: int) -> list[AsyncEvent]:
        def op(conn: Connection, txn: Txn) -> list[AsyncEvent]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM lambda_async_events WHERE due_at<=? AND lease_until<=?"
                " ORDER BY due_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE lambda_async_events SET lease_until=? WHERE id=?", [(now + lease_ms, r[10]) for r in rows]
            )
            return [AsyncEvent(*row) for row in rows]

        return await self._committer.run(op, drain=True)

    async def reschedule(self, event: AsyncEvent) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "UPDATE lambda_async_events SET due_at=?, attempts=?, last_result=?, lease_until=0 WHERE id=?",
                (event.due_at, event.attempts, event.last_result, event.id),
            )

        await self._committer.run(op, drain=True)

    async def finish(self, event_id: int) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute("DELETE FROM lambda_async_events WHERE id=?", (event_id,)), drain=True
        )

    async def release(self, event_ids: list[int]) -> None:
        await self._committer.run(
            lambda conn, txn: conn.executemany(
                "UPDATE lambda_async_events SET lease_until=0 WHERE id=?", [(i,) for i in event_ids]
            ),
            drain=True,
        )

    async def release_leases(self) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute("UPDATE lambda_async_events SET lease_until=0 WHERE lease_until>0"), drain=True
        )

    async def next_due(self) -> int | None:
        return await self._committer.run(
            lambda conn, txn: conn.execute("SELECT MIN(CASE WHEN due_at > lease_until THEN due_at ELSE lease_until END)"
                                          " FROM lambda_async_events").fetchone()[0], drain=True
        )
