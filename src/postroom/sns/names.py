"""Topic names and ARNs, subscription ARNs and endpoint checks."""

from __future__ import annotations

import re

from postroom.ids import new_id
from postroom.sns import limits
from postroom.sns.errors import invalid_parameter

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[\w-]*:sns:([\w-]+):(\d{12}):([A-Za-z0-9_.-]+)$")
_SUBSCRIPTION_ARN = re.compile(r"^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[A-Za-z0-9_.-]+:[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{5,15}$")
FIFO_SUFFIX = ".fifo"


def check_topic_name(name: str, fifo: bool) -> None:
    base = name[: -len(FIFO_SUFFIX)] if fifo and name.endswith(FIFO_SUFFIX) else name
    if not name or len(name) > limits.MAX_TOPIC_NAME or not _TOPIC_NAME.match(base) or (
        fifo != name.endswith(FIFO_SUFFIX)
    ):
        if fifo or name.endswith(FIFO_SUFFIX):
            raise invalid_parameter("Topic Name Reason: FIFO topic names must end with .fifo and FifoTopic must be true")
        raise invalid_parameter(
            "Topic Name Reason: must be 1-256 alphanumeric characters, hyphens or underscores"
        )


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def parse_topic_arn(arn: str) -> tuple[str, str, str] | None:
    match = _TOPIC_ARN.match(arn or "")
    return (match.group(1), match.group(2), match.group(3)) if match else None


def new_subscription_arn(topic: str) -> str:
    return f"{topic}:{new_id()}"


def is_subscription_arn(arn: str) -> bool:
    return bool(_SUBSCRIPTION_ARN.match(arn or ""))


def check_endpoint(protocol: str, endpoint: str | None) -> str:
    """Validate a subscription endpoint for its protocol; return it."""
    value = endpoint or ""
    ok = {
        "http": value.startswith("http://"),
        "https": value.startswith("https://"),
        "email": bool(_EMAIL.match(value)),
        "email-json": bool(_EMAIL.match(value)),
        "sms": bool(_PHONE.match(value)),
        "sqs": value.startswith("arn:") and ":sqs:" in value,
        "lambda": value.startswith("arn:") and ":lambda:" in value,
        "application": value.startswith("arn:") and ":sns:" in value,
        "firehose": value.startswith("arn:") and ":firehose:" in value,
    }.get(protocol, False)
    if not ok:
        raise invalid_parameter(f"Invalid {protocol} endpoint: {value}" if value else "Endpoint Reason: empty")
    return value
