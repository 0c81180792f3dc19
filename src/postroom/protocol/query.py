"""The AWS Query protocol: form/query-string parameters in, XML out.

Decoding and encoding both follow the service model's serialization traits
(``locationName``, ``flattened``, result wrappers) exactly as botocore applies them, so any
client that botocore's serializer can talk to is understood here.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from postroom.protocol.errors import AWSError, invalid_parameter_value
from postroom.protocol.model import ServiceModel

_XML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#xD;"}
)

# Characters XML 1.0 cannot carry, even escaped: echoed input (an Action of "X\0", a
# message body) has them replaced so every answer stays well-formed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"


def xml_escape(text: str) -> str:
    """``text`` as XML character data: markup escaped, impossible characters replaced."""
    return _NOT_XML.sub(REPLACEMENT, text).translate(_XML_ESCAPES)


def _ref_name(ref: dict[str, Any], shape: dict[str, Any]) -> str | None:
    # A reference's traits override its shape's (botocore merges them the same way).
    return ref.get("locationName") or shape.get("locationName")


def _ref_flattened(ref: dict[str, Any], shape: dict[str, Any]) -> bool:
    return bool(ref.get("flattened", shape.get("flattened", False)))


class _Decoder:
    """Turns flat ``Name.1.Key`` parameters into the nested dict the model describes."""

    def __init__(self, model: ServiceModel, params: dict[str, str]) -> None:
        self.shapes = model.shapes
        self.params = params
        self.prefixes: set[str] = set()
        for key in params:
            parts = key.split(".")
            for i in range(1, len(parts) + 1):
                self.prefixes.add(".".join(parts[:i]))

    def structure(self, shape: dict[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for member, ref in shape.get("members", {}).items():
            mshape = self.shapes[ref["shape"]]
            name = _ref_name(ref, mshape) or member
            if mshape["type"] == "list" and _ref_flattened(ref, mshape):
                # botocore names a flattened list after its member's locationName.
                member_name = _ref_name(shape_ref := mshape["member"], self.shapes[shape_ref["shape"]])
                name = member_name or name
            key = f"{prefix}.{name}" if prefix else name
            if key not in self.prefixes:
                if mshape["type"] == "list" and self._empty_list_marker(prefix, ref, mshape, member):
                    out[member] = []
                continue
            out[member] = self.value(ref, mshape, key)
        return out

    def _empty_list_marker(self, prefix: str, ref: dict[str, Any], shape: dict[str, Any], member: str) -> bool:
        # botocore sends an empty list as one empty parameter under the member's own name.
        name = _ref_name(ref, shape) or member
        return self.params.get(f"{prefix}.{name}" if prefix else name) == ""

    def value(self, ref: dict[str, Any], shape: dict[str, Any], key: str) -> Any:
        kind = shape["type"]
        if kind == "structure":
            return self.structure(shape, key)
        if kind == "list":
            return self.list(ref, shape, key)
        if kind == "map":
            return self.map(ref, shape, key)
        return self.scalar(kind, key)

    def list(self, ref: dict[str, Any], shape: dict[str, Any], key: str) -> list[Any]:
        member_ref = shape["member"]
        member_shape = self.shapes[member_ref["shape"]]
        if _ref_flattened(ref, shape):
            base = key
        else:
            base = f"{key}.{_ref_name(member_ref, member_shape) or 'member'}"
        items = []
        i = 1
        while f"{base}.{i}" in self.prefixes:
            items.append(self.value(member_ref, member_shape, f"{base}.{i}"))
            i += 1
        return items

    def map(self, ref: dict[str, Any], shape: dict[str, Any], key: str) -> dict[str, Any]:
        base = key if _ref_flattened(ref, shape) else f"{key}.entry"
        key_ref, value_ref = shape["key"], shape["value"]
        key_shape, value_shape = self.shapes[key_ref["shape"]], self.shapes[value_ref["shape"]]
        key_suffix = _ref_name(key_ref, key_shape) or "key"
        value_suffix = _ref_name(value_ref, value_shape) or "value"
        out: dict[str, Any] = {}
        i = 1
        while f"{base}.{i}" in self.prefixes:
            k = self.params.get(f"{base}.{i}.{key_suffix}")
            if k is None:
                raise invalid_parameter_value(f"The request must contain the parameter {base}.{i}.{key_suffix}.")
            vkey = f"{base}.{i}.{value_suffix}"
            out[k] = self.value(value_ref, value_shape, vkey) if vkey in self.prefixes else None
            i += 1
        return out

    def scalar(self, kind: str, key: str) -> Any:
        raw = self.params.get(key)
        if raw is None:
            return None
        if kind in ("integer", "long"):
            try:
                return int(raw)
            except ValueError:
                raise invalid_parameter_value(
                    f"Value {raw} for parameter {key} is invalid. Reason: must be an integer."
                ) from None
        if kind == "boolean":
            low = raw.lower()
            if low not in ("true", "false"):
                raise invalid_parameter_value(
                    f"Value {raw} for parameter {key} is invalid. Reason: must be a boolean."
                )
            return low == "true"
        if kind == "blob":
            try:
                return base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise invalid_parameter_value(
                    f"Value for parameter {key} is invalid. Reason: not valid base64."
                ) from None
        if kind in ("double", "float"):
            try:
                return float(raw)
            except ValueError:
                raise invalid_parameter_value(f"Value {raw} for parameter {key} is invalid.") from None
        return raw


def decode_query(model: ServiceModel, operation: str, params: dict[str, str]) -> dict[str, Any]:
    """Decode an operation's parameters (``Action`` and ``Version`` already removed)."""
    shape = model.input_shape(operation)
    if shape is None:
        return {}
    return _Decoder(model, params).structure(shape, "")


def _xml_text(value: Any, kind: str) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        return xml_escape(str(value))  # already base64 text
    return xml_escape(str(value))


class _Encoder:
    def __init__(self, model: ServiceModel) -> None:
        self.shapes = model.shapes
        self.out: list[str] = []

    def structure(self, shape: dict[str, Any], value: dict[str, Any]) -> None:
        for member, ref in shape.get("members", {}).items():
            item = value.get(member)
            if item is None:
                continue
            self.member(member, ref, item)

    def member(self, member: str, ref: dict[str, Any], item: Any) -> None:
        shape = self.shapes[ref["shape"]]
        kind = shape["type"]
        name = _ref_name(ref, shape) or member
        out = self.out
        if kind == "list":
            member_ref = shape["member"]
            member_shape = self.shapes[member_ref["shape"]]
            if _ref_flattened(ref, shape):
                tag = _ref_name(member_ref, member_shape) or name
                for element in item:
                    self.member(tag, {"shape": member_ref["shape"], "locationName": tag}, element)
            else:
                tag = _ref_name(member_ref, member_shape) or "member"
                out.append(f"<{name}>")
                for element in item:
                    self.member(tag, {"shape": member_ref["shape"], "locationName": tag}, element)
                out.append(f"</{name}>")
        elif kind == "map":
            key_ref, value_ref = shape["key"], shape["value"]
            key_tag = _ref_name(key_ref, self.shapes[key_ref["shape"]]) or "key"
            value_tag = _ref_name(value_ref, self.shapes[value_ref["shape"]]) or "value"
            value_plain = {"shape": value_ref["shape"], "locationName": value_tag}
            flattened = _ref_flattened(ref, shape)
            if not flattened:
                out.append(f"<{name}>")
            for k, v in item.items():
                out.append(f"<{name}>" if flattened else "<entry>")
                out.append(f"<{key_tag}>{_xml_text(k, 'string')}</{key_tag}>")
                self.member(value_tag, value_plain, v)
                out.append(f"</{name}>" if flattened else "</entry>")
            if not flattened:
                out.append(f"</{name}>")
        elif kind == "structure":
            out.append(f"<{name}>")
            self.structure(shape, item)
            out.append(f"</{name}>")
        else:
            out.append(f"<{name}>{_xml_text(item, kind)}</{name}>")


def encode_query_response(
    model: ServiceModel, operation: str, result: dict[str, Any] | None, request_id: str
) -> bytes:
    """Encode an operation's result as the query protocol's XML document."""
    ns = model.xml_namespace
    head = f'<?xml version="1.0"?><{operation}Response xmlns="{ns}">'
    tail = (
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    wrapper = model.result_wrappers.get(operation)
    shape = model.output_shape(operation)
    if not wrapper or shape is None:
        return (head + tail).encode()
    encoder = _Encoder(model)
    encoder.structure(shape, result or {})
    return (head + f"<{wrapper}>" + "".join(encoder.out) + f"</{wrapper}>" + tail).encode()


def encode_query_error(model: ServiceModel | None, error: AWSError, request_id: str) -> bytes:
    """Encode an error as the query protocol's ``ErrorResponse`` document, with the empty
    ``Detail`` element only for the services whose AWS answers carry one (SQS, not SNS)."""
    ns = model.xml_namespace if model else ""
    xmlns = f' xmlns="{ns}"' if ns else ""
    detail = "<Detail/>" if model is not None and model.query_error_detail else ""
    return (
        f'<?xml version="1.0"?><ErrorResponse{xmlns}><Error><Type>{error.fault}</Type>'
        f"<Code>{_xml_text(error.code, 'string')}</Code>"
        f"<Message>{_xml_text(error.query_message, 'string')}</Message>{detail}</Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


__all__ = ["decode_query", "encode_query_response", "encode_query_error", "AWSError"]
