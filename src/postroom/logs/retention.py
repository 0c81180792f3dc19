"""The retention sweep: deletes events older than their log group's retention, on the
injected clock, in bounded steps so the storage thread is never held for long."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from postroom.clock import Clock
from postroom.logs.limits import DAY_MS
from postroom.storage.errors import log_round_failed
from postroom.storage.logs import LogStore

log = logging.getLogger("postroom.logs")

SWEEP_INTERVAL_S = 60.0
ROWS_PER_STEP = 10_000


class RetentionSweep:
    def __init__(self, store: LogStore, clock: Clock, interval: float = SWEEP_INTERVAL_S) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def wake(self) -> None:
        """A retention changed: sweep now rather than at the next interval."""
        self._wake.set()

    async def sweep(self) -> int:
        """Delete every expired event now; return how many went."""
        now = self._clock.now_ms()
        total = 0
        for group in list(self._store.groups_by_id.values()):
            if group.retention_days is None:
                continue
            cutoff = now - group.retention_days * DAY_MS
            while group.id in self._store.groups_by_id and not self._closing:
                removed = await self._store.expire(group, cutoff, ROWS_PER_STEP)
                total += removed
                if removed < ROWS_PER_STEP:
                    break
        return total

    def start(self) -> None:
        self._closing = False  # started again after a stop (POST /_postroom/reset)
        self._task = asyncio.create_task(self._run(), name="postroom-logs-retention")

    async def stop(self) -> None:
        """Tell the loop to end (between bounded steps) and wait for it; not a cancel,
        which a clock wait can lose as it times out."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self.sweep()
            except Exception:
                log_round_failed(log, "log retention sweep failed")
            with contextlib.suppress(TimeoutError):
                await self._clock.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
