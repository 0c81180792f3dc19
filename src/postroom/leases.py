"""Background work owned through leases: each loop runs on exactly one node at a time.

A service wraps each piece of background work (a sweeper, a worker, a set of runners) in a
``Lease``: its ``start`` and ``stop``, and a name unique in the cluster. Between the
service's ``begin`` and ``end`` this node's ``Leases`` keeper tries to hold it:

- a free (or expired) lease is taken and the work started at once; ``begin`` takes it
  before it returns when it can, so on one node work starts as the service does;
- every ttl/3 one transaction renews every lease the node holds and tries to take the
  ones it wants but does not hold, so a node that died is replaced within about 4/3 ttl;
- the work stops as soon as a renewal finds another owner, or when storage could not
  confirm the lease and the next try would come after it expires (another node may take
  it then). So work runs on two nodes at once only if a node stalls for about ttl or
  clocks disagree by that much; all of it tolerates that (deliveries are at least once,
  moves and sweeps are transactions);
- ``end`` stops the work and releases the lease, so another node takes it over at once.

Work that others make for it (a publish, an Invoke, a new mapping) is announced with a
notice by the storage operation that made it; a lease names the channels whose notices
wake its work while this node holds it (from other nodes: local callers wake it directly).
All times are engine time (``clock.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from postroom.clock import Clock
from postroom.storage.errors import log_round_failed
from postroom.storage.leases import LeaseStore
from postroom.storage.notifier import Notifier

log = logging.getLogger("postroom.leases")

TTL_S = 9.0  # a dead node's work moves within about 12 s; renewals cost one write per 3 s

Action = Callable[[], Awaitable[None] | None]
WakeHandler = Callable[[str], None]


class Lease:
    """One piece of background work and whether this node runs it (``held``)."""

    def __init__(self, keeper: Leases, name: str, start: Action, stop: Action) -> None:
        self.name = name
        self._keeper = keeper
        self._start = start
        self._stop = stop
        self.wanted = False  # between begin and end
        self.held = False  # this node holds the lease and its work runs here
        self.expires_at: float = 0  # when the lease ends unless renewed, as last confirmed
        self._changing = asyncio.Lock()

    async def begin(self) -> None:
        """Want the lease: take it now if it is free (the work has started when this
        returns), else keep trying every ttl/3 while another node holds it."""
        await self._keeper._add(self)

    async def end(self) -> None:
        """Stop the work if it runs here and give the lease back."""
        await self._keeper._remove(self)

    async def _gain(self, expires_at: float) -> bool:
        async with self._changing:
            self.expires_at = expires_at  # inf: a private keeper
            if self.held or not self.wanted:
                return self.held
            try:
                await _call(self._start)
            except Exception:
                log.exception("background work %s failed to start", self.name)
                await _quietly(self._stop, self.name)  # undo what started; try again later
                return False
            self.held = True
            log.debug("lease %s taken: its work runs on this node", self.name)
            return True

    async def _lose(self) -> None:
        async with self._changing:
            if not self.held:
                return
            self.held = False
            await _quietly(self._stop, self.name)


class Leases:
    """This node's leases: takes, renews and gives back the leases its work holds."""

    def __init__(
        self, store: LeaseStore | None, clock: Clock, owner: str, *, notifier: Notifier | None = None,
        exclusive: bool = False, ttl_s: float = TTL_S,
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.ttl_ms = max(int(ttl_s * 1000), 3)
        self._notifier = notifier
        self._exclusive = exclusive
        self._freed_others = False
        self._leases: dict[str, Lease] = {}
        self._wanted: dict[str, Lease] = {}
        self._round = asyncio.Lock()
        self._loop: asyncio.Task[None] | None = None

    @classmethod
    def for_store(cls, store: Any, clock: Clock, ttl_s: float = TTL_S) -> Leases:
        """The keeper of a node on ``store`` (a Storage: leases, node id, notifier)."""
        return cls(
            store.leases, clock, store.node_id, notifier=store.notifier, exclusive=store.exclusive, ttl_s=ttl_s,
        )

    @classmethod
    def private(cls, clock: Clock) -> Leases:
        """A keeper that holds every lease at once, with no storage: for a service built on
        its own (in-process tests), where nothing else could run its work."""
        return cls(None, clock, "private")

    @property
    def exclusive(self) -> bool:
        """Whether this node is the store's only user: what other owners left is a crashed run's."""
        return self._exclusive

    @property
    def renew_interval_s(self) -> float:
        return self.ttl_ms / 3000

    def lease(
        self, name: str, start: Action, stop: Action, *, wake: Mapping[str, WakeHandler] | None = None,
    ) -> Lease:
        """Declare background work ``name``; ``wake``: channel -> handler, called with the
        key of each notice from another node on that channel while this node holds it (and
        with "" when the link to other nodes was restored: anything may have changed)."""
        if name in self._leases:
            raise ValueError(f"lease {name} is declared twice")
        lease = Lease(self, name, start, stop)
        self._leases[name] = lease
        if wake and self._notifier is not None:
            for channel, handler in wake.items():
                self._notifier.on(channel, _while_held(lease, handler), remote_only=True)
                self._notifier.on("*", _while_held(lease, handler), remote_only=True)
        return lease

    def status(self) -> dict[str, bool]:
        """Every declared lease: whether this node holds it (its work runs here)."""
        return {name: lease.held for name, lease in sorted(self._leases.items())}

    async def close(self) -> None:
        """Stop renewing (the services ended their leases already)."""
        await self._stop_loop()

    async def renew(self) -> None:
        """One round: renew the leases held, try to take the others wanted."""
        async with self._round:
            await self._renew()

    # -- inside -------------------------------------------------------------------------

    async def _add(self, lease: Lease) -> None:
        async with self._round:
            lease.wanted = True
            self._wanted[lease.name] = lease
            if self.store is None:
                await lease._gain(math.inf)
                return
            if self._exclusive and not self._freed_others:
                # Alone on the store: what another owner holds is a crashed run's.
                await self.store.release_others(self.owner)
                self._freed_others = True
            now = self.clock.now_ms()
            try:
                taken = await self.store.acquire(lease.name, self.owner, now, self.ttl_ms)
            except Exception:
                log_round_failed(log, "could not take lease %s; trying again soon", lease.name)
                taken = False
            if taken and not await lease._gain(now + self.ttl_ms):
                await self._release(lease)
            if self._loop is None or self._loop.done():
                self._loop = asyncio.create_task(self._run(), name="postroom-leases")

    async def _remove(self, lease: Lease) -> None:
        async with self._round:
            lease.wanted = False
            self._wanted.pop(lease.name, None)
            await lease._lose()
            if self.store is not None:
                await self._release(lease)
            if not self._wanted:
                await self._stop_loop()

    async def _release(self, lease: Lease) -> None:
        assert self.store is not None
        try:
            await self.store.release(lease.name, self.owner)
        except Exception:  # it expires by itself
            log.warning("could not release lease %s; it expires within %d ms", lease.name, self.ttl_ms)

    async def _stop_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and loop is not asyncio.current_task():
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self.clock.sleep(self.renew_interval_s)
            try:
                await self.renew()
            except Exception:  # the keeper must outlive any one failure
                log_round_failed(log, "lease renewal round failed")

    async def _renew(self) -> None:
        assert self.store is not None
        leases = list(self._wanted.values())
        if not leases:
            return
        now = self.clock.now_ms()
        try:
            held = await self.store.acquire_all([lease.name for lease in leases], self.owner, now, self.ttl_ms)
        except Exception as exc:
            log.warning("could not renew leases: %r", exc)
            # Unconfirmed: stop before the lease could expire (another node may take it then).
            deadline = now + self.ttl_ms // 3
            await asyncio.gather(*(lease._lose() for lease in leases if lease.held and deadline >= lease.expires_at))
            return
        lost = [lease for lease in leases if lease.held and lease.name not in held]
        for lease in lost:
            log.warning("lease %s is held by another node: its work stops here", lease.name)
        await asyncio.gather(*(lease._lose() for lease in lost))
        gained = await asyncio.gather(*(lease._gain(now + self.ttl_ms) for lease in leases if lease.name in held))
        if not all(gained):
            for lease in leases:
                if lease.name in held and not lease.held:
                    await self._release(lease)


def _while_held(lease: Lease, handler: WakeHandler) -> WakeHandler:
    def wake(key: str) -> None:
        if lease.held:
            handler(key)

    return wake


async def _call(action: Action) -> None:
    result = action()
    if inspect.isawaitable(result):
        await result


async def _quietly(action: Action, name: str) -> None:
    try:
        await _call(action)
    except Exception:
        log.exception("background work %s failed to stop", name)
