"""Queue names, URLs and ARNs."""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from postroom.protocol.context import is_region
from postroom.protocol.errors import invalid_parameter_value
from postroom.sqs import limits

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
LEGACY_DEFAULT_REGION = "us-east-1"  # the region of AWS's legacy host without a region
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


@functools.lru_cache(maxsize=8192)  # the same few URLs arrive on every request
def parse_queue_url(url: str) -> tuple[str | None, str, str] | None:
    """(region, account, name) from a queue URL of any shape Postroom writes (see
    ``sqs/endpoints.py``), or from a bare ``/account/name`` or ``/queue/region/account/name``
    path; region is None when neither the host nor the path names one."""
    try:
        parts_of = urlsplit(url) if "://" in url else None
        path = parts_of.path if parts_of is not None else url
        host = parts_of.hostname if parts_of is not None else None
    except ValueError:  # e.g. "http://[::1": not a URL at all, so no such queue
        return None
    parts = [p for p in path.split("/") if p]
    if len(parts) == 4 and parts[0] == "queue":
        # Any region the caller signed for (AWS's shapes or not): the path shape is unambiguous.
        return parts[1], parts[2], parts[3]
    if len(parts) != 2:
        return None
    return (region_of_host(host) if host else None), parts[0], parts[1]


def region_of_host(host: str) -> str | None:
    """The region a queue URL's host names: ``sqs.<region>.<domain>`` (AWS's shape),
    ``<region>.queue.<domain>`` (AWS's legacy one), or us-east-1 for a bare ``queue.`` of
    a loopback domain (legacy us-east-1; other ``queue.`` hosts may be anyone's names)."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[0] == "sqs" and is_region(labels[1]):
        return labels[1]
    if len(labels) >= 3 and labels[1] == "queue" and is_region(labels[0]):
        return labels[0]
    if len(labels) >= 2 and labels[0] == "queue" and labels[1] == "localhost":
        return LEGACY_DEFAULT_REGION
    return None


def parse_queue_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) from an SQS queue ARN."""
    match = _ARN.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None
