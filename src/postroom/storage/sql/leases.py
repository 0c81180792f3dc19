"""Leases in SQL (both SQLite and PostgreSQL accept every statement here)."""

from __future__ import annotations

from postroom.storage.sql.txn import Committer, Connection, Txn

# Takes a free or expired lease, or renews one's own, in one statement: the row is
# written only when the WHERE of the update holds, then read back to see who owns it.
_ACQUIRE = (
    "INSERT INTO leases (name, owner, expires_at) VALUES (?,?,?)"
    " ON CONFLICT (name) DO UPDATE SET owner=excluded.owner, expires_at=excluded.expires_at"
    " WHERE leases.owner=excluded.owner OR leases.expires_at<=?"
)


class SqlLeaseStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def acquire(self, name: str, owner: str, now: int, ttl_ms: int) -> bool:
        return name in await self.acquire_all([name], owner, now, ttl_ms)

    async def acquire_all(self, names: list[str], owner: str, now: int, ttl_ms: int) -> set[str]:
        def op(conn: Connection, txn: Txn) -> set[str]:
            held = set()
            for name in names:
                conn.execute(_ACQUIRE, (name, owner, now + ttl_ms, now))
                row = conn.execute("SELECT owner FROM leases WHERE name=?", (name,)).fetchone()
                if row is not None and row[0] == owner:
                    held.add(name)
            return held

        # drain: a tiny row rewritten in place; background work (the retention sweeps that
        # free space among it) must keep its leases on a full disk.
        return await self._committer.run(op, drain=True)

    async def release(self, name: str, owner: str) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner)),
            drain=True,
        )

    async def release_others(self, owner: str) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute("DELETE FROM leases WHERE owner<>?", (owner,)), drain=True
        )

    async def holders(self) -> dict[str, tuple[str, int]]:
        rows = await self._committer.run(
            lambda conn, txn: conn.execute("SELECT name, owner, expires_at FROM leases").fetchall(), drain=True
        )
        return {name: (owner, expires_at) for name, owner, expires_at in rows}
