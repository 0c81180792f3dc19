"""The ASGI application: HTTP in, protocol decode, service call, protocol encode, HTTP out.

One endpoint serves every service and both wire protocols: a request with
``X-Amz-Target`` is AWS JSON; anything else is the AWS Query protocol (form POST, or GET
with query parameters), routed by the SigV4 credential scope, the queue-URL path or the
action name.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson

from postroom import __version__
from postroom.ids import new_id
from postroom.protocol.awsjson import decode_json, encode_json, encode_json_error
from postroom.protocol.context import RequestContext, make_context
from postroom.protocol.errors import AWSError, internal_error
from postroom.protocol.query import decode_query, encode_query_error, encode_query_response
from postroom.protocol.validate import check_required

log = logging.getLogger("postroom.http")

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # a 1 MiB message, percent-encoded, fits with room to spare
_JSON = b"application/x-amz-json-1.0"
_XML = b"text/xml"
_FORM = "application/x-www-form-urlencoded"


class Service(Protocol):
    """What the app needs of a service (SqsService, SnsService). A service may also offer
    ``http_routes()``: extra GET paths it serves (certificates, inspection pages)."""

    name: str
    json_target_prefix: str
    model: Any

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None: ...


class PostroomApp:
    """Routes requests to services and encodes their answers."""

    def __init__(self, services: list[Service], storage_description: str) -> None:
        self.services = {svc.name: svc for svc in services}
        self.by_target = {svc.model.metadata["targetPrefix"]: svc for svc in services if svc.model.metadata.get("targetPrefix")}
        self.storage_description = storage_description
        self.routes = {}
        for svc in services:
            routes = getattr(svc, "http_routes", None)
            if routes is not None:
                self.routes.update(routes())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        request_id = new_id()
        try:
            body = await _read_body(receive)
        except AWSError as error:
            await _respond(send, error.status, _XML, encode_query_error(None, error, request_id), request_id)
            return
        path = scope["path"]
        if scope["method"] == "GET":
            if path == "/health":
                await self._health(send, request_id)
                return
            route = self.routes.get(path)
            if route is not None:
                status, content_type, payload = await route(scope.get("query_string", b"").decode("latin-1"))
                await _respond(send, status, content_type, payload, request_id)
                return
        ctx = make_context(
            _text(headers.get(b"authorization")),
            _text(headers.get(b"host")) or "localhost",
            scope.get("scheme", "http"),
            request_id,
        )
        target = headers.get(b"x-amz-target")
        if target is not None:
            await self._json(send, target.decode("latin-1"), body, ctx)
        else:
            await self._query(send, scope, headers, body, path, ctx)

    async def _health(self, send: Any, request_id: str) -> None:
        doc = {
            "status": "ok",
            "version": __version__,
            "services": sorted(self.services),
            "storage": self.storage_description,
        }
        await _respond(send, 200, b"application/json", orjson.dumps(doc), request_id)

    async def _json(self, send: Any, target: str, body: bytes, ctx: RequestContext) -> None:
        prefix, _, operation = target.partition(".")
        svc = self.by_target.get(prefix)
        model = svc.model if svc is not None else None
        try:
            if svc is None or operation not in model.operations:
                raise AWSError(
                    "UnknownOperationException", f"Operation {target} is not supported.",
                    type_name="UnknownOperationException",
                )
            params = decode_json(model, operation, body)
            check_required(model, operation, params)
            result = await svc.call(operation, params, ctx)
            await _respond(send, 200, _JSON, encode_json(result), ctx.request_id)
        except Exception as exc:  # every failure becomes an AWS-style answer
            error = _as_aws_error(exc)
            payload, extra = encode_json_error(model, error)
            if error.type_name == "UnknownOperationException":
                payload = orjson.dumps({"__type": "com.amazon.coral.service#UnknownOperationException", "message": error.message})
            await _respond(send, error.status, _JSON, payload, ctx.request_id, extra)

    async def _query(
        self, send: Any, scope: dict[str, Any], headers: dict[bytes, bytes], body: bytes, path: str,
        ctx: RequestContext,
    ) -> None:
        svc = None
        try:
            params = _query_params(scope, headers, body)
            action = params.pop("Action", None)
            params.pop("Version", None)
            if ctx.service is None and "X-Amz-Credential" in params:
                ctx = make_context(params["X-Amz-Credential"], ctx.base_url.split("://", 1)[1], scope.get("scheme", "http"), ctx.request_id)
            for key in [k for k in params if k.startswith("X-Amz-")]:
                del params[key]
            svc = self._query_service(ctx, action, path)
            if not action:
                raise AWSError("MissingAction", "The request must contain the parameter Action.")
            if svc is None or action not in svc.model.operations:
                raise AWSError("InvalidAction", f"The action {action} is not valid for this endpoint.")
            model = svc.model
            decoded = decode_query(model, action, params)
            if path.strip("/") and "QueueUrl" in (model.input_shape(action) or {}).get("members", {}):
                decoded.setdefault("QueueUrl", ctx.base_url + path)
            check_required(model, action, decoded)
            result = await svc.call(action, decoded, ctx)
            await _respond(send, 200, _XML, encode_query_response(model, action, result, ctx.request_id), ctx.request_id)
        except Exception as exc:
            error = _as_aws_error(exc)
            payload = encode_query_error(svc.model if svc is not None else None, error, ctx.request_id)
            await _respond(send, error.status, _XML, payload, ctx.request_id)

    def _query_service(self, ctx: RequestContext, action: str | None, path: str) -> Any:
        if ctx.service in self.services:
            return self.services[ctx.service]
        if path.strip("/") and "sqs" in self.services:
            return self.services["sqs"]  # queue URLs are the only resource paths served
        for svc in self.services.values():
            if action in svc.model.operations:
                return svc
        return next(iter(self.services.values()), None)


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _as_aws_error(exc: Exception) -> AWSError:
    if isinstance(exc, AWSError):
        return exc
    log.exception("unexpected error while handling a request")
    return internal_error()


def _query_params(scope: dict[str, Any], headers: dict[bytes, bytes], body: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    try:
        if scope.get("query_string"):
            params.update(parse_qsl(scope["query_string"].decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        content_type = _text(headers.get(b"content-type")) or ""
        if body and (content_type.startswith(_FORM) or not content_type):
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise AWSError("MalformedQueryString", "The query string or form body is not valid UTF-8 form data.") from None
    return params


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_REQUEST_BYTES:
                raise AWSError("RequestEntityTooLarge", f"Request body is larger than {MAX_REQUEST_BYTES} bytes.", status=413)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if len(chunks) != 1 else chunks[0]


async def _respond(
    send: Any, status: int, content_type: bytes, payload: bytes, request_id: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(payload)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
