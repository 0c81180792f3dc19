"""The AWS rest-json protocol (Lambda, and later API Gateway and the like).

The operation is chosen by HTTP method and path template (``/2015-03-31/functions/
{FunctionName}/invocations``); input members come from path labels, the query string,
headers and the JSON body (or a raw payload member), as the model's ``location`` traits say;
output members go to the status code, headers and the body the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from postroom.protocol.awsjson import check_json_value, encode_json, serialization_error
from postroom.protocol.errors import AWSError
from postroom.protocol.model import ServiceModel

_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation's method and path template, compiled for matching raw paths."""

    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]  # literal query parameters the URI requires
    operation: str
    literal_chars: int  # more literal text matches first (``/layers`` before ``/{Name}``)
    first_segment: str


def build_routes(model: ServiceModel) -> list[Route]:
    """Every operation's route, most specific first."""
    routes = []
    for name, op in model.operations.items():
        http = op["http"]
        uri, _, query = http["requestUri"].partition("?")
        labels: list[str] = []
        regex = "^"
        pos = 0
        for match in _LABEL.finditer(uri):
            regex += re.escape(uri[pos : match.start()])
            regex += "(.+)" if match.group(2) else "([^/]+)"
            labels.append(match.group(1))
            pos = match.end()
        regex += re.escape(uri[pos:]) + "/?$" if uri[pos:] else "/?$"
        literals = []
        for part in filter(None, query.split("&")):
            key, eq, value = part.partition("=")
            literals.append((key, value if eq else None))
        literal_chars = len(_LABEL.sub("", uri)) + len(query)
        first = uri.strip("/").split("/", 1)[0]
        routes.append(Route(
            http["method"], re.compile(regex), tuple(labels), tuple(literals), name, literal_chars,
            "" if first.startswith("{") else first,
        ))
    routes.sort(key=lambda r: -r.literal_chars)
    return routes


def match_route(
    routes: list[Route], method: str, raw_path: str, query: dict[str, list[str]]
) -> tuple[Route, dict[str, str]] | None:
    """The route a request matches and its decoded path labels."""
    for route in routes:
        if route.method != method:
            continue
        m = route.pattern.match(raw_path)
        if m is None:
            continue
        if any(key not in query or (value is not None and value not in query[key]) for key, value in route.query):
            continue
        return route, {label: unquote(value) for label, value in zip(route.labels, m.groups(), strict=True)}
    return None


def decode_restjson(
    model: ServiceModel, operation: str, labels: dict[str, str], query: dict[str, list[str]],
    headers: dict[str, str], body: bytes,
) -> dict[str, Any]:
    """Gather an operation's input from path labels, query string, headers and body."""
    shape = model.input_shape(operation)
    if shape is None:
        return {}
    out: dict[str, Any] = {}
    body_members: dict[str, Any] = {}
    payload = shape.get("payload")
    for member, ref in shape.get("members", {}).items():
        location = ref.get("location")
        name = ref.get("locationName", member)
        mshape = model.shapes[ref["shape"]]
        if location == "uri":
            if name in labels:
                out[member] = _scalar(mshape["type"], labels[name], name)
        elif location == "querystring":
            if mshape["type"] == "list":
                if name in query:
                    kind = model.shapes[mshape["member"]["shape"]]["type"]
                    out[member] = [_scalar(kind, v, name) for v in query[name]]
            elif mshape["type"] == "map":
                out[member] = {k: v[0] for k, v in query.items()}
            elif name in query:
                out[member] = _scalar(mshape["type"], query[name][0], name)
        elif location == "header":
            value = headers.get(name.lower())
            if value is not None:
                out[member] = _scalar(mshape["type"], value, name)
        elif location in ("headers", "statusCode"):
            continue
        elif member == payload:
            if mshape["type"] in ("blob", "string"):
                if body:
                    out[member] = body if mshape["type"] == "blob" else body.decode("utf-8", "replace")
            elif body:
                out[member] = check_json_value(model, mshape, _load_body(body), member)
        else:
            body_members[member] = ref
    if body_members and payload is None:
        data = _load_body(body) if body else {}
        if not isinstance(data, dict):
            raise serialization_error("The request body must be a JSON object")
        view = {"type": "structure", "members": body_members}
        out.update(check_json_value(model, view, data, ""))
    return out


def _load_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise serialization_error("Malformed JSON request body") from None


def _scalar(kind: str, raw: str, name: str) -> Any:
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise serialization_error(f"Expected an integer for {name}") from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise serialization_error(f"Expected a boolean for {name}")
        return raw.lower() == "true"
    if kind in ("double", "float"):
        try:
            return float(raw)
        except ValueError:
            raise serialization_error(f"Expected a number for {name}") from None
    return raw


@dataclass(slots=True)
class Encoded:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    content_type: bytes = b"application/json"


def encode_restjson(model: ServiceModel, operation: str, result: dict[str, Any] | None) -> Encoded:
    """Place an operation's result in the status code, headers and body."""
    op = model.operations[operation]
    status = op["http"].get("responseCode", 200)
    shape = model.output_shape(operation)
    result = result or {}
    if shape is None:
        return Encoded(status, [], b"")
    headers: list[tuple[bytes, bytes]] = []
    body_fields: dict[str, Any] = {}
    payload = shape.get("payload")
    raw: bytes | None = None
    for member, ref in shape.get("members", {}).items():
        value = result.get(member)
        if value is None:
            continue
        location = ref.get("location")
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers.append((ref.get("locationName", member).encode(), _header_text(value).encode()))
        elif member == payload:
            if isinstance(value, bytes | bytearray):
                raw = bytes(value)
            elif isinstance(value, str):
                raw = value.encode()
            else:
                raw = encode_json(value)
        else:
            body_fields[member] = value
    if payload is not None:
        return Encoded(status, headers, raw or b"")
    return Encoded(status, headers, encode_json(body_fields))


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_restjson_error(error: AWSError) -> Encoded:
    """AWS's rest-json error: the code in ``x-amzn-ErrorType``, the message and any extra
    members of the error shape in the JSON body (``Type`` says whose fault it was)."""
    doc: dict[str, Any] = {"Type": "User" if error.sender else "Server", "Message": error.message}
    headers = [(b"x-amzn-errortype", error.type_name.encode())]
    for key, value in (error.fields or {}).items():
        if key.startswith("header:"):
            headers.append((key[7:].encode(), _header_text(value).encode()))
        else:
            doc[key] = value
    return Encoded(error.status, headers, orjson.dumps(doc))


__all__ = ["AWSError", "Route", "build_routes", "decode_restjson", "encode_restjson", "encode_restjson_error", "match_route"]
