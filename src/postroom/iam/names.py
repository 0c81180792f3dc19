"""Parsing IAM ARNs and checking names, paths and tags the way IAM does."""

from __future__ import annotations

import re
from typing import Any

from postroom.iam import limits
from postroom.iam.errors import invalid_input, limit_exceeded, validation_error

_POLICY_ARN = re.compile(r"^arn:aws:iam::(\d{12}|aws):policy(/(?:[^/]+/)*)([^/]+)$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role(/(?:[^/]+/)*)([^/]+)$")


def parse_policy_arn(arn: str) -> tuple[str, str, str]:
    """(account or "aws", path, name) of a managed policy ARN; ValidationError otherwise."""
    match = _POLICY_ARN.match(arn)
    if match is None:
        raise validation_error(f"ARN {arn} is not valid.")
    return match.group(1), match.group(2), match.group(3)


def parse_role_arn(arn: str) -> tuple[str, str, str] | None:
    """(account, path, name) of a role ARN, else None."""
    match = _ROLE_ARN.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _fold(key: str, ignore_case: bool) -> str:
    return key.lower() if ignore_case else key


def tag_pairs(tags: list[dict[str, Any]] | None, ignore_case: bool = True) -> list[tuple[str, str]]:
    """Tags as (key, value) pairs, keys unique. Role and user tag keys are compared without
    regard to case; managed policies' are compared exactly (IAM words the two errors apart)."""
    pairs = [(t["Key"], t.get("Value") or "") for t in tags or []]
    if len({_fold(k, ignore_case) for k, _ in pairs}) != len(pairs):
        if ignore_case:
            raise invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        raise invalid_input("Duplicate tag keys found.")
    return pairs


def merge_tags(
    current: list[tuple[str, str]], new: list[tuple[str, str]], what: str, ignore_case: bool = True
) -> list[tuple[str, str]]:
    """``current`` with ``new`` set on top (a key given again replaces the old one)."""
    replaced = {_fold(k, ignore_case): (k, v) for k, v in new}
    merged = [replaced.pop(_fold(k, ignore_case), (k, v)) for k, v in current]
    merged.extend(replaced.values())
    if len(merged) > limits.MAX_TAGS:
        raise limit_exceeded(f"Cannot exceed quota for TagsPer{what}: {limits.MAX_TAGS}")
    return merged


def remove_tags(current: list[tuple[str, str]], keys: list[str], ignore_case: bool = True) -> list[tuple[str, str]]:
    drop = {_fold(k, ignore_case) for k in keys}
    return [(k, v) for k, v in current if _fold(k, ignore_case) not in drop]


def path_of(params: dict[str, Any]) -> str:
    return params.get("Path") or "/"
