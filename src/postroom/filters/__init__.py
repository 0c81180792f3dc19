"""Message filtering shared by SNS subscriptions (and, later, event rules and Lambda filters)."""

from postroom.filters.policy import (
    SCOPE_ATTRIBUTES,
    SCOPE_BODY,
    FilterPolicy,
    FilterPolicyError,
    parse_filter_policy,
)

__all__ = [
    "SCOPE_ATTRIBUTES",
    "SCOPE_BODY",
    "FilterPolicy",
    "FilterPolicyError",
    "parse_filter_policy",
]
