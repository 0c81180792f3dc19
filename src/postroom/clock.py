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
import weakref
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

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
    deadline order as time is moved past them, each at its own deadline. After each firing
    the clock lets the woken tasks run until each has finished or armed its next timer (a
    retry loop reads storage, then waits again) before it moves on, so what a timer starts
    happens at that timer's time, and is done when ``advance`` returns.
    """

    # Real time a step waits for its woken tasks to settle, and for all steps of one move.
    _SETTLE_STEP_S = 0.5
    _SETTLE_BUDGET_S = 3.0
    # Beyond this many distinct deadlines in one move, the rest fire at the target time, so
    # a loop that re-arms a short timer cannot turn "advance 14 days" into millions of steps.
    _MAX_STEPS = 10_000

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = int(time.time() * 1000) if start_ms is None else start_ms
        self._timers: list[tuple[int, int, asyncio.Future[None], asyncio.Task[Any] | None]] = []
        self._seq = itertools.count()
        self._armed: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = weakref.WeakKeyDictionary()
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
            budget_ends = time.monotonic() + self._SETTLE_BUDGET_S
            steps = 0
            while self._timers and self._timers[0][0] <= target_ms:
                steps += 1
                due = self._timers[0][0]
                self._now_ms = max(self._now_ms, due) if steps < self._MAX_STEPS else target_ms
                woken: list[tuple[asyncio.Task[Any], int]] = []
                while self._timers and self._timers[0][0] <= self._now_ms:
                    _, _, fut, owner = heapq.heappop(self._timers)
                    if not fut.done():
                        fut.set_result(None)
                        if owner is not None:
                            woken.append((owner, self._armed.get(owner, 0)))
                await self._settle(woken, min(time.monotonic() + self._SETTLE_STEP_S, budget_ends))
            self._now_ms = target_ms
            return self._now_ms

    async def _settle(self, woken: list[tuple[asyncio.Task[Any], int]], until: float) -> None:
        """Let woken tasks run until each is done or has armed a new timer (or ``until``)."""
        for _ in range(3):
            await asyncio.sleep(0)
        while any(not task.done() and self._armed.get(task, 0) == armed for task, armed in woken):
            if time.monotonic() >= until:
                return  # waiting on something else (a request, a process): move on
            await asyncio.sleep(0.0005)  # real time: the woken work (storage I/O) is real

    @property
    def pending_timers(self) -> int:
        return sum(1 for _, _, fut, _ in self._timers if not fut.done())

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        owner = asyncio.current_task()
        if owner is not None:
            self._armed[owner] = self._armed.get(owner, 0) + 1
        # A timer shorter than the clock's millisecond resolution still waits one tick.
        due = self._now_ms + max(math.ceil(seconds * 1000), 1)
        seq = next(self._seq)
        heapq.heappush(self._timers, (due, seq, fut, owner))
        if seq % 256 == 255 and len(self._timers) > 2 * self.pending_timers:
            self._timers = [t for t in self._timers if not t[2].done()]  # drop cancelled ones
            heapq.heapify(self._timers)
        return fut
