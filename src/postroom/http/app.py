"""The ASGI application: HTTP in, the request pipeline, HTTP out.

One endpoint serves every service and protocol. The app reads the body (bounded), answers
the few fixed routes (``/health``, services' extra GET paths) and hands everything else to
the pipeline, whose innermost handler is the router (decode, call, encode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from postroom import __version__
from postroom.http import admin
from postroom.http.pipeline import Handler, Step, build_pipeline
from postroom.http.request import Request, Response
from postroom.http.router import XML, Router
from postroom.ids import new_id
from postroom.protocol.context import make_context
from postroom.protocol.errors import AWSError
from postroom.protocol.query import encode_query_error
from postroom.service import RawRoute, Service

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # a 1 MiB message, percent-encoded, fits with room to spare
# rest-json uploads (a function's 50 MB zip, base64-encoded in JSON) need more room.
MAX_UPLOAD_BYTES = 70 * 1024 * 1024


class PostroomApp:
    """Reads requests, runs them through the pipeline, writes the answers."""

    def __init__(
        self, services: Sequence[Service], storage_description: str, steps: Sequence[Step] = (),
        routes: Mapping[str, RawRoute] | None = None, mounts: Mapping[str, Handler] | None = None,
        control: admin.Admin | None = None,
    ) -> None:
        """``routes``: extra GET paths (``/metrics``); ``mounts``: path prefixes under
        ``/_postroom/`` whose requests (any method) go to a handler of their own."""
        self.router = Router(services)
        self.control = control  # the /_postroom/ clock and reset endpoints
        self.storage_description = storage_description
        self.routes: dict[str, RawRoute] = {}
        for svc in services:
            self.routes.update(svc.http_routes())
        self.routes.update(routes or {})
        self.mounts = tuple((mounts or {}).items())
        self.handle: Handler = build_pipeline(steps, self.router.handle)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        request_id = new_id()
        raw_path = scope.get("raw_path")
        raw = raw_path.decode("latin-1") if raw_path else scope["path"]
        limit = MAX_UPLOAD_BYTES if self.router.rest_json_for(scope["method"], raw) else MAX_REQUEST_BYTES
        try:
            body = await _read_body(receive, limit)
        except AWSError as error:
            await _respond(send, Response(error.status, XML, encode_query_error(None, error, request_id)), request_id)
            return
        path = scope["path"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        if self.control is not None and path in admin.PATHS:
            await _respond(send, await self.control.handle(scope["method"], path, body), request_id)
            return
        if scope["method"] == "GET":
            if path == "/health":
                await _respond(send, self._health(), request_id)
                return
            route = self.routes.get(path)
            if route is not None:
                status, content_type, payload = await route(query_string)
                await _respond(send, Response(status, content_type, payload), request_id)
                return
        scheme = scope.get("scheme", "http")
        ctx = make_context(
            _text(headers.get(b"authorization")), _text(headers.get(b"host")) or "localhost", scheme, request_id
        )
        request = Request(scope["method"], path, raw, query_string, headers, body, scheme, ctx)
        if self.mounts and path.startswith("/_postroom/"):
            for prefix, mounted in self.mounts:
                if path == prefix or path.startswith(prefix + "/"):
                    await _respond(send, await mounted(request), request_id)
                    return
        await _respond(send, await self.handle(request), request_id)

    def _health(self) -> Response:
        doc = {
            "status": "ok",
            "version": __version__,
            "services": sorted(self.router.services),
            "storage": self.storage_description,
        }
        return Response(200, b"application/json", orjson.dumps(doc))


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise AWSError("RequestEntityTooLarge", f"Request body is larger than {limit} bytes.", status=413)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if len(chunks) != 1 else chunks[0]


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
