"""The cache refresher's catch-up: a request waits for the refresh of every notice that
arrived before it, not for later ones (in process, no database)."""

from __future__ import annotations

import asyncio

from postroom.storage.notifier import Notifier
from postroom.storage.sql.refresh import Refresher


class SlowCache:
    """A cache whose refreshes finish only when the test lets them."""

    def __init__(self) -> None:
        self.applied: list[set] = []
        self.release = asyncio.Event()

    async def apply(self, stale):
        await self.release.wait()
        self.release.clear()
        self.applied.append(stale)
        return []


def test_caught_up_waits_for_notices_received_before_it_only():
    async def scenario():
        notifier, cache = Notifier(), SlowCache()
        refresher = Refresher(notifier, ["queues"], cache.apply)
        assert refresher.current
        await asyncio.wait_for(refresher.caught_up(), 1)  # nothing received: no wait

        notifier.deliver([("queues", "a")], remote=True)
        assert not refresher.current
        first = asyncio.create_task(refresher.caught_up())
        await asyncio.sleep(0.01)
        notifier.deliver([("queues", "b")], remote=True)  # arrives during the first round
        second = asyncio.create_task(refresher.caught_up())
        await asyncio.sleep(0.01)
        assert not first.done() and not second.done()

        cache.release.set()  # round 1 ("a") applied
        await asyncio.wait_for(first, 1)
        await asyncio.sleep(0.01)
        assert not second.done() and not refresher.current  # "b" is still being read
        cache.release.set()  # round 2 ("b")
        await asyncio.wait_for(second, 1)
        assert refresher.current
        return cache.applied

    assert asyncio.run(scenario()) == [{("queues", "a")}, {("queues", "b")}]


def test_local_notices_and_forget_hold_nobody_up():
    async def scenario():
        notifier, cache = Notifier(), SlowCache()
        refresher = Refresher(notifier, ["queues"], cache.apply)
        notifier.deliver([("queues", "mine")])  # this node's own change: its cache has it
        assert refresher.current
        notifier.deliver([("queues", "x")], remote=True)
        waiting = asyncio.create_task(refresher.caught_up())
        await asyncio.sleep(0.01)
        refresher.forget()  # storage emptied: nothing left to read
        await asyncio.wait_for(waiting, 1)
        refresher.close()

    asyncio.run(scenario())
