"""Running invocations of reserved-concurrency functions in SQL (storage/running.py).

Every operation here runs with ``drain=True``: the rows are tiny and short-lived, and a
function with reserved concurrency must keep draining its queue when SQLite's disk is full.
"""

from __future__ import annotations

from postroom.storage.sql.txn import Committer, Connection, Txn


class SqlRunningStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def claim(self, function: str, invocation: str, node: str, limit: int, now: int, ttl_ms: int) -> bool:
        def op(conn: Connection, txn: Txn) -> bool:
            # Expired rows (a dead node's) go first, so they neither count nor pile up.
            conn.execute("DELETE FROM lambda_running WHERE function=? AND expires_at<=?", (function, now))
            (running,) = conn.execute("SELECT COUNT(*) FROM lambda_running WHERE function=?", (function,)).fetchone()
            if running >= limit:
                return False
            conn.execute(
                "INSERT INTO lambda_running (function, invocation, node, expires_at) VALUES (?,?,?,?)",
                (function, invocation, node, now + ttl_ms),
            )
            return True

        return await self._committer.run(op, drain=True)

    async def release(self, function: str, invocation: str) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute(
                "DELETE FROM lambda_running WHERE function=? AND invocation=?", (function, invocation)
            ),
            drain=True,
        )

    async def renew(self, node: str, now: int, ttl_ms: int) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute(
                "UPDATE lambda_running SET expires_at=? WHERE node=? AND expires_at>?", (now + ttl_ms, node, now)
            ),
            drain=True,
        )

    async def release_others(self, node: str) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute("DELETE FROM lambda_running WHERE node<>?", (node,)), drain=True
        )
