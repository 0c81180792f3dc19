"""Serves the console: its page and assets from package data, and its JSON API.

The API acts only through the services' public operations (``Service.call``, validated
like a wire request) and their typed internal APIs; it never reaches into a service.
Failures answer ``{"error": {"code", "message"}}`` with the operation's status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from postroom.clock import Clock
from postroom.console import endpoints
from postroom.console.operations import BadRequest, Operations
from postroom.http.request import Request, Response
from postroom.protocol.errors import AWSError
from postroom.service import Service

if TYPE_CHECKING:
    from postroom.services import Apis

log = logging.getLogger("postroom.console")

CONSOLE_PATH = "/_postroom/console"
_ASSETS = {
    "console.js": b"text/javascript; charset=utf-8",
    "console.css": b"text/css; charset=utf-8",
}
_JSON = b"application/json"


class Console:
    def __init__(self, services: Mapping[str, Service], apis: Apis, clock: Clock) -> None:
        self.ops = Operations(services, apis, clock)
        self._assets: dict[str, bytes] = {}

    async def handle(self, request: Request) -> Response:
        rest = request.path[len(CONSOLE_PATH):].strip("/")
        if rest in ("", "index.html") and request.method == "GET":
            return Response(200, b"text/html; charset=utf-8", self._asset("index.html"), _NO_CACHE)
        if rest.startswith("static/") and request.method == "GET":
            name = rest[len("static/"):]
            if name in _ASSETS:
                return Response(200, _ASSETS[name], self._asset(name), _NO_CACHE)
        if rest.startswith("api/"):
            return await self._api(rest[len("api/"):], request)
        return _error(404, "NotFound", f"No console page at {request.path}.")

    async def _api(self, name: str, request: Request) -> Response:
        endpoint = endpoints.ENDPOINTS.get((request.method, name))
        if endpoint is None:
            return _error(404, "NotFound", f"No console API {request.method} {name}.")
        try:
            args = _arguments(request)
            result = await endpoint(self.ops, args, request.ctx.base_url)
        except AWSError as error:
            return _error(error.status, error.code, error.message)
        except BadRequest as error:
            return _error(400, "ValidationError", str(error))
        except Exception:  # a bug: say so plainly instead of dropping the connection
            log.exception("console API %s failed", name)
            return _error(500, "InternalError", "The console API failed; the server log has the details.")
        return Response(200, _JSON, orjson.dumps(result, default=_default), _NO_CACHE)

    def _asset(self, name: str) -> bytes:
        cached = self._assets.get(name)
        if cached is None:
            cached = (resources.files("postroom.console") / "static" / name).read_bytes()
            self._assets[name] = cached
        return cached


_NO_CACHE = [(b"cache-control", b"no-store")]


def _arguments(request: Request) -> dict[str, Any]:
    """Query parameters (first value each), and for POSTs the JSON object body on top."""
    args: dict[str, Any] = {k: v[0] for k, v in parse_qs(request.query_string).items()}
    if request.method == "POST":
        # Only JSON: a browser must ask (CORS preflight, never granted) before sending it
        # from another site, so other pages cannot act through a user's console.
        content_type = (request.header(b"content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise BadRequest("Console actions take a JSON body (Content-Type: application/json).")
    if request.method == "POST" and request.body:
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        args.update(body)
    return args


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "__dataclass_fields__"):
        return {f: getattr(value, f) for f in value.__dataclass_fields__}
    raise TypeError(type(value).__name__)


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, _JSON, orjson.dumps({"error": {"code": code, "message": message}}), _NO_CACHE)
