"""RedrivePolicy and RedriveAllowPolicy: parsing and validation against existing queues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from postroom.protocol.errors import AWSError, invalid_parameter_value
from postroom.sqs import limits
from postroom.sqs.names import parse_queue_arn


@dataclass(frozen=True)
class RedrivePolicy:
    dead_letter_target_arn: str
    max_receive_count: int


def _invalid(attribute: str, value: str, reason: str) -> AWSError:
    return invalid_parameter_value(f"Value {value} for parameter {attribute} is invalid. Reason: {reason}")


def _load_map(attribute: str, value: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        raise _invalid(attribute, value, f"{attribute} must be a JSON map.")
    return doc


def parse_redrive_policy(value: str) -> RedrivePolicy:
    """Parse a RedrivePolicy; raise InvalidParameterValue with AWS's reasons."""
    doc = _load_map("RedrivePolicy", value)
    arn = doc.get("deadLetterTargetArn")
    if not isinstance(arn, str) or not arn:
        raise _invalid("RedrivePolicy", value, "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
    count = doc.get("maxReceiveCount")
    try:
        number = int(count) if not isinstance(count, bool) else None
    except (TypeError, ValueError):
        number = None
    low, high = limits.MAX_RECEIVE_COUNT
    if number is None or not low <= number <= high:
        raise _invalid(
            "RedrivePolicy", value,
            f"Invalid value for maxReceiveCount: {count}, valid values are from {low} to {high} both inclusive.",
        )
    if parse_queue_arn(arn) is None:
        raise _invalid("RedrivePolicy", value, "Invalid value for deadLetterTargetArn.")  # AWS's exact text
    return RedrivePolicy(arn, number)


def check_redrive_allow_policy(value: str) -> dict[str, Any]:
    """Validate a RedriveAllowPolicy document."""
    doc = _load_map("RedriveAllowPolicy", value)
    permission = doc.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise _invalid("RedriveAllowPolicy", value, "Invalid value for redrivePermission.")
    sources = doc.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not sources:
            raise _invalid("RedriveAllowPolicy", value, "sourceQueueArns must be specified when redrivePermission is byQueue.")
        if len(sources) > limits.MAX_REDRIVE_SOURCE_ARNS:
            raise _invalid("RedriveAllowPolicy", value, "Too many source queue ARNs, the maximum is 10.")
        for arn in sources:
            if not isinstance(arn, str) or parse_queue_arn(arn) is None:
                raise _invalid("RedriveAllowPolicy", value, f"Invalid source queue ARN: {arn}.")
    elif sources is not None:
        raise _invalid(
            "RedriveAllowPolicy", value,
            "sourceQueueArns may be specified only when redrivePermission is byQueue.",
        )
    return doc


def allows_source(allow_policy: str | None, source_arn: str) -> bool:
    """Whether a dead-letter queue's RedriveAllowPolicy lets ``source_arn`` use it."""
    if not allow_policy:
        return True
    doc = orjson.loads(allow_policy)
    permission = doc.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in doc.get("sourceQueueArns", [])
    return True
