"""Message bodies and message attributes: validation, size and AWS's MD5 digests."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from postroom.protocol.errors import invalid_parameter_value
from postroom.sqs import limits
from postroom.sqs.errors import invalid_message_contents

# Characters SQS rejects in bodies and string values (everything outside the XML 1.0 set).
_INVALID_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_RESERVED_PREFIXES = ("aws.", "amazon.")
_NUMBER_DIGITS = 38

TRANSPORT_STRING = 1
TRANSPORT_BINARY = 2


def check_body(body: str) -> None:
    """Raise InvalidMessageContents if the body holds a character SQS does not allow."""
    bad = _INVALID_CHARS.search(body)
    if bad is not None:
        raise invalid_message_contents(bad.group())


def trace_attribute(header: str) -> dict[str, dict[str, Any]]:
    """The ``AWSTraceHeader`` system attribute carrying an X-Ray trace header."""
    return {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _base_type(data_type: str) -> str:
    return data_type.split(".", 1)[0]


def validate_attributes(attributes: dict[str, Any], *, system: bool = False) -> tuple[dict[str, dict[str, Any]], int]:
    """Validate message (or message system) attributes.

    Returns the attributes in wire form (``BinaryValue`` as base64 text) and their size
    as AWS counts it toward the message size (name + type + value bytes).
    """
    kind = "message system attribute" if system else "message attribute"
    if len(attributes) > limits.MAX_MESSAGE_ATTRIBUTES and not system:
        raise invalid_parameter_value(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10]."
        )
    out: dict[str, dict[str, Any]] = {}
    size = 0
    for name, value in attributes.items():
        if system:
            if name != "AWSTraceHeader":
                raise invalid_parameter_value(
                    f"Message system attribute name '{name}' is invalid."
                )
        else:
            _check_attribute_name(name)
        if not isinstance(value, dict):
            raise invalid_parameter_value(f"The {kind} '{name}' is invalid.")
        data_type = value.get("DataType")
        if not data_type:
            raise invalid_parameter_value(f"The {kind} '{name}' must contain a non-empty message attribute type.")
        base = _base_type(data_type)
        if base not in ("String", "Number", "Binary") or (system and data_type != "String"):
            raise invalid_parameter_value(
                f"The type of {kind} '{name}' is invalid. You must use only the following supported "
                "type prefixes: Binary, Number, String."
            )
        if len(data_type) > limits.MAX_DATA_TYPE:
            raise invalid_parameter_value(
                f"Message attribute type must be shorter than 256 bytes for attribute '{name}'."
            )
        entry: dict[str, Any] = {"DataType": data_type}
        if base == "Binary":
            raw = value.get("BinaryValue")
            if not raw:
                raise _empty_value(kind, name, data_type)
            if isinstance(raw, str):
                raw = base64.b64decode(raw)
            entry["BinaryValue"] = base64.b64encode(raw).decode()
            size += len(raw)
        else:
            text = value.get("StringValue")
            if text is None or text == "":
                raise _empty_value(kind, name, data_type)
            bad = _INVALID_CHARS.search(text)
            if bad is not None:
                raise invalid_parameter_value(
                    f"Message ({kind}) '{name}' contains invalid character '#x{ord(bad.group()):X}'."
                )
            if base == "Number":
                _check_number(name, text)
            entry["StringValue"] = text
            size += len(text.encode())
        size += len(name.encode()) + len(data_type.encode())
        out[name] = entry
    return out, size


def _empty_value(kind: str, name: str, data_type: str) -> Exception:
    # AWS's text (recorded answer): "Message (user) attribute 'X' must contain a non-empty
    # value of type 'String'."
    who = "system" if kind == "message system attribute" else "user"
    return invalid_parameter_value(
        f"Message ({who}) attribute '{name}' must contain a non-empty value of type '{_base_type(data_type)}'."
    )


def _check_attribute_name(name: str) -> None:
    if (
        not name
        or len(name) > limits.MAX_ATTRIBUTE_NAME
        or not _ATTRIBUTE_NAME.match(name)
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or name.lower().startswith(_RESERVED_PREFIXES)
    ):
        raise invalid_parameter_value(
            f"Message (user) attribute name '{name}' is invalid. Attribute names can contain "
            "alphanumeric characters, hyphens, underscores and periods; must not start with "
            "AWS. or Amazon., start or end with a period, or contain two periods in a row."
        )


def _check_number(name: str, text: str) -> None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise invalid_parameter_value(f"Can't cast the value of message (user) attribute '{name}' to a number.")
    digits = len(number.as_tuple().digits)
    if digits > _NUMBER_DIGITS or not Decimal("-1e128") <= number <= Decimal("1e126"):
        raise invalid_parameter_value(
            f"Value of message (user) attribute '{name}' is out of range: numbers may have 38 "
            "digits of precision and lie between 10^-128 and 10^+126."
        )


def md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str:
    """AWS's MD5OfMessageAttributes: per attribute, sorted by name, the length-prefixed
    name, data type, a transport byte (1 string, 2 binary) and the length-prefixed value."""
    parts: list[bytes] = []
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        for text in (name, data_type):
            raw = text.encode()
            parts.append(struct.pack(">I", len(raw)) + raw)
        if "BinaryValue" in value:
            raw = base64.b64decode(value["BinaryValue"])
            parts.append(struct.pack(">BI", TRANSPORT_BINARY, len(raw)) + raw)
        else:
            raw = value["StringValue"].encode()
            parts.append(struct.pack(">BI", TRANSPORT_STRING, len(raw)) + raw)
    return md5_hex(b"".join(parts))


def pack(attributes: dict[str, dict[str, Any]]) -> bytes | None:
    return orjson.dumps(attributes) if attributes else None


def unpack(blob: bytes | None) -> dict[str, dict[str, Any]]:
    return orjson.loads(blob) if blob else {}
