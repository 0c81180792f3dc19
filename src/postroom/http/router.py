"""The router: which service and operation a request is for, and which codec speaks it.

- ``X-Amz-Target: <prefix>.<Operation>``: AWS JSON (SQS, CloudWatch Logs), by the model's
  ``targetPrefix``;
- a method and path matching a rest-json service's URI templates (Lambda's
  ``/2015-03-31/functions/...``): rest-json;
- anything else: the AWS Query protocol (form POST or GET), the service taken from the SigV4
  credential scope, else the queue-URL path (SQS), else the action name.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from postroom.http.request import Request, Response
from postroom.protocol.awsjson import decode_json, encode_json, encode_json_error
from postroom.protocol.context import RequestContext, make_context
from postroom.protocol.errors import AWSError, internal_error
from postroom.protocol.query import decode_query, encode_query_error, encode_query_response
from postroom.protocol.restjson import (
    Route,
    build_routes,
    decode_restjson,
    encode_restjson,
    encode_restjson_error,
    match_route,
)
from postroom.protocol.validate import check_required
from postroom.service import Service

log = logging.getLogger("postroom.http")

JSON_10 = b"application/x-amz-json-1.0"
JSON_11 = b"application/x-amz-json-1.1"
XML = b"text/xml"
_FORM = "application/x-www-form-urlencoded"
UNKNOWN_OPERATION = b"<UnknownOperationException/>"


class Router:
    """Routes decoded requests to services and encodes their answers."""

    def __init__(
        self, services: Sequence[Service], before_call: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        """``before_call(service, operation)``: awaited before each decoded call (the
        cross-node read-after-write wait, http/consistency.py)."""
        self.services = {svc.name: svc for svc in services}
        self._before_call = before_call
        self.by_target: dict[str, Service] = {}
        self.query_services: list[Service] = []
        # rest-json routes grouped by the first path segment, so matching stays cheap.
        self.rest_routes: dict[str, list[tuple[Route, Service]]] = {}
        for svc in services:
            meta = svc.model.metadata
            protocol = meta.get("protocol")
            if meta.get("targetPrefix"):
                self.by_target[meta["targetPrefix"]] = svc
            if protocol == "query" or "awsQueryCompatible" in meta:
                self.query_services.append(svc)
            if protocol == "rest-json":
                for route in build_routes(svc.model):
                    self.rest_routes.setdefault(route.first_segment, []).append((route, svc))
        for routes in self.rest_routes.values():
            routes.sort(key=lambda pair: -pair[0].literal_chars)
        # Query actions AWS serves without authentication (the model's "authtype": "none"):
        # STS AssumeRoleWithWebIdentity and AssumeRoleWithSAML.
        self.unsigned_actions = frozenset(
            name for svc in self.query_services for name, spec in svc.model.operations.items()
            if spec.get("authtype") == "none" or "smithy.api#noAuth" in (spec.get("auth") or [])
        )

    def rest_json_for(self, method: str, raw_path: str) -> bool:
        """Whether a rest-json service has routes under this path's first segment."""
        first = raw_path.lstrip("/").split("/", 1)[0]
        return first in self.rest_routes

    def error_response(self, request: Request, error: AWSError) -> Response:
        """``error`` in the protocol ``request`` speaks (for answers given before routing)."""
        target = request.headers.get(b"x-amz-target")
        if target is not None:
            svc = self.by_target.get(target.decode("latin-1").partition(".")[0])
            model = svc.model if svc is not None else None
            json11 = model is not None and model.metadata.get("jsonVersion") == "1.1"
            payload, extra = encode_json_error(model, error)
            return Response(error.status, JSON_11 if json11 else JSON_10, payload, extra)
        if self.rest_routes and self.rest_json_for(request.method, request.raw_path):
            encoded = encode_restjson_error(error)
            return Response(encoded.status, encoded.content_type, encoded.body, encoded.headers)
        svc = self._query_service(request.ctx.service, None, request.path)
        payload = encode_query_error(svc.model if svc is not None else None, error, request.ctx.request_id)
        return Response(error.status, XML, payload)

    def allowed_methods(self, request: Request) -> tuple[str, ...]:
        """The methods AWS accepts for the protocol ``request`` speaks: POST for AWS JSON,
        GET and POST for Query; rest-json routes name their own."""
        if b"x-amz-target" in request.headers:
            return ("POST",)
        if self.rest_routes and self.rest_json_for(request.method, request.raw_path):
            return ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
        return ("GET", "POST")

    async def _call(self, svc: Service, operation: str, params: dict[str, Any], ctx: RequestContext) -> Any:
        if self._before_call is not None:
            await self._before_call(svc.name, operation)
        return await svc.call(operation, params, ctx)

    async def handle(self, request: Request) -> Response:
        target = request.headers.get(b"x-amz-target")
        if target is not None:
            return await self._json(request, target.decode("latin-1"))
        if self.rest_routes and self.rest_json_for(request.method, request.raw_path):
            return await self._rest_json(request)
        return await self._query(request)

    # -- AWS JSON ----------------------------------------------------------------------------

    async def _json(self, request: Request, target: str) -> Response:
        prefix, _, operation = target.partition(".")
        svc = self.by_target.get(prefix)
        model = svc.model if svc is not None else None
        content_type = JSON_11 if model is not None and model.metadata.get("jsonVersion") == "1.1" else JSON_10
        try:
            if svc is None or operation not in svc.model.operations:
                raise AWSError(
                    "UnknownOperationException", f"Operation {target} is not supported.",
                    type_name="UnknownOperationException",
                )
            params = decode_json(svc.model, operation, request.body)
            check_required(svc.model, operation, params)
            result = await self._call(svc, operation, params, request.ctx)
            return Response(200, content_type, encode_json(result))
        except Exception as exc:  # every failure becomes an AWS-style answer
            error = as_aws_error(exc)
            payload, extra = encode_json_error(model, error)
            return Response(error.status, content_type, payload, extra)

    # -- rest-json ---------------------------------------------------------------------------

    async def _rest_json(self, request: Request) -> Response:
        query = parse_qs(request.query_string, keep_blank_values=True)
        first = request.raw_path.lstrip("/").split("/", 1)[0]
        candidates = self.rest_routes.get(first, [])
        svc: Service | None = None
        try:
            found = None
            for route, owner in candidates:
                if request.ctx.service is not None and owner.name != request.ctx.service:
                    continue
                found = match_route([route], request.method, request.raw_path, query)
                if found is not None:
                    svc = owner
                    break
            if found is None or svc is None:
                raise AWSError(
                    "UnknownOperationException", "Unknown operation", status=404,
                    type_name="UnknownOperationException",
                )
            route, labels = found
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.items()}
            params = decode_restjson(svc.model, route.operation, labels, query, headers, request.body)
            check_required(svc.model, route.operation, params)
            result = await self._call(svc, route.operation, params, request.ctx)
            encoded = encode_restjson(svc.model, route.operation, result)
        except Exception as exc:
            encoded = encode_restjson_error(as_aws_error(exc))
        return Response(encoded.status, encoded.content_type, encoded.body, encoded.headers)

    # -- AWS Query ---------------------------------------------------------------------------

    async def _query(self, request: Request) -> Response:
        svc: Service | None = None
        ctx = request.ctx
        try:
            params = _query_params(request)
            action = params.pop("Action", None)
            if ctx.service is None and "X-Amz-Credential" in params:
                ctx = make_context(
                    params["X-Amz-Credential"], ctx.base_url.split("://", 1)[1], request.scheme, ctx.request_id
                )
            for key in [k for k in params if k.startswith("X-Amz-")]:
                del params[key]
            version = params.pop("Version", None)
            svc = self._query_service(ctx.service, action, request.path)
            if not action:
                if svc is not None and "awsQueryCompatible" in svc.model.metadata:
                    # A JSON service behind AWS's query adapter (SQS) answers a bare element.
                    return Response(404, XML, UNKNOWN_OPERATION)
                raise AWSError("MissingAction", "Missing Action")
            if svc is None or action not in svc.model.operations or not _valid_at(svc, action, request.path):
                raise invalid_action(svc, action, version)
            model = svc.model
            decoded = decode_query(model, action, params)
            path = request.path
            if path.strip("/") and "QueueUrl" in (model.input_shape(action) or {}).get("members", {}):
                decoded.setdefault("QueueUrl", ctx.base_url + path)
            check_required(model, action, decoded)
            result = await self._call(svc, action, decoded, ctx)
            return Response(200, XML, encode_query_response(model, action, result, ctx.request_id))
        except Exception as exc:
            error = as_aws_error(exc)
            payload = encode_query_error(svc.model if svc is not None else None, error, ctx.request_id)
            return Response(error.status, XML, payload)

    def _query_service(self, scope_service: str | None, action: str | None, path: str) -> Service | None:
        if scope_service in self.services:
            return self.services[scope_service]
        if path.strip("/") and "sqs" in self.services:
            return self.services["sqs"]  # queue URLs are the only resource paths served
        for svc in self.query_services:
            if action in svc.model.operations:
                return svc
        return self.query_services[0] if self.query_services else None


def invalid_action(svc: Service | None, action: str, version: str | None) -> AWSError:
    """AWS's answer to an action the endpoint does not serve: SQS's wording, or that of the
    query-native services (SNS, IAM, STS)."""
    if svc is None or "awsQueryCompatible" in svc.model.metadata:
        return AWSError("InvalidAction", f"The action {action} is not valid for this endpoint.")
    version = version or svc.model.metadata.get("apiVersion", "")
    return AWSError("InvalidAction", f"Could not find operation {action} for version {version}")


def _valid_at(svc: Service, action: str, path: str) -> bool:
    """Whether ``action`` may be addressed to ``path``: a service may name actions it serves
    only at ``/`` (SQS: not at a queue URL)."""
    return not path.strip("/") or action not in getattr(svc, "root_only_actions", ())


def as_aws_error(exc: Exception) -> AWSError:
    if isinstance(exc, AWSError):
        # The traceback holds the failed call's frames, and with them the decoded request
        # (megabytes for a large body); the handler's frame holding the error closes a
        # cycle that only the garbage collector would free, at some later allocation.
        exc.__traceback__ = None
        return exc
    log.exception("unexpected error while handling a request")
    return internal_error()


def _query_params(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    try:
        if request.query_string:
            # The raw query arrives as latin-1 text; form data must be UTF-8.
            text = request.query_string.encode("latin-1").decode("utf-8")
            params.update(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
        content_type = request.header(b"content-type") or ""
        if request.body and (content_type.startswith(_FORM) or not content_type):
            params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise AWSError("MalformedQueryString", "The query string or form body is not valid UTF-8 form data.") from None
    return params


__all__ = ["Router", "as_aws_error"]
