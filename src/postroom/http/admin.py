"""Postroom's own control endpoints, outside the AWS protocols (tests and demos use them).

- ``GET  /_postroom/clock``: ``{"mode": "manual"|"system", "now_ms": ..., "now": ISO 8601}``
- ``POST /_postroom/clock``: ``{"advance_seconds": N}``, ``{"now_ms": MS}`` or
  ``{"now": "2030-01-01T00:00:00Z"}``; manual clock only, and time never moves back.
- ``POST /_postroom/reset``: empty every queue, topic, function and cache.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from postroom.clock import Clock, ManualClock
from postroom.http.request import Response
from postroom.service import Service

log = logging.getLogger("postroom")
JSON = b"application/json"
CLOCK_PATH = "/_postroom/clock"
RESET_PATH = "/_postroom/reset"
PATHS = frozenset((CLOCK_PATH, RESET_PATH))
MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z, the last time ISO 8601 can show


class Admin:
    """Answers the control endpoints; ``handle`` is reached only for ``PATHS``."""

    def __init__(
        self, clock: Clock, services: Sequence[Service], reset_storage: Callable[[], Awaitable[None]]
    ) -> None:
        self.clock = clock
        self.services = services
        self.reset_storage = reset_storage
        self._resetting = asyncio.Lock()

    async def handle(self, method: str, path: str, body: bytes) -> Response:
        if path == CLOCK_PATH and method == "GET":
            return self._clock_state()
        if path == CLOCK_PATH and method == "POST":
            return await self._move_clock(body)
        if path == RESET_PATH and method == "POST":
            try:
                await self.reset()
            except Exception:  # a bug, not bad input: logged, answered in JSON
                log.exception("reset failed")
                return _error(500, "InternalFailure", "The reset failed; see the server's log.")
            return _json(200, {"status": "reset"})
        return _error(405, "MethodNotAllowed", f"{method} is not allowed on {path}.")

    async def reset(self) -> None:
        """Stop every service's background work, empty storage, start them again."""
        async with self._resetting:
            stopped = []
            try:
                for svc in reversed(self.services):
                    reset = getattr(svc, "reset", None)
                    if reset is None:  # storage is still emptied; only its caches are left
                        log.warning("service %s has no reset(): its in-memory caches are kept", svc.name)
                        continue
                    await reset()
                    stopped.append(svc)
                await self.reset_storage()
            finally:  # whatever failed, what was stopped runs again
                for svc in reversed(stopped):
                    await svc.start()

    def _clock_state(self) -> Response:
        now = self.clock.now_ms()
        mode = "manual" if isinstance(self.clock, ManualClock) else "system"
        return _json(200, {"mode": mode, "now_ms": now, "now": _iso(now)})

    async def _move_clock(self, body: bytes) -> Response:
        clock = self.clock
        if not isinstance(clock, ManualClock):
            return _error(409, "ClockNotManual", "The clock is the system clock; start with --clock manual.")
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return _error(400, "InvalidRequest", "The body is not JSON.")
        try:
            target = _target(doc, clock.now_ms())
        except ValueError as exc:
            return _error(400, "InvalidRequest", str(exc))
        if target > MAX_MS:
            return _error(400, "InvalidRequest", "That time is after 9999-12-31T23:59:59Z.")
        if target < clock.now_ms():
            return _error(400, "InvalidRequest", "Time cannot move backwards.")
        await clock.set(target)
        return self._clock_state()


def _target(doc: Any, now: int) -> int:
    """The time (ms) a POST body asks for: exactly one of advance_seconds, now_ms, now."""
    if not isinstance(doc, dict):
        raise ValueError("Expected a JSON object.")
    keys = [k for k in ("advance_seconds", "now_ms", "now") if k in doc]
    unknown = sorted(set(doc) - {"advance_seconds", "now_ms", "now"})
    if unknown or len(keys) != 1:
        raise ValueError("Give exactly one of advance_seconds, now_ms or now.")
    value = doc[keys[0]]
    if keys[0] == "now":
        if not isinstance(value, str):
            raise ValueError("now must be an ISO 8601 time, e.g. 2030-01-01T00:00:00Z.")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("now must be an ISO 8601 time, e.g. 2030-01-01T00:00:00Z.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return math.floor(moment.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{keys[0]} must be a number.")
    if keys[0] == "now_ms":
        return int(value)
    if value < 0:
        raise ValueError("advance_seconds must be >= 0.")
    return now + round(value * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(status: int, doc: Any) -> Response:
    return Response(status, JSON, orjson.dumps(doc))


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})
