"""Log group and stream ARNs, and the identifiers (name or ARN) operations accept."""

from __future__ import annotations

import re

# arn:aws:logs:<region>:<account>:log-group:<name>[:*]
_GROUP_ARN = re.compile(r"^arn:aws[\w-]*:logs:([\w-]+):(\d{12}):log-group:([^:*]+)(?::\*)?$")


def group_arn(region: str, account: str, name: str) -> str:
    """The ARN DescribeLogGroups reports as ``logGroupArn`` (no trailing ``:*``)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


def stream_arn(region: str, account: str, group: str, stream: str) -> str:
    return f"{group_arn(region, account, group)}:log-stream:{stream}"


def parse_group_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a log group ARN, with or without the ``:*``."""
    match = _GROUP_ARN.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None
