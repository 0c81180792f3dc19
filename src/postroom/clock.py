"""The engine's one source of time. Every timer and timestamp (visibility, delay,
retention, retries, batching windows, function timeouts) reads or waits on a Clock, so
tests can substitute one they control."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of engine time."""
        ...

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        """Await ``aw`` for at most ``timeout`` seconds of engine time (TimeoutError after)."""
        ...


class SystemClock:
    """Wall-clock time; waits are the event loop's own timers."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0))

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        return await asyncio.wait_for(aw, timeout)


class ManualClock:
    """Engine time that moves only when told (``advance``/``set``): for tests and demos.

    Starts at the wall-clock time it was created. Sleepers and ``wait_for`` timeouts fire in
    deadline order as time is moved past them; each firing runs at its own deadline, and the
    event loop gets a few turns in between so woken code (a retry loop, a long poll) can
    read the time and schedule its next timer before the clock moves on.
    """

    # Turns of the event loop given to woken tasks after each deadline fires.
    _SETTLE_TURNS = 5
    # Beyond this many distinct deadlines in one move, the rest fire at the target time, so
    # a loop that re-arms a short timer cannot turn "advance 14 days" into millions of steps.
    _MAX_STEPS = 10_000

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = int(time.time() * 1000) if start_ms is None else start_ms
        self._timers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._moving: asyncio.Lock | None = None

    def now_ms(self) -> int:
        return self._now_ms

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)  # a zero wait still yields, as asyncio.sleep(0) does
            return
        await self._timer(seconds)

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        if timeout is None:
            return await aw
        task = asyncio.ensure_future(aw)
        timer = self._timer(max(timeout, 0))
        try:
            await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise TimeoutError

    async def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds`` (>= 0), firing timers on the way; the new time."""
        if seconds < 0:
            raise ValueError("time cannot move backwards")
        return await self.set(self._now_ms + round(seconds * 1000))

    async def set(self, target_ms: int) -> int:
        """Move time forward to ``target_ms`` (not before now), firing timers on the way."""
        if self._moving is None:
            self._moving = asyncio.Lock()
        async with self._moving:
            if target_ms < self._now_ms:
                raise ValueError("time cannot move backwards")
            steps = 0
            while self._timers and self._timers[0][0] <= target_ms:
                steps += 1
                due = self._timers[0][0]
                if steps < self._MAX_STEPS:
                    self._now_ms = max(self._now_ms, due)
                else:
                    self._now_ms = target_ms
                while self._timers and self._timers[0][0] <= self._now_ms:
                    fut = heapq.heappop(self._timers)[2]
                    if not fut.done():
                        fut.set_result(None)
                for _ in range(self._SETTLE_TURNS):
                    await asyncio.sleep(0)
            self._now_ms = target_ms
            return self._now_ms

    @property
    def pending_timers(self) -> int:
        return sum(1 for _, _, fut in self._timers if not fut.done())

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A timer shorter than the clock's millisecond resolution still waits one tick.
        due = self._now_ms + max(math.ceil(seconds * 1000), 1)
        seq = next(self._seq)
        heapq.heappush(self._timers, (due, seq, fut))
        if seq % 256 == 255 and len(self._timers) > 2 * self.pending_timers:
            self._timers = [t for t in self._timers if not t[2].done()]  # drop cancelled ones
            heapq.heapify(self._timers)
        return fut
