"""Callback-driven sender for the fixed-request scenarios (send, send-batch).

No coroutine or future per request: the protocol writes the next request from the parser
callback that completes the previous response, which roughly halves the client's CPU cost.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httptools
from awsreq import count_failed

perf = time.perf_counter


class FixedSender(asyncio.Protocol):
    """Sends ``raw`` back to back on one connection between ``t_start``-ish and ``t_end``."""

    def __init__(
        self,
        raw: bytes,
        per_req: int,
        window: tuple[float, float, float],
        res: dict[str, Any],
        done: asyncio.Future[None],
    ) -> None:
        self.raw, self.per_req, self.res, self.done = raw, per_req, res, done
        self.t0, self.t_start, self.t_end = window
        self.parser = httptools.HttpResponseParser(self)
        self.parts: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0
        self.answered_close = False
        self.lat = res["lat"]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, self.t0 - perf()), self._send)

    def _send(self) -> None:
        t = perf()
        if t >= self.t_end:
            self._finish()
            return
        self.sent_at = t
        self.transport.write(self.raw)  # type: ignore[union-attr]

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self.transport.close()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.res["errors"] += 1
            self.transport.close()  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        if self.per_req > 1:
            self.parts.append(body)

    def on_message_complete(self) -> None:
        t, t2 = self.sent_at, perf()
        res = self.res
        if t >= self.t_start:
            self.lat.append((t2 - t) * 1000.0)
            if self.parser.get_status_code() == 200:
                failed = 0
                if self.per_req > 1:
                    failed = count_failed(b"".join(self.parts))
                res["ops"] += 1
                res["msgs"] += self.per_req - failed
                res["errors"] += failed
            else:
                res["errors"] += 1
        self.parts.clear()
        if self.parser.should_keep_alive():
            self._send()
        else:  # the server closes after each answer (HTTP/1.0 style): reconnect, no error
            self.answered_close = True
            self.res["reconnects"] = self.res.get("reconnects", 0) + 1
            self.transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if perf() < self.t_end and not self.done.done():
            if not self.answered_close:
                self.res["errors"] += 1
            self.done.set_result("reconnect")  # type: ignore[arg-type]
        elif not self.done.done():
            self.done.set_result(None)


async def run_fixed(
    host: str,
    port: int,
    raw: bytes,
    per_req: int,
    window: tuple[float, float, float],
    res: dict[str, Any],
) -> None:
    """Keep one connection busy with ``raw`` until the window closes, reconnecting on loss."""
    loop = asyncio.get_running_loop()
    t_end = window[2]
    while perf() < t_end:
        done: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(
                lambda d=done: FixedSender(raw, per_req, window, res, d), host, port
            )
        except OSError:
            res["errors"] += 1
            await asyncio.sleep(0.01)
            continue
        if await done is None:
            return
