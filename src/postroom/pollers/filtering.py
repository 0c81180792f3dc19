"""FilterCriteria of an event source mapping: up to five patterns, OR'd, matched against
each record, with a JSON ``body`` parsed first (AWS's "Lambda event filtering").

Patterns use the filter-policy matcher (nested keys as in SNS's MessageBody scope), which
covers the EventBridge operators AWS documents for event filtering."""

from __future__ import annotations

from typing import Any

import orjson

from postroom.filters.policy import SCOPE_BODY, FilterPolicy, FilterPolicyError, parse_filter_policy

MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096


class InvalidPattern(ValueError):
    pass


def compile_patterns(patterns: list[Any]) -> list[FilterPolicy]:
    """Compile the patterns of a FilterCriteria (as given: anything but a JSON object in a
    string is refused with InvalidPattern)."""
    compiled = []
    for text in patterns:
        if not isinstance(text, str) or not text.strip():
            raise InvalidPattern(text)
        try:
            compiled.append(parse_filter_policy(text, SCOPE_BODY, enforce_limits=False))
        except FilterPolicyError:
            raise InvalidPattern(text) from None
    return compiled


def _document(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filters see it: a body that is a JSON object is matched as one; any
    other body only as its plain text."""
    body = record["body"]
    parsed: Any = body
    if body[:1] in ("{", "["):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = body
    return {**record, "body": parsed}


def matches(patterns: list[FilterPolicy], record: dict[str, Any]) -> bool:
    """Whether a record passes (no patterns: everything passes)."""
    if not patterns:
        return True
    document = _document(record)
    return any(pattern.matches_document(document) for pattern in patterns)
