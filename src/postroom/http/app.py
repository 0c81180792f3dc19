"""The ASGI application: HTTP in, the request pipeline, HTTP out.

One endpoint serves every service and protocol. The app reads the body within the request
limits (size declared up front, pauses, memory held at once) and hands the request to the
pipeline, whose steps check host, CORS, method and authentication; its innermost handler
answers the fixed routes (``/health``, services' extra GET paths) or calls the router
(decode, call, encode).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import orjson

from postroom import __version__
from postroom.http import admin
from postroom.http.limits import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES, BodyBudget, HttpLimits
from postroom.http.pipeline import Handler, Step, build_pipeline
from postroom.http.request import Request, Response
from postroom.http.router import Router
from postroom.http.sigv4 import is_presigned
from postroom.ids import new_id
from postroom.protocol.context import RequestContext, make_context
from postroom.protocol.errors import AWSError
from postroom.service import RawRoute, Service

_CLOSE = (b"connection", b"close")


class BodyError(Exception):
    """The body could not be read within the limits: answer ``error`` and close."""

    def __init__(self, error: AWSError) -> None:
        super().__init__(error.message)
        self.error = error


class PostroomApp:
    """Reads requests, runs them through the pipeline, writes the answers."""

    def __init__(
        self, services: Sequence[Service], storage_description: str, steps: Sequence[Step] = (),
        limits: HttpLimits | None = None, router: Router | None = None,
        routes: Mapping[str, Callable[[str], Awaitable[tuple[int, bytes, bytes]]]] | None = None,
        mounts: Mapping[str, Handler] | None = None, control: admin.Admin | None = None,
    ) -> None:
        """``routes``: extra GET paths (``/metrics``); ``mounts``: path prefixes under
        ``/_postroom/`` whose requests (any method) go to a handler of their own, after
        the pipeline's steps."""
        self.router = router or Router(services)
        self.control = control  # the /_postroom/ clock and reset endpoints
        self.storage_description = storage_description
        self.limits = limits or HttpLimits()
        self.budget = BodyBudget(self.limits.body_memory)
        self.routes: dict[str, RawRoute] = {}
        for svc in services:
            self.routes.update(svc.http_routes())
        for path, route in (routes or {}).items():
            self.routes[path] = _ignoring_caller(route)
        self.mounts = tuple((mounts or {}).items())
        self.handle: Handler = build_pipeline(steps, self._endpoint)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        request_id = new_id()
        raw_path = scope.get("raw_path")
        raw = raw_path.decode("latin-1") if raw_path else scope["path"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        scheme = scope.get("scheme", "http")
        host = _text(headers.get(b"host")) or "localhost"
        credential = _text(headers.get(b"authorization"))
        if credential is None and is_presigned(query_string):
            credential = _presigned_credential(query_string)
        ctx = make_context(credential, host, scheme, request_id)
        ctx.trace_header = _text(headers.get(b"x-amzn-trace-id"))
        request = Request(scope["method"], scope["path"], raw, query_string, headers, b"", scheme, ctx)
        limit = MAX_UPLOAD_BYTES if self.router.rest_json_for(scope["method"], raw) else MAX_REQUEST_BYTES
        reserved = 0
        try:
            reserved = await self._reserve(headers, limit)
            if reserved:
                request.body = await self._receive_body(receive, limit)
        except BodyError as exc:
            self.budget.release(reserved)
            response = self.router.error_response(request, exc.error)
            response.headers.append(_CLOSE)  # the rest of the body is never read
            await _respond(send, response, request_id)
            return
        try:
            await _respond(send, await self.handle(request), request_id)
        finally:
            self.budget.release(reserved)  # the body is held until the answer is sent

    async def _endpoint(self, request: Request) -> Response:
        if self.control is not None and request.path in admin.PATHS:
            return await self.control.handle(request.method, request.path, request.body)
        if request.method == "GET":
            if request.path == "/health":
                return self._health()
            route = self.routes.get(request.path)
            if route is not None:
                status, content_type, payload = await route(request.query_string, request.ctx)
                return Response(status, content_type, payload)
        if self.mounts and request.path.startswith("/_postroom/"):
            for prefix, mounted in self.mounts:
                if request.path == prefix or request.path.startswith(prefix + "/"):
                    return await mounted(request)
        return await self.router.handle(request)

    def _health(self) -> Response:
        doc = {
            "status": "ok",
            "version": __version__,
            "services": sorted(self.router.services),
            "storage": self.storage_description,
        }
        return Response(200, b"application/json", orjson.dumps(doc))

    async def _reserve(self, headers: dict[bytes, bytes], limit: int) -> int:
        """Bytes reserved from the memory budget for this request's body (0: it has none);
        a body declared larger than ``limit`` is refused before any of it is read."""
        declared = _content_length(headers.get(b"content-length"))
        if declared is None and b"transfer-encoding" not in headers:
            return 0  # HTTP/1.1: no length and not chunked means no body
        if declared is not None and declared > limit:
            raise BodyError(_too_large(limit))
        size = declared if declared is not None else limit  # chunked: room for the largest
        if size and not await self.budget.reserve(size, self.limits.body_timeout):
            raise BodyError(AWSError(
                "ServiceUnavailable", "Too many large requests are in progress; retry shortly.",
                status=503, sender=False,
            ))
        return min(size, self.budget.capacity)

    async def _receive_body(self, receive: Any, limit: int) -> bytes:
        buffer = bytearray()
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.limits.body_timeout)
            except TimeoutError:
                raise BodyError(AWSError(
                    "RequestTimeout",
                    "Your socket connection to the server was not read from or written to within "
                    "the timeout period. Idle connections will be closed.",
                )) from None
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                if len(buffer) + len(chunk) > limit:
                    raise BodyError(_too_large(limit))
                if not buffer and not message.get("more_body", False):
                    return chunk  # the whole body in one piece: no copy
                buffer += chunk
            if not message.get("more_body", False):
                break
        return bytes(buffer)


def _ignoring_caller(route: Callable[[str], Awaitable[tuple[int, bytes, bytes]]]) -> RawRoute:
    async def call(query: str, ctx: RequestContext) -> tuple[int, bytes, bytes]:
        return await route(query)

    return call


def _too_large(limit: int) -> AWSError:
    return AWSError("RequestEntityTooLarge", f"Request body is larger than {limit} bytes.", status=413)


def _content_length(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _presigned_credential(query: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "X-Amz-Credential":
            return unquote(value)
    return None


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _respond(send: Any, response: Response, request_id: str) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    if response.headers:
        headers.extend(response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
