"""uvicorn's httptools protocol with the timeouts it lacks and AWS-style parse errors.

uvicorn closes a keep-alive connection only after a response; a connection that never sends
a request, or sends its headers a byte at a time (slowloris), is held forever. This class
arms a timer for each phase: idle (no request in progress) and headers (first byte to end
of headers). Body stalls are timed by the app, which reads the body. A request httptools
cannot parse gets an AWS error document instead of uvicorn's plain-text 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from postroom.http.limits import HttpLimits
from postroom.ids import new_id
from postroom.protocol.errors import AWSError
from postroom.protocol.query import encode_query_error


def malformed_request_body(headers: list[tuple[bytes, bytes]] | None) -> tuple[bytes, bytes]:
    """(content type, body) for a request httptools could not parse, in the protocol its
    headers name when they got that far (AWS JSON), else the query protocol's XML."""
    error = AWSError("MalformedHttpRequestException", "The HTTP request could not be parsed.")
    if headers and any(name == b"x-amz-target" for name, _ in headers):
        return b"application/x-amz-json-1.0", (
            b'{"__type":"com.amazon.coral.service#MalformedHttpRequestException",'
            b'"message":"The HTTP request could not be parsed."}'
        )
    return b"text/xml", encode_query_error(None, error, new_id())


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI answer for requests over the connection limit: 503 ServiceUnavailable."""
    error = AWSError("ServiceUnavailable", "The server is handling too many connections; retry shortly.",
                     status=503, sender=False)
    json = any(name == b"x-amz-target" for name, _ in scope.get("headers", ()))
    if json:
        content_type = b"application/x-amz-json-1.0"
        body = b'{"__type":"com.amazon.coral.service#ServiceUnavailableException","message":"' + \
            error.message.encode() + b'"}'
    else:
        content_type, body = b"text/xml", encode_query_error(None, error, new_id())
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


def protocol_class(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """An httptools protocol class bound to ``limits`` (uvicorn takes a class)."""

    class PostroomHttpProtocol(HttpToolsProtocol):
        _phase_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._phase_timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._phase_timer is not None:
                self._phase_timer.cancel()
                self._phase_timer = None

        def _expired(self) -> None:
            self._phase_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(limits.idle_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes = 0
            self._arm(limits.header_timeout)

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value))
            super().on_header(name, value)

        def _count_head(self, size: int) -> None:
            # httptools keeps no limit of its own: without one a client could send headers
            # until memory runs out. Raising here makes the parser fail: an AWS-style 400.
            self._head_bytes += size
            if self._head_bytes > limits.max_header_bytes:
                raise ValueError("request line and headers too large")

        def on_headers_complete(self) -> None:
            self._disarm()
            # Over the connection limit: answer 503 as AWS does when busy (uvicorn's own
            # limit answers plain text), without running the request.
            if len(self.connections) > limits.max_connections or len(self.tasks) >= limits.max_connections:
                app, self.app = self.app, _busy
                try:
                    super().on_headers_complete()
                finally:
                    self.app = app
                return
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            self._disarm()
            content_type, body = malformed_request_body(self.headers)
            self.transport.write(
                b"".join([
                    STATUS_LINE[400],
                    b"content-type: " + content_type + b"\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ])
            )
            self.transport.close()

    return PostroomHttpProtocol
