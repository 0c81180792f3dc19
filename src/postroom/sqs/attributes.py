"""Queue attributes: which exist, which are settable, their defaults and validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from postroom.sqs import limits
from postroom.sqs.errors import (
    invalid_attribute_name,
    invalid_attribute_name_message,
    invalid_attribute_value,
    invalid_attribute_value_message,
)

COMPUTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)


def _int_range(low: int, high: int) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid_attribute_value(name) from None
        if not low <= number <= high:
            raise invalid_attribute_value(name)
        return str(number)

    return check


def _boolean(name: str, value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise invalid_attribute_value(name)
    return value.lower()


def _json_document(name: str, value: str) -> str:
    if value == "":
        return value
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        raise invalid_attribute_value(name) from None
    return value


def _any_text(name: str, value: str) -> str:
    return value


def _one_of(*choices: str) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if value not in choices:
            raise invalid_attribute_value(name)
        return value

    return check


@dataclass(frozen=True)
class AttributeSpec:
    check: Callable[[str, str], str]
    default: str | None = None  # shown by GetQueueAttributes when never set
    fifo_only: bool = False
    create_only: bool = False


SETTABLE: dict[str, AttributeSpec] = {
    "DelaySeconds": AttributeSpec(_int_range(*limits.DELAY_SECONDS[:2]), str(limits.DELAY_SECONDS[2])),
    "MaximumMessageSize": AttributeSpec(
        _int_range(*limits.MAXIMUM_MESSAGE_SIZE[:2]), str(limits.MAXIMUM_MESSAGE_SIZE[2])
    ),
    "MessageRetentionPeriod": AttributeSpec(
        _int_range(*limits.MESSAGE_RETENTION[:2]), str(limits.MESSAGE_RETENTION[2])
    ),
    "ReceiveMessageWaitTimeSeconds": AttributeSpec(
        _int_range(*limits.RECEIVE_WAIT_SECONDS[:2]), str(limits.RECEIVE_WAIT_SECONDS[2])
    ),
    "VisibilityTimeout": AttributeSpec(
        _int_range(*limits.VISIBILITY_TIMEOUT[:2]), str(limits.VISIBILITY_TIMEOUT[2])
    ),
    "Policy": AttributeSpec(_json_document),
    # RedrivePolicy and RedriveAllowPolicy get their full checks in sqs.redrive.
    "RedrivePolicy": AttributeSpec(_json_document),
    "RedriveAllowPolicy": AttributeSpec(_json_document),
    "KmsMasterKeyId": AttributeSpec(_any_text),
    "KmsDataKeyReusePeriodSeconds": AttributeSpec(
        _int_range(*limits.KMS_DATA_KEY_REUSE[:2]), str(limits.KMS_DATA_KEY_REUSE[2])
    ),
    "SqsManagedSseEnabled": AttributeSpec(_boolean, "true"),
    "FifoQueue": AttributeSpec(_boolean, create_only=True),
    "ContentBasedDeduplication": AttributeSpec(_boolean, fifo_only=True),
    "DeduplicationScope": AttributeSpec(_one_of("messageGroup", "queue"), fifo_only=True),
    "FifoThroughputLimit": AttributeSpec(_one_of("perQueue", "perMessageGroupId"), fifo_only=True),
}

# Shown for standard queues even when never set (KmsDataKeyReusePeriodSeconds only with KMS).
STANDARD_DEFAULTS = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
)
FIFO_DEFAULTS = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
ALL_NAMES = frozenset(SETTABLE) | frozenset(COMPUTED)


def validate(attributes: dict[str, str], *, creating: bool, fifo: bool) -> dict[str, str]:
    """Check names and values; return the normalised attributes to store."""
    out: dict[str, str] = {}
    for name, value in attributes.items():
        spec = SETTABLE.get(name)
        if name == "FifoQueue":
            _check_fifo_flag(value, creating=creating, fifo=fifo)
            continue
        if spec is None or (spec.create_only and not creating):
            raise invalid_attribute_name(name)
        if value is None:
            raise invalid_attribute_value(name)
        if spec.fifo_only and not fifo:
            raise invalid_attribute_name(name)
        out[name] = spec.check(name, str(value))
    if fifo and creating:
        out["FifoQueue"] = "true"
    if out.get("SqsManagedSseEnabled") == "true" and out.get("KmsMasterKeyId"):
        raise invalid_attribute_name_message(  # AWS's code and text (recorded answer)
            "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE."
        )
    return out


def _check_fifo_flag(value: object, *, creating: bool, fifo: bool) -> None:
    """AWS knows FifoQueue only on FIFO queues: a standard queue (even with "false") gets
    InvalidAttributeName; a FIFO queue may repeat "true" but never turn it off."""
    if not fifo:
        raise invalid_attribute_name("FifoQueue")
    if str(value).lower() != "true":
        raise invalid_attribute_value_message(  # AWS's text (recorded answer)
            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."
        )


def check_throughput(stored: dict[str, str]) -> None:
    """High-throughput FIFO: per-group throughput needs per-group deduplication."""
    if (
        stored.get("FifoThroughputLimit") == "perMessageGroupId"
        and stored.get("DeduplicationScope", "queue") != "messageGroup"
    ):
        raise invalid_attribute_value(
            "FifoThroughputLimit",
            "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup.",
        )


def effective(stored: dict[str, str]) -> dict[str, str]:
    """Stored attributes plus the defaults AWS shows for unset ones."""
    out = {name: SETTABLE[name].default for name in STANDARD_DEFAULTS}  # type: ignore[misc]
    if stored.get("FifoQueue") == "true":
        out.update(FIFO_DEFAULTS)
    if stored.get("KmsMasterKeyId"):
        out["KmsDataKeyReusePeriodSeconds"] = str(limits.KMS_DATA_KEY_REUSE[2])
        out["SqsManagedSseEnabled"] = "false"
    out.update({k: v for k, v in stored.items() if v != ""})
    return out


def int_attribute(stored: dict[str, str], name: str) -> int:
    value = stored.get(name)
    return int(value) if value else int(SETTABLE[name].default or 0)
