"""The AWS JSON 1.0/1.1 protocol: ``X-Amz-Target`` names the operation, bodies are JSON.

Input is type-checked against the operation's input shape (blobs arrive base64-encoded and
leave as bytes); output is plain dicts serialised with orjson.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from postroom.protocol.errors import AWSError
from postroom.protocol.model import ServiceModel

_TYPE_NAMES = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "list": list,
    "map": dict,
    "structure": dict,
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float, str),
}


def serialization_error(message: str) -> AWSError:
    # AWS's JSON front end answers type errors with coral's SerializationException.
    return AWSError("SerializationException", message, type_name="SerializationException")


class _Checker:
    def __init__(self, model: ServiceModel) -> None:
        self.shapes = model.shapes

    def value(self, shape: dict[str, Any], value: Any, path: str) -> Any:
        kind = shape["type"]
        if kind == "blob":
            if not isinstance(value, str):
                raise serialization_error(f"Expected a base64 string for {path}")
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise serialization_error(f"Invalid base64 value for {path}") from None
        expected = _TYPE_NAMES.get(kind, object)
        # bool is an int subclass in Python; JSON true is not a number.
        if not isinstance(value, expected) or (kind in ("integer", "long") and isinstance(value, bool)):
            raise serialization_error(f"Unexpected value type for {path}: expected {kind}")
        if kind == "structure":
            members = shape.get("members", {})
            out = {}
            for key, item in value.items():
                ref = members.get(key)
                if ref is None or item is None:
                    continue  # unknown members are ignored, as AWS's JSON front end does
                out[key] = self.value(self.shapes[ref["shape"]], item, f"{path}.{key}" if path else key)
            return out
        if kind == "list":
            member = self.shapes[shape["member"]["shape"]]
            return [self.value(member, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if kind == "map":
            key_shape = self.shapes[shape["key"]["shape"]]
            value_shape = self.shapes[shape["value"]["shape"]]
            return {
                self.value(key_shape, k, f"{path}.key"): self.value(value_shape, v, f"{path}.{k}")
                for k, v in value.items()
            }
        return value


def check_json_value(model: ServiceModel, shape: dict[str, Any], value: Any, path: str) -> Any:
    """Type-check a decoded JSON value against ``shape`` (blobs decoded from base64)."""
    return _Checker(model).value(shape, value, path)


def decode_json(model: ServiceModel, operation: str, body: bytes) -> dict[str, Any]:
    """Parse and type-check a JSON request body for ``operation``."""
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise serialization_error("Malformed JSON request body") from None
    if not isinstance(data, dict):
        raise serialization_error("The request body must be a JSON object")
    shape = model.input_shape(operation)
    if shape is None:
        return {}
    return _Checker(model).value(shape, data, "")


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray):
        return base64.b64encode(obj).decode()
    raise TypeError(type(obj).__name__)


def encode_json(result: dict[str, Any] | None) -> bytes:
    """Serialise a result dict (bytes become base64 strings)."""
    return orjson.dumps(result or {}, default=_default)


# Errors that are not one of the service's own shapes come from AWS's common front end
# (coral). Query-compatible services (SQS) give some of them another name in JSON than in
# the query protocol: ``x-amzn-query-error`` keeps the query code, ``__type`` the JSON name
# (recorded AWS answers: InvalidParameterValue / InvalidParameterValueException).
_CORAL = "com.amazon.coral.service#"
_QUERY_COMPATIBLE_NAMES = {
    "InvalidParameterValue": "InvalidParameterValueException",
    "MissingParameter": "MissingRequiredParameterException",
    "AccessDenied": "AccessDeniedException",
}


def json_error_type(model: ServiceModel | None, error: AWSError) -> str:
    """The ``__type`` of ``error``: the service's namespace for its modelled shapes, coral's
    for common errors."""
    if model is not None and error.type_name in model.errors:
        return f"com.amazonaws.{model.metadata.get('endpointPrefix', model.name)}#{error.type_name}"
    name = error.type_name
    if model is not None and "awsQueryCompatible" in model.metadata and name == error.code:
        name = _QUERY_COMPATIBLE_NAMES.get(name, name)
    return _CORAL + name


def encode_json_error(model: ServiceModel | None, error: AWSError) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Encode an error: ``__type`` and ``message``, plus ``x-amzn-query-error`` for services
    that are query-compatible (so SDKs surface the same codes as in the query protocol)."""
    headers: list[tuple[bytes, bytes]] = []
    if model is not None and "awsQueryCompatible" in model.metadata:
        headers.append((b"x-amzn-query-error", f"{error.code};{error.fault}".encode()))
    body = orjson.dumps({"__type": json_error_type(model, error), "message": error.message})
    return body, headers
