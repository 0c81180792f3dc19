"""Leases: which node owns a piece of background work (a sweeper, a worker, a runner set).

A lease is a row ``(name, owner, expires_at)``. Its owner renews it well before it expires;
another node may take it only once it has expired, so a node that dies loses its leases
within one time-to-live. Times are epoch milliseconds from each node's engine clock: nodes
sharing a store need clocks kept within a fraction of the time-to-live of each other (NTP).
"""

from __future__ import annotations

from typing import Protocol


class LeaseStore(Protocol):
    async def acquire(self, name: str, owner: str, now: int, ttl_ms: int) -> bool:
        """Take ``name`` if it is free or expired, or renew it if ``owner`` holds it, until
        ``now + ttl_ms``; whether ``owner`` holds it now."""
        ...

    async def acquire_all(self, names: list[str], owner: str, now: int, ttl_ms: int) -> set[str]:
        """``acquire`` for several leases in one transaction; the names ``owner`` holds."""
        ...

    async def release(self, name: str, owner: str) -> None:
        """Give ``name`` back (only if ``owner`` holds it), so another node may take it now."""
        ...

    async def release_others(self, owner: str) -> None:
        """Free every lease not held by ``owner``: a store with one node (the SQLite data
        directory lock proves it) frees what a crashed run left, instead of waiting it out."""
        ...

    async def holders(self) -> dict[str, tuple[str, int]]:
        """Every lease row: name -> (owner, expires_at), expired ones included."""
        ...
