"""The engine's one source of time. Every timer and timestamp (visibility, delay,
retention, retries, batching windows, function timeouts) reads or waits on a Clock, so
tests can substitute one they control."""

from __future__ import annotations

import asyncio
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
