"""AWS's evaluation of one resource policy for one request, as documented in "Policy
evaluation logic": an explicit Deny wins, else an Allow that matches grants, else the
request is implicitly denied. Supported: ``Principal`` (``*``, account ids, IAM ARNs of an
account, service principals), ``Action``/``NotAction``, ``Resource``/``NotResource`` with
``*``/``?`` wildcards, and ``Condition`` with the String*, Arn* operators (and their
``IfExists`` forms) on the keys the request carries (``aws:SourceArn``,
``aws:SourceAccount``, ``aws:PrincipalAccount``). A statement using anything else
(``NotPrincipal``, other operators) never matches, so unknown grammar cannot widen access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

import orjson


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny statement matched
    NO_MATCH = "no-match"  # implicitly denied


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: an account (its root or any of its identities) or a service."""

    account: str | None = None
    service: str | None = None  # e.g. "sns.amazonaws.com"
    context: dict[str, str] = field(default_factory=dict)  # condition keys, lower-case names


def evaluate(policy_text: str | None, caller: Caller, action: str, resource: str) -> Decision:
    """The decision ``policy_text`` (a JSON policy document) gives ``caller`` for ``action``
    on ``resource``; an absent or unreadable policy grants nothing."""
    statements = _statements(policy_text or "")
    decision = Decision.NO_MATCH
    for st in statements:
        if not _matches(st, caller, action, resource):
            continue
        if st.get("Effect") == "Deny":
            return Decision.DENY
        if st.get("Effect") == "Allow":
            decision = Decision.ALLOW
    return decision


@lru_cache(maxsize=256)
def _statements(text: str) -> tuple[dict[str, Any], ...]:
    try:
        doc = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return ()
    sts = doc.get("Statement", []) if isinstance(doc, dict) else []
    if isinstance(sts, dict):
        sts = [sts]
    return tuple(s for s in sts if isinstance(s, dict))


def _matches(st: dict[str, Any], caller: Caller, action: str, resource: str) -> bool:
    if "NotPrincipal" in st or not _principal(st.get("Principal"), caller):
        return False
    if "Action" in st:
        if not any(_like(p, action, fold=True) for p in _list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(_like(p, action, fold=True) for p in _list(st["NotAction"])):
            return False
    else:
        return False
    if "Resource" in st:
        if not any(_like(p, resource) for p in _list(st["Resource"])):
            return False
    elif "NotResource" in st and any(_like(p, resource) for p in _list(st["NotResource"])):
        return False
    return _conditions(st.get("Condition", {}), caller.context)


def _principal(value: Any, caller: Caller) -> bool:
    if value == "*":
        return True
    if not isinstance(value, dict):
        return False
    for kind, entries in value.items():
        for entry in _list(entries):
            if kind == "AWS" and caller.account is not None:
                if entry == "*" or entry == caller.account or _arn_account(entry) == caller.account:
                    return True
            if kind == "Service" and caller.service is not None and entry == caller.service:
                return True
    return False


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" else None


_STRING_OPS = {
    "StringEquals": (False, False, False), "StringNotEquals": (False, True, False),
    "StringEqualsIgnoreCase": (False, False, True), "StringNotEqualsIgnoreCase": (False, True, True),
    "StringLike": (True, False, False), "StringNotLike": (True, True, False),
    "ArnEquals": (False, False, False), "ArnNotEquals": (False, True, False),
    "ArnLike": (True, False, False), "ArnNotLike": (True, True, False),
}


def _conditions(block: Any, context: dict[str, str]) -> bool:
    if not isinstance(block, dict):
        return False
    for operator, tests in block.items():
        if_exists = operator.endswith("IfExists")
        spec = _STRING_OPS.get(operator.removesuffix("IfExists"))
        if spec is None or not isinstance(tests, dict):
            return False  # an operator Postroom does not know never matches
        wildcard, negate, fold = spec
        for key, patterns in tests.items():
            value = context.get(key.lower())
            if value is None:
                if if_exists or negate:
                    continue  # AWS: a missing key satisfies IfExists and the negated operators
                return False
            hit = any(
                _like(p, value, fold=fold) if wildcard else (p.lower() == value.lower() if fold else p == value)
                for p in _list(patterns)
            )
            if hit == negate:
                return False
    return True


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@lru_cache(maxsize=1024)
def _pattern(pattern: str, fold: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if fold else 0))


def _like(pattern: str, value: str, fold: bool = False) -> bool:
    return _pattern(pattern, fold).fullmatch(value) is not None
