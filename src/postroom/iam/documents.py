"""Policy documents: the checks IAM makes before storing one, and the wire form.

Documents are stored as sent and never evaluated. IAM returns them URL-encoded in its
Query answers (botocore decodes them back); the checks follow IAM's own messages for the
mistakes tools make most (bad JSON, a missing Effect/Action/Resource, a trust policy with
a Resource or a non-sts action).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import orjson

from postroom.iam import limits
from postroom.iam.errors import limit_exceeded, malformed_policy

_WHITESPACE = re.compile(r"\s+")


def encoded(document: str) -> str:
    """A document as IAM's Query answers carry it."""
    return quote(document, safe="")


def size(document: str) -> int:
    """The size IAM counts against its quotas: characters other than whitespace."""
    return len(_WHITESPACE.sub("", document))


def _parse(document: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(document)
    except orjson.JSONDecodeError:
        raise malformed_policy("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise malformed_policy("This policy contains invalid Json")
    version = doc.get("Version")
    if version is not None and version not in limits.POLICY_VERSIONS:
        raise malformed_policy("The policy failed legacy parsing")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise malformed_policy("Syntax errors in policy.")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise malformed_policy("Syntax errors in policy.")
        if "Action" not in statement and "NotAction" not in statement:
            raise malformed_policy("Policy statement must contain actions.")
    doc["Statement"] = statements
    return doc


def check_permissions_policy(document: str) -> None:
    """An identity policy (inline or managed): every statement names resources, none a principal."""
    for statement in _parse(document)["Statement"]:
        if "Principal" in statement or "NotPrincipal" in statement:
            raise malformed_policy("Policy document should not specify a principal.")
        if "Resource" not in statement and "NotResource" not in statement:
            raise malformed_policy("Policy statement must contain resources.")


def check_trust_policy(document: str) -> None:
    """A role's trust policy: principals and sts:AssumeRole* actions only."""
    for statement in _parse(document)["Statement"]:
        for field in ("Resource", "NotResource"):
            if field in statement:
                raise malformed_policy(f"Has prohibited field {field}")
        actions = statement.get("Action", statement.get("NotAction"))
        actions = [actions] if isinstance(actions, str) else actions
        if not isinstance(actions, list) or not all(
            isinstance(a, str) and (a == "*" or a.lower().startswith(("sts:assumerole", "sts:tagsession", "sts:setsourceidentity", "sts:setcontext", "sts:*")))
            for a in actions
        ):
            raise malformed_policy("AssumeRole policy may only specify STS AssumeRole actions.")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise malformed_policy("Missing required field Principal")
    if size(document) > limits.MAX_TRUST_POLICY_BYTES:
        raise limit_exceeded(f"Cannot exceed quota for ACLSizePerRole: {limits.MAX_TRUST_POLICY_BYTES}")
