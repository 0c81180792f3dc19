"""A role's policies: inline (Put/Get/Delete/ListRolePolicies) and attached managed ones
(Attach/Detach/ListAttachedRolePolicies)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from postroom.iam import documents, limits
from postroom.iam.errors import (
    limit_exceeded,
    no_such_entity,
    policy_not_attachable,
    policy_not_found,
)
from postroom.iam.names import parse_policy_arn
from postroom.iam.paging import page
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError

if TYPE_CHECKING:
    from postroom.iam.service import IamService

Params = dict[str, Any]


def _inline_not_found(name: str) -> AWSError:
    return no_such_entity(f"The role policy with name {name} cannot be found.")


async def put_role_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    documents.check_permissions_policy(p["PolicyDocument"])
    role.inline_policies[p["PolicyName"]] = p["PolicyDocument"]
    if sum(documents.size(d) for d in role.inline_policies.values()) > limits.MAX_INLINE_POLICY_BYTES:
        raise limit_exceeded(
            f"Maximum policy size of {limits.MAX_INLINE_POLICY_BYTES} bytes exceeded for role {role.name}")
    await svc.store.save_role(role)


async def get_role_policy(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    role = svc.role(ctx.account, p["RoleName"])
    document = role.inline_policies.get(p["PolicyName"])
    if document is None:
        raise _inline_not_found(p["PolicyName"])
    return {"RoleName": role.name, "PolicyName": p["PolicyName"], "PolicyDocument": documents.encoded(document)}


async def delete_role_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    if role.inline_policies.pop(p["PolicyName"], None) is None:
        raise _inline_not_found(p["PolicyName"])
    await svc.store.save_role(role)


async def list_role_policies(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    role = svc.role(ctx.account, p["RoleName"])
    return page(sorted(role.inline_policies), p, lambda n: n, "PolicyNames", lambda n: n)


async def attach_role_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    arn = p["PolicyArn"]
    owner, _, _ = parse_policy_arn(arn)
    try:
        if owner not in (ctx.account, "aws"):  # another account's policies are not attachable
            raise policy_not_attachable(arn)
        svc.managed_policy(arn)
    except AWSError:
        raise policy_not_attachable(arn) from None
    if arn in role.attached:
        return  # attaching again changes nothing, as in IAM
    if len(role.attached) >= limits.MAX_ATTACHED_POLICIES:
        raise limit_exceeded(f"Cannot exceed quota for PoliciesPerRole: {limits.MAX_ATTACHED_POLICIES}")
    role.attached.append(arn)
    await svc.store.save_role(role)


async def detach_role_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    arn = p["PolicyArn"]
    parse_policy_arn(arn)
    if arn not in role.attached:
        raise policy_not_found(arn)
    role.attached.remove(arn)
    await svc.store.save_role(role)


async def list_attached_role_policies(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    role = svc.role(ctx.account, p["RoleName"])
    prefix = p.get("PathPrefix") or "/"
    attached = []
    for arn in role.attached:
        _, path, name = parse_policy_arn(arn)
        if path.startswith(prefix):
            attached.append((arn, name))
    return page(sorted(attached), p, lambda a: a[0], "AttachedPolicies",
                lambda a: {"PolicyName": a[1], "PolicyArn": a[0]})


OPERATIONS = {
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "DeleteRolePolicy": delete_role_policy,
    "ListRolePolicies": list_role_policies,
    "AttachRolePolicy": attach_role_policy,
    "DetachRolePolicy": detach_role_policy,
    "ListAttachedRolePolicies": list_attached_role_policies,
}
