"""Resource-based policies: AddPermission, RemovePermission, GetPolicy (stored, shaped as AWS
shapes them; not enforced)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from postroom.lambda_ import limits
from postroom.lambda_.errors import (
    conflict,
    constraint,
    function_not_found,
    invalid_parameter,
    not_found,
    policy_too_long,
    precondition_failed,
    resource_not_found,
)
from postroom.lambda_.names import LATEST, FunctionRef, is_alias, parse_function
from postroom.protocol.context import RequestContext
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None
_STATEMENT_ID = re.compile(r"^([a-zA-Z0-9-_.]+)$")
_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _principal(principal: str) -> Any:
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def statement(resource: str, p: dict[str, Any]) -> Doc:
    """One policy statement, with the keys and condition operators AWS uses."""
    out: Doc = {
        "Sid": p["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(p["Principal"]),
        "Action": p["Action"],
        "Resource": resource,
    }
    condition: Doc = {}
    equals: Doc = {}
    if p.get("SourceAccount"):
        equals["AWS:SourceAccount"] = p["SourceAccount"]
    if p.get("PrincipalOrgID"):
        equals["aws:PrincipalOrgID"] = p["PrincipalOrgID"]
    if p.get("EventSourceToken"):
        equals["lambda:EventSourceToken"] = p["EventSourceToken"]
    if p.get("FunctionUrlAuthType"):
        equals["lambda:FunctionUrlAuthType"] = p["FunctionUrlAuthType"]
    if p.get("InvokedViaFunctionUrl") is not None:
        condition["Bool"] = {
            "lambda:InvokedViaFunctionUrl": str(p["InvokedViaFunctionUrl"]).lower()
        }
    if equals:
        condition["StringEquals"] = equals
    if p.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": p["SourceArn"]}
    if condition:
        out["Condition"] = condition
    return out


def _revision(fn: FunctionRecord, qualifier: str) -> str:
    if is_alias(qualifier):
        return fn.aliases[qualifier]["RevisionId"]
    return fn.versions[qualifier]["RevisionId"]


def _bump(svc: LambdaService, fn: FunctionRecord, qualifier: str) -> None:
    # A policy change is a change of the version or alias: it gets a new revision id.
    if is_alias(qualifier):
        fn.aliases[qualifier]["RevisionId"] = svc.new_revision()
    else:
        fn.versions[qualifier]["RevisionId"] = svc.new_revision()


def _resolve(fn: FunctionRecord, ref: FunctionRef) -> str:
    qualifier = ref.qualifier or LATEST
    if is_alias(qualifier):
        if qualifier not in fn.aliases:
            raise not_found(f"Cannot find alias arn: {ref.qualified_arn()}")
    elif qualifier not in fn.versions:
        raise function_not_found(ref.qualified_arn())
    return qualifier


async def add_permission(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    if ref.qualifier == LATEST:
        raise invalid_parameter("We currently do not support adding policies for $LATEST.")
    sid = p["StatementId"]
    if not _STATEMENT_ID.match(sid) or len(sid) > 100:
        raise constraint(
            sid, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        )
    if not _ACTION.match(p["Action"]):
        raise constraint(
            p["Action"],
            "action",
            "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        )
    async with svc.lock:
        fn = svc.function(ref)
        qualifier = _resolve(fn, ref)
        if p.get("RevisionId") and p["RevisionId"] != _revision(fn, qualifier):
            raise precondition_failed()
        policy = fn.policies.get(qualifier) or {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [],
        }
        if any(s["Sid"] == sid for s in policy["Statement"]):
            raise conflict(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove "
                "the existing statement."
            )
        new = statement(ref.qualified_arn() if ref.qualifier else ref.arn, p)
        policy = {**policy, "Statement": [*policy["Statement"], new]}
        size = len(orjson.dumps(policy))
        if size > limits.POLICY_MAX_BYTES:
            raise policy_too_long(
                f"The final policy size ({size}) is bigger than the limit ({limits.POLICY_MAX_BYTES})."
            )
        changed = svc.copy(fn)
        changed.policies[qualifier] = policy
        _bump(svc, changed, qualifier)
        await svc.save(changed)
    return {"Statement": orjson.dumps(new).decode()}


async def remove_permission(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    async with svc.lock:
        fn = svc.catalog.functions.get(ref.key)
        if fn is None:
            raise not_found(f"No policy found for: {ref.arn}")
        qualifier = _resolve(fn, ref)
        policy = fn.policies.get(qualifier)
        if policy is None:
            raise not_found("No policy is associated with the given resource.")
        kept = [s for s in policy["Statement"] if s["Sid"] != p["StatementId"]]
        if len(kept) == len(policy["Statement"]):
            raise not_found(f"Statement {p['StatementId']} is not found in resource policy.")
        if p.get("RevisionId") and p["RevisionId"] != _revision(fn, qualifier):
            raise precondition_failed()
        changed = svc.copy(fn)
        if kept:
            changed.policies[qualifier] = {**policy, "Statement": kept}
        else:
            del changed.policies[qualifier]
        _bump(svc, changed, qualifier)
        await svc.save(changed)
    return None


async def get_policy(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    fn = svc.function(ref)
    qualifier = _resolve(fn, ref)
    policy = fn.policies.get(qualifier)
    if policy is None:
        raise resource_not_found()
    return {"Policy": orjson.dumps(policy).decode(), "RevisionId": _revision(fn, qualifier)}


OPERATIONS = {
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "GetPolicy": get_policy,
}
