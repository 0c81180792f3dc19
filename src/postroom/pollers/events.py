"""The SQS event a mapping hands its function (AWS's "Using Lambda with Amazon SQS")."""

from __future__ import annotations

from typing import Any

from postroom.sqs.api import ReceivedMessage

# The order AWS writes system attributes in; any others follow.
_ATTRIBUTE_ORDER = (
    "ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
    "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp",
)


def _attributes(values: dict[str, str]) -> dict[str, str]:
    out = {name: values[name] for name in _ATTRIBUTE_ORDER if name in values}
    out.update((name, value) for name, value in values.items() if name not in out)
    return out


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS wire form ({DataType, StringValue | BinaryValue}) to the event's camel case."""
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = value["BinaryValue"]  # base64 text, as AWS sends it
    out["stringListValues"] = []
    out["binaryListValues"] = []
    out["dataType"] = value["DataType"]
    return out


def sqs_record(message: ReceivedMessage, source_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": _attributes(message.attributes),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.message_attributes.items()
        },
        "md5OfMessageAttributes": message.md5_of_message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }
