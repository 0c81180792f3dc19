"""Queue names, URLs and ARNs."""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from postroom.protocol.errors import invalid_parameter_value
from postroom.sqs import limits

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ARN = re.compile(r"^arn:aws[\w-]*:sqs:([\w-]+):(\d{12}):([A-Za-z0-9_.-]+)$")
FIFO_SUFFIX = ".fifo"


def check_queue_name(name: str, fifo: bool) -> None:
    base = name[: -len(FIFO_SUFFIX)] if fifo and name.endswith(FIFO_SUFFIX) else name
    if (
        not name
        or len(name) > limits.MAX_QUEUE_NAME
        or not _QUEUE_NAME.match(base)
        or (fifo and not name.endswith(FIFO_SUFFIX))
    ):
        if fifo or name.endswith(FIFO_SUFFIX):
            raise invalid_parameter_value(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                "underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
        raise invalid_parameter_value(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def queue_url(base_url: str, account: str, name: str) -> str:
    return f"{base_url}/{account}/{name}"


@functools.lru_cache(maxsize=8192)  # the same few URLs arrive on every request
def parse_queue_url(url: str) -> tuple[str, str] | None:
    """(account, name) from a queue URL of any host, or from a bare ``/account/name`` path."""
    try:
        path = urlsplit(url).path if "://" in url else url
    except ValueError:  # e.g. "http://[::1": not a URL at all, so no such queue
        return None
    parts = [p for p in path.split("/") if p]
    if len(parts) != 2:
        return None
    return parts[0], parts[1]


def parse_queue_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) from an SQS queue ARN."""
    match = _ARN.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None
