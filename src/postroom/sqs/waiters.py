"""Long polling: receivers wait on their queue and are woken the moment messages arrive."""

from __future__ import annotations

import asyncio

from postroom.clock import Clock


class QueueSignals:
    """Per-queue wake-ups. ``version`` lets a receiver detect a send that happened between
    its empty receive and the start of its wait, so no wake-up is ever missed."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}
        self._versions: dict[int, int] = {}

    def version(self, queue_id: int) -> int:
        return self._versions.get(queue_id, 0)

    def notify(self, queue_id: int) -> None:
        self._versions[queue_id] = self._versions.get(queue_id, 0) + 1
        waiters = self._waiters.pop(queue_id, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def notify_all(self) -> None:
        for queue_id in list(self._waiters):
            self.notify(queue_id)

    async def wait(self, queue_id: int, since_version: int, timeout: float, clock: Clock) -> None:
        """Wait until ``notify(queue_id)`` or ``timeout`` seconds of ``clock`` time,
        whichever is first."""
        if self._versions.get(queue_id, 0) != since_version or timeout <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(queue_id, set()).add(fut)
        try:
            await clock.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(queue_id)
            if waiters is not None:
                waiters.discard(fut)
                if not waiters:
                    del self._waiters[queue_id]
