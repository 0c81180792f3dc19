"""The engine's one source of time. Every timer and timestamp (visibility, delay,
retention, retries) reads a Clock, so tests can later substitute one they control."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)
