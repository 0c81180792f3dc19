"""Minimal keep-alive HTTP/1.1 client: one request in flight per connection, no pipelining.

Requests are passed as fully pre-built bytes (request line, headers and body) so the hot
path is one ``transport.write`` and one awaited future; responses are parsed by httptools.
"""

from __future__ import annotations

import asyncio

import httptools


class HttpError(ConnectionError):
    """The connection failed or was closed before the response was complete."""


class _Protocol(asyncio.Protocol):
    __slots__ = ("transport", "parser", "waiter", "parts", "closed", "keep_alive")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.parts: list[bytes] = []
        self.closed = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"bad response: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        parts = self.parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        self.parts = []
        self.keep_alive = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))
        if not self.keep_alive and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection lost: {exc}"))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Connection:
    """One keep-alive connection to ``host:port`` that reconnects after a failure."""

    __slots__ = ("host", "port", "proto", "loop")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.proto: _Protocol | None = None
        self.loop = asyncio.get_running_loop()

    async def connect(self) -> None:
        """Open (or re-open) the TCP connection."""
        _, proto = await self.loop.create_connection(_Protocol, self.host, self.port)
        self.proto = proto

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one pre-built request and return ``(status, body)``; raise HttpError."""
        proto = self.proto
        if proto is None or proto.closed or not proto.keep_alive:
            await self.connect()
            proto = self.proto
            assert proto is not None
        fut: asyncio.Future[tuple[int, bytes]] = self.loop.create_future()
        proto.waiter = fut
        proto.transport.write(raw)  # type: ignore[union-attr]
        return await fut

    def close(self) -> None:
        """Close the connection if it is open."""
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.proto = None
