"""Topic names and ARNs, subscription ARNs and endpoint checks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from postroom.ids import new_id
from postroom.sns import limits
from postroom.sns.errors import invalid_parameter, invalid_parameter_bare

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[\w-]*:sns:([\w-]+):(\d{12}):([A-Za-z0-9_.-]+)$")
_SUBSCRIPTION_ARN = re.compile(r"^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[A-Za-z0-9_.-]+:[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{5,15}$")
FIFO_SUFFIX = ".fifo"


def check_topic_name(name: str, fifo: bool) -> None:
    """AWS's messages: a FIFO topic's name rules in full, a standard topic's terse."""
    if fifo:
        base = name.removesuffix(FIFO_SUFFIX)
        if not name.endswith(FIFO_SUFFIX) or not base or len(name) > limits.MAX_TOPIC_NAME or not _TOPIC_NAME.match(base):
            raise invalid_parameter_bare(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase "
                "ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
            )
    elif not name or len(name) > limits.MAX_TOPIC_NAME or not _TOPIC_NAME.match(name):
        raise invalid_parameter("Topic Name")


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def parse_topic_arn(arn: str) -> tuple[str, str, str] | None:
    match = _TOPIC_ARN.match(arn or "")
    return (match.group(1), match.group(2), match.group(3)) if match else None


def new_subscription_arn(topic: str) -> str:
    return f"{topic}:{new_id()}"


def is_subscription_arn(arn: str) -> bool:
    return bool(_SUBSCRIPTION_ARN.match(arn or ""))


_ENDPOINT_MESSAGES = {
    "sqs": "SQS endpoint ARN",
    "lambda": "Lambda endpoint ARN",
    "firehose": "Firehose endpoint ARN",
    "application": "Application endpoint arn invalid",
    "email": "Email address",
    "email-json": "Email address",
}


def check_endpoint(protocol: str, endpoint: str | None) -> str:
    """Validate a subscription endpoint for its protocol (AWS's messages); return it."""
    value = endpoint or ""
    if protocol in ("http", "https"):
        if not value.startswith(f"{protocol}://"):
            raise invalid_parameter("Endpoint must match the specified protocol")
        if not _is_web_url(value, protocol):  # the delivery client could never reach it
            raise invalid_parameter("Endpoint")
        return value
    if protocol == "sms":
        if not _PHONE.match(value):
            raise invalid_parameter_bare(f"Invalid SMS endpoint: {value}")
        return value
    ok = {
        "email": bool(_EMAIL.match(value)),
        "email-json": bool(_EMAIL.match(value)),
        "sqs": value.startswith("arn:") and ":sqs:" in value,
        "lambda": value.startswith("arn:") and ":lambda:" in value,
        "application": value.startswith("arn:") and ":sns:" in value and ":endpoint/" in value,
        "firehose": value.startswith("arn:") and ":firehose:" in value,
    }.get(protocol, False)
    if not ok:
        raise invalid_parameter(_ENDPOINT_MESSAGES.get(protocol, "Endpoint"))
    return value


def _is_web_url(value: str, scheme: str) -> bool:
    """A URL the delivery client can POST to: the scheme, a host and a valid port."""
    if not value.startswith(f"{scheme}://") or any(c.isspace() or ord(c) < 0x20 for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return bool(parts.hostname)
