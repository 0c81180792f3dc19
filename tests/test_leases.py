"""Leases of background work: the store (acquire, renew, expiry, release) and the keeper
that runs work only while holding its lease, on the manual clock. Two keepers on one store
play two nodes (the store is not marked exclusive for them, as a shared one is not)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from postroom.clock import ManualClock
from postroom.leases import Leases
from postroom.storage.sqlite import SqliteStore

T0 = 1_700_000_000_000
TTL_S = 9.0


def run(body: Callable[[SqliteStore, ManualClock], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SqliteStore(None)
        await store.start()
        try:
            await body(store, ManualClock(T0))
        finally:
            await store.close()

    asyncio.run(main())


class Work:
    """Background work that records whether it runs."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0
        self.stops = 0

    def start(self) -> None:
        assert not self.running, "started twice"
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False
        self.stops += 1


def node(store: SqliteStore, clock: ManualClock, owner: str, *, exclusive: bool = False) -> Leases:
    return Leases(store.leases, clock, owner, notifier=store.notifier, exclusive=exclusive, ttl_s=TTL_S)


# -- the store ---------------------------------------------------------------------------


def test_a_free_lease_is_taken_and_renewed_by_its_owner_only():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        leases = store.leases
        assert await leases.acquire("w", "a", T0, 9000)
        assert not await leases.acquire("w", "b", T0 + 1000, 9000)
        assert await leases.acquire("w", "a", T0 + 3000, 9000)  # renewed until T0+12000
        assert not await leases.acquire("w", "b", T0 + 11_999, 9000)
        assert await leases.holders() == {"w": ("a", T0 + 12_000)}

    run(body)


def test_an_expired_lease_is_taken_over_and_its_old_owner_cannot_renew_it():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        leases = store.leases
        assert await leases.acquire("w", "a", T0, 9000)
        assert await leases.acquire("w", "b", T0 + 9000, 9000)  # expires_at <= now: free
        assert not await leases.acquire("w", "a", T0 + 9001, 9000)
        assert await leases.holders() == {"w": ("b", T0 + 18_000)}

    run(body)


def test_release_frees_a_lease_at_once_but_only_for_its_owner():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        leases = store.leases
        assert await leases.acquire("w", "a", T0, 9000)
        await leases.release("w", "b")  # not b's: nothing happens
        assert not await leases.acquire("w", "b", T0, 9000)
        await leases.release("w", "a")
        assert await leases.acquire("w", "b", T0, 9000)

    run(body)


def test_acquire_all_takes_what_is_free_in_one_go_and_release_others_frees_the_rest():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        leases = store.leases
        assert await leases.acquire("x", "b", T0, 9000)
        assert await leases.acquire_all(["w", "x", "y"], "a", T0, 9000) == {"w", "y"}
        await leases.release_others("a")
        assert await leases.holders() == {"w": ("a", T0 + 9000), "y": ("a", T0 + 9000)}
        assert await leases.acquire_all(["w", "x"], "a", T0, 9000) == {"w", "x"}

    run(body)


# -- the keeper ---------------------------------------------------------------------------


def test_work_runs_on_the_node_that_takes_the_lease_and_stays_there_while_renewed():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        a, b = node(store, clock, "a"), node(store, clock, "b")
        work_a, work_b = Work(), Work()
        lease_a = a.lease("w", work_a.start, work_a.stop)
        lease_b = b.lease("w", work_b.start, work_b.stop)
        await lease_a.begin()
        assert work_a.running and lease_a.held  # taken before begin returned
        await lease_b.begin()
        assert not work_b.running and not lease_b.held
        await clock.advance(60)  # many renewal rounds on both nodes
        assert work_a.running and not work_b.running
        assert work_a.starts == 1
        owner, expires_at = (await store.leases.holders())["w"]
        assert owner == "a" and expires_at > clock.now_ms()
        assert a.status() == {"w": True} and b.status() == {"w": False}
        await lease_a.end()
        await lease_b.end()

    run(body)


def test_a_dead_nodes_work_is_taken_over_after_its_lease_expires():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        a, b = node(store, clock, "a"), node(store, clock, "b")
        work_a, work_b = Work(), Work()
        await a.lease("w", work_a.start, work_a.stop).begin()
        lease_b = b.lease("w", work_b.start, work_b.stop)
        await lease_b.begin()
        await a.close()  # node a dies: no more renewals, no release
        await clock.advance(TTL_S - 3)
        assert not work_b.running  # a's lease has not expired yet
        await clock.advance(TTL_S / 3 + 3)  # expired, and b's next round came
        assert work_b.running and lease_b.held
        assert (await store.leases.holders())["w"][0] == "b"
        await lease_b.end()

    run(body)


def test_a_node_whose_lease_was_taken_stops_its_work_at_its_next_renewal():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        a, b = node(store, clock, "a"), node(store, clock, "b")
        work_a, work_b = Work(), Work()
        lease_a = a.lease("w", work_a.start, work_a.stop)
        await lease_a.begin()
        await a.close()  # a stalls (a long pause), its lease expires meanwhile
        lease_b = b.lease("w", work_b.start, work_b.stop)
        await clock.advance(TTL_S)
        await lease_b.begin()
        assert work_b.running
        await a.renew()  # a wakes up: the renewal finds b's lease
        assert not work_a.running and not lease_a.held
        assert work_a.stops == 1
        assert work_b.running
        await lease_b.end()
        await lease_a.end()

    run(body)


def test_a_clean_end_releases_the_lease_so_another_node_takes_it_at_its_next_round():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        a, b = node(store, clock, "a"), node(store, clock, "b")
        work_a, work_b = Work(), Work()
        lease_a = a.lease("w", work_a.start, work_a.stop)
        lease_b = b.lease("w", work_b.start, work_b.stop)
        await lease_a.begin()
        await lease_b.begin()
        await lease_a.end()
        assert not work_a.running and work_a.stops == 1
        assert "w" not in await store.leases.holders()
        await clock.advance(TTL_S / 3)  # one round, well before a's lease would have expired
        assert work_b.running
        await lease_b.end()
        assert await store.leases.holders() == {}

    run(body)


class FlakyLeases:
    """A lease store whose writes can be made to fail (a database that went away)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down = False

    async def acquire(self, *args):
        if self.down:
            raise ConnectionError("database down")
        return await self.inner.acquire(*args)

    async def acquire_all(self, *args):
        if self.down:
            raise ConnectionError("database down")
        return await self.inner.acquire_all(*args)

    async def release(self, *args):
        return await self.inner.release(*args)

    async def release_others(self, *args):
        return await self.inner.release_others(*args)


def test_work_stops_before_its_lease_could_expire_when_storage_cannot_renew_it():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        flaky = FlakyLeases(store.leases)
        a = Leases(flaky, clock, "a", ttl_s=TTL_S)
        work = Work()
        lease = a.lease("w", work.start, work.stop)
        await lease.begin()
        await asyncio.sleep(0)  # the keeper's loop arms its first timer
        taken_at = clock.now_ms()
        flaky.down = True
        await clock.advance(TTL_S / 3)  # first failed round: the lease still has 2/3 of its time
        assert work.running
        await clock.advance(TTL_S / 3)  # the next round would come as the lease expires
        assert not work.running
        assert clock.now_ms() < taken_at + TTL_S * 1000
        flaky.down = False
        await clock.advance(TTL_S / 3)  # storage is back: the lease (its own still) is taken again
        assert work.running and work.starts == 2
        await lease.end()

    run(body)


def test_work_that_fails_to_start_is_undone_its_lease_released_and_tried_again():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        a = node(store, clock, "a")
        attempts = []
        stops = []

        def start() -> None:
            attempts.append(clock.now_ms())
            if len(attempts) == 1:
                raise RuntimeError("boom")

        lease = a.lease("w", start, lambda: stops.append(1))
        await lease.begin()
        assert not lease.held and stops == [1]
        assert "w" not in await store.leases.holders()
        await clock.advance(TTL_S / 3)
        assert lease.held and len(attempts) == 2
        await lease.end()

    run(body)


def test_notices_from_other_nodes_wake_the_work_only_where_its_lease_is_held():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        a, b = node(store, clock, "a"), node(store, clock, "b")
        woken: list[tuple[str, str]] = []
        lease_a = a.lease("w", lambda: None, lambda: None, wake={"outbox": lambda key: woken.append(("a", key))})
        lease_b = b.lease("w", lambda: None, lambda: None, wake={"outbox": lambda key: woken.append(("b", key))})
        await lease_a.begin()
        await lease_b.begin()
        store.notifier.deliver([("outbox", "k1")], remote=True)
        store.notifier.deliver([("outbox", "k2")])  # this node's own: its callers woke the work
        store.notifier.deliver([("*", "")], remote=True)  # link restored: look at everything
        assert woken == [("a", "k1"), ("a", "")]
        await lease_a.end()
        await lease_b.end()

    run(body)


def test_an_exclusive_store_frees_a_crashed_runs_leases_at_once():
    async def body(store: SqliteStore, clock: ManualClock) -> None:
        assert await store.leases.acquire("w", "crashed-run", clock.now_ms(), 60_000)
        restarted = node(store, clock, "new", exclusive=True)
        work = Work()
        lease = restarted.lease("w", work.start, work.stop)
        await lease.begin()
        assert work.running
        await lease.end()

    run(body)


def test_a_private_keeper_holds_every_lease_without_storage():
    async def main() -> None:
        clock = ManualClock(T0)
        leases = Leases.private(clock)
        work = Work()
        lease = leases.lease("w", work.start, work.stop)
        await lease.begin()
        assert work.running
        await clock.advance(3600)
        assert work.running and clock.pending_timers == 0  # nothing to renew
        await lease.end()
        assert not work.running

    asyncio.run(main())


def test_a_lease_name_is_declared_once_per_node():
    leases = Leases.private(ManualClock(T0))
    leases.lease("w", lambda: None, lambda: None)
    with pytest.raises(ValueError):
        leases.lease("w", lambda: None, lambda: None)
