"""LogsApi: the typed internal API other services write logs through.

``write`` only appends to an in-memory buffer (cheap enough to call for every line a
function prints); a background task flushes the buffer through storage in one transaction
every ~100 ms, or sooner once 1,000 events are waiting, creating log groups and streams on
first use. ``flush`` commits everything written before it was called.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from postroom.clock import Clock
from postroom.storage.errors import log_round_failed
from postroom.storage.logs import Batch, LogStore

log = logging.getLogger("postroom.logs")

FLUSH_INTERVAL_S = 0.1
FLUSH_EVENTS = 1_000


class LogsApi:
    def __init__(self, store: LogStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
        self._count = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def write(self, account: str, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue ``events`` (epoch-ms timestamp, message) for ``group``/``stream`` of the
        given account and region; never blocks."""
        if not events:
            return
        self._pending.setdefault((account, region, group, stream), []).extend(events)
        self._count += len(events)
        if self._count >= FLUSH_EVENTS:
            self._wake.set()

    async def flush(self) -> None:
        """Commit every event written so far."""
        async with self._lock:
            if not self._pending:
                return
            pending, self._pending, self._count = self._pending, {}, 0
            batches: list[Batch] = [
                (account, region, group, stream, sorted(events, key=lambda e: e[0]))
                for (account, region, group, stream), events in pending.items()
            ]
            await self._store.ensure_and_append(batches, self._clock.now_ms())

    def start(self) -> None:
        self._closing = False  # started again after a stop (POST /_postroom/reset)
        self._task = asyncio.create_task(self._run(), name="postroom-logs-writer")

    async def stop(self) -> None:
        """Stop the background writer and commit what is buffered. The loop is told to end
        rather than cancelled: cancelling a clock wait can be lost as it times out."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                # Real time on purpose: the flush interval bounds how long a written line
                # waits in memory, not when anything happens in the engine; on a manual
                # clock, lines must still appear while time stands still.
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # a failed flush loses its batch; the writer keeps going
                log_round_failed(log, "flushing buffered log events failed")
