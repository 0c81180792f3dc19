"""The Lambda Runtime API (2018-06-01) as one environment's process sees it.

One listener per environment, on its own 127.0.0.1 port, so the port says which environment
is calling. Paths, headers and status codes follow AWS's "Using the Lambda runtime API for
custom runtimes"; what an answer means for the invocation is the environment's business
(``RuntimeApiHandler``).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Protocol

import orjson
from aiohttp import web

PREFIX = "/2018-06-01/runtime/"
_INVOCATION = PREFIX + "invocation/"
_INIT_ERROR = PREFIX + "init/error"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
# AWS's limit for a synchronous response (6 MB); the runtime gets 413 above it.
MAX_RESPONSE_BYTES = 6_291_556

_ACCEPTED = orjson.dumps({"status": "OK"})


@dataclass(slots=True)
class NextEvent:
    """What ``GET .../invocation/next`` hands the runtime."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str | None
    client_context: str | None
    cognito_identity: str | None


class RuntimeApiHandler(Protocol):
    async def next_event(self) -> NextEvent: ...

    def refuse_post(self, request_id: str, target: str) -> tuple[int, str, str] | None:
        """Why a post to ``target`` ("InvocationResponse", "InvocationErrorResponse",
        "InitError") is refused now: (status, error type, message), or None to accept it."""
        ...

    def post_result(self, request_id: str, body: bytes, error_type: str | None,
                    is_error: bool) -> None: ...

    def post_init_error(self, body: bytes, error_type: str | None) -> None: ...

    def response_too_large(self, request_id: str) -> None: ...


_TOO_LARGE = f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."


def _json(status: int, error_type: str, message: str) -> web.Response:
    body = orjson.dumps({"errorMessage": message, "errorType": error_type})
    return web.Response(status=status, body=body, content_type="application/json")


def _accepted() -> web.Response:
    return web.Response(status=202, body=_ACCEPTED, content_type="application/json")


class RuntimeApiServer:
    """An aiohttp low-level server on a pre-bound socket, serving one environment."""

    def __init__(self, handler: RuntimeApiHandler) -> None:
        self._handler = handler
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._web = web.Server(self._handle, access_log=None)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._web, sock=self._sock)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._web.shutdown(0.1)
            self._server = None
        else:
            self._sock.close()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path, method = request.path, request.method
        if path.startswith(_INVOCATION):
            rest = path[len(_INVOCATION):]
            if rest == "next":
                if method != "GET":
                    return web.Response(status=405)
                return self._next_response(await self._handler.next_event())
            request_id, _, action = rest.rpartition("/")
            if action in ("response", "error") and request_id:
                if method != "POST":
                    return web.Response(status=405)
                return await self._post(request, request_id, action == "error")
        elif path == _INIT_ERROR:
            if method != "POST":
                return web.Response(status=405)
            refused = self._handler.refuse_post("", "InitError")
            if refused is not None:
                return _json(*refused)
            body = await request.content.read()
            self._handler.post_init_error(body, request.headers.get(ERROR_TYPE_HEADER))
            return _accepted()
        return _json(404, "NotFound", "Not Found")

    @staticmethod
    def _next_response(event: NextEvent) -> web.Response:
        headers = {
            "Lambda-Runtime-Aws-Request-Id": event.request_id,
            "Lambda-Runtime-Deadline-Ms": str(event.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": event.invoked_function_arn,
            "Content-Type": "application/json",
        }
        if event.trace_id:
            headers["Lambda-Runtime-Trace-Id"] = event.trace_id
        if event.client_context:
            headers["Lambda-Runtime-Client-Context"] = event.client_context
        if event.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = event.cognito_identity
        return web.Response(status=200, body=event.payload, headers=headers)

    async def _post(self, request: web.BaseRequest, request_id: str, is_error: bool) -> web.Response:
        # As AWS's runtime API does: the state is checked first, then the request id.
        target = "InvocationErrorResponse" if is_error else "InvocationResponse"
        refused = self._handler.refuse_post(request_id, target)
        if refused is not None:
            return _json(*refused)
        length = request.content_length
        if not is_error and length is not None and length > MAX_RESPONSE_BYTES:
            self._handler.response_too_large(request_id)
            return _json(413, "RequestEntityTooLarge", _TOO_LARGE)
        # Read the stream ourselves: BaseRequest.read() stops at aiohttp's 1 MiB default.
        body = await request.content.read()
        if not is_error and len(body) > MAX_RESPONSE_BYTES:
            self._handler.response_too_large(request_id)
            return _json(413, "RequestEntityTooLarge", _TOO_LARGE)
        self._handler.post_result(request_id, body, request.headers.get(ERROR_TYPE_HEADER), is_error)
        return _accepted()
