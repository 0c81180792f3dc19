"""Running invocations of functions with reserved concurrency, counted in storage so that a
function's ``ReservedConcurrentExecutions`` holds across every node sharing the store.

One row per running invocation: ``(function, invocation, node, expires_at)``. An invocation
takes its row only if fewer than the limit are live, checked in the same storage operation
(under the committer's writer lock, so the count is exact); it removes the row when it ends.
Its node renews the rows of its running invocations well before they expire, so the rows of
a node that dies (``kill -9``) free their slots within one time-to-live. Times are epoch
milliseconds of each node's engine clock (``clock.py``), as for leases.
"""

from __future__ import annotations

from typing import Protocol


class RunningStore(Protocol):
    async def claim(self, function: str, invocation: str, node: str, limit: int, now: int, ttl_ms: int) -> bool:
        """Record ``invocation`` of ``function`` as running on ``node`` until ``now + ttl_ms``
        if fewer than ``limit`` unexpired rows of ``function`` exist; whether it was."""
        ...

    async def release(self, function: str, invocation: str) -> None:
        """The invocation ended: its row goes (nothing happens if it is gone already)."""
        ...

    async def renew(self, node: str, now: int, ttl_ms: int) -> None:
        """Extend ``node``'s unexpired rows to ``now + ttl_ms`` (an expired row stays free)."""
        ...

    async def release_others(self, node: str) -> None:
        """Remove every row not of ``node``: a store with one node (the SQLite data directory
        lock proves it) frees what a crashed run left at once, instead of after its TTL."""
        ...
