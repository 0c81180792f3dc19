"""Connection and request limits: how long a client may take and how much memory request
bodies may hold at once. Transport timeouts use the event loop's time on purpose: they
bound sockets, not engine behaviour, and must fire even when the engine runs on a manual
clock."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

log = logging.getLogger("postroom.http")

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # a 1 MiB message, percent-encoded, fits with room to spare
# rest-json uploads (a function's 50 MB zip, base64-encoded in JSON) need more room.
MAX_UPLOAD_BYTES = 70 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    idle_timeout: float = 60.0  # a connection with no request in progress is closed after this
    header_timeout: float = 10.0  # from a request's first byte to the end of its headers
    body_timeout: float = 10.0  # longest pause while a body is arriving
    body_memory: int = 256 * 1024 * 1024  # request bodies held at once, all connections
    max_connections: int = 1000  # above this, new requests answer 503 at once
    max_header_bytes: int = 64 * 1024  # request line and headers


class BodyBudget:
    """A cap on the request-body bytes held at once. A request reserves its declared size
    before its body is read; when the budget is spent it waits (up to ``wait``) for others
    to finish. When a burst is over, freed heap goes back to the OS (glibc keeps it
    otherwise, so the RSS of a busy minute would stay for the life of the process)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._peak = 0
        self._freed: asyncio.Event | None = None  # set when bytes are released, for waiters

    async def reserve(self, size: int, wait: float) -> bool:
        """Reserve ``size`` bytes; False if they did not fit within ``wait`` seconds."""
        size = min(size, self.capacity)  # a lone request may always use the whole budget
        # Real time on purpose: this bounds how long a connection holds memory, not engine time.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while self.used + size > self.capacity:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self._freed is None:
                self._freed = asyncio.Event()
            freed = self._freed
            try:
                await asyncio.wait_for(freed.wait(), remaining)
            except TimeoutError:
                return False
        self.used += size
        self._peak = max(self._peak, self.used)
        return True

    def release(self, size: int) -> None:
        if not size:
            return
        self.used -= min(size, self.capacity)
        if self._freed is not None:
            self._freed.set()  # every waiter re-checks; the next to wait makes a new event
            self._freed = None
        if self.used == 0 and self._peak >= _TRIM_AFTER:
            self._peak = 0
            _trim_heap()


_TRIM_AFTER = 16 * 1024 * 1024
_LIBC_NAME = ctypes.util.find_library("c")
_MALLOC_TRIM = getattr(ctypes.CDLL(_LIBC_NAME), "malloc_trim", None) if _LIBC_NAME else None


def _trim_heap() -> None:
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
