"""Reserved concurrency across nodes: each invocation of a function with
``ReservedConcurrentExecutions`` holds a row in storage while it runs (storage/running.py).

Only such functions pay for it (one storage operation to take the slot, one to give it
back); the others, and the account's unreserved pool, are counted by this node's pool
alone. While this node holds slots it renews them every ttl/3 in one statement, so a node
that dies frees its slots within one ttl (the lease TTL, ``--lease-ttl``). A node that
cannot renew for a whole ttl (storage away, a stalled process) may see its slots taken by
other nodes' invocations while its own still run, as a stalled lease holder may.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from postroom.clock import Clock
from postroom.ids import new_id
from postroom.runtime.api import Throttled
from postroom.storage.running import RunningStore

log = logging.getLogger("postroom.lambda.slots")

RESERVED_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"


class ReservedSlots:
    """This node's invocations of reserved-concurrency functions, counted in storage."""

    def __init__(self, store: RunningStore, clock: Clock, node: str, ttl_ms: int, *, exclusive: bool = False) -> None:
        self._store = store
        self._clock = clock
        self._node = node
        self._ttl_ms = ttl_ms
        self._exclusive = exclusive  # the only node on the store: rows of others are a crashed run's
        self._held: set[tuple[str, str]] = set()  # (function ARN, invocation id)
        self._renewer: asyncio.Task[None] | None = None

    @property
    def held(self) -> int:
        """Slots this node holds now."""
        return len(self._held)

    async def start(self) -> None:
        if self._exclusive:
            await self._store.release_others(self._node)

    async def stop(self) -> None:
        """Stop renewing (invocations still running give their slots back as they end)."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def hold(self, function_arn: str, limit: int) -> AsyncIterator[None]:
        """Hold one of ``function_arn``'s ``limit`` slots for the body; Throttled if every one
        is taken (on any node). A limit of 0 throttles without asking storage."""
        if limit <= 0:
            raise Throttled(RESERVED_EXCEEDED)
        invocation = new_id()
        if not await self._store.claim(function_arn, invocation, self._node, limit, self._clock.now_ms(), self._ttl_ms):
            raise Throttled(RESERVED_EXCEEDED)
        key = (function_arn, invocation)
        self._held.add(key)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="lambda-slots-renew")
        try:
            yield
        finally:
            self._held.discard(key)
            # Shielded: a cancelled caller (a client that hung up) still gives the slot back.
            try:
                await asyncio.shield(self._store.release(function_arn, invocation))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not give back a slot of %s; it frees within %d ms", function_arn, self._ttl_ms)

    async def _renew(self) -> None:
        """Renew this node's rows every ttl/3 while it holds any; ends when it holds none."""
        while self._held:
            await self._clock.sleep(self._ttl_ms / 3000)
            if not self._held:
                return
            try:
                await self._store.renew(self._node, self._clock.now_ms(), self._ttl_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # tried again at the next round, before the rows expire
                log.warning("could not renew %d running invocations' slots: %r", len(self._held), exc)
