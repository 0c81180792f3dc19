"""Roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole and role tags."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from postroom.accesskeys import new_unique_id
from postroom.iam import limits, shapes
from postroom.iam.documents import check_trust_policy
from postroom.iam.errors import already_exists, delete_conflict, limit_exceeded
from postroom.iam.names import merge_tags, path_of, remove_tags, tag_pairs
from postroom.iam.paging import page, tag_page
from postroom.protocol.context import RequestContext
from postroom.storage.iam import RoleRecord

if TYPE_CHECKING:
    from postroom.iam.service import IamService

Params = dict[str, Any]


async def create_role(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    name = p["RoleName"]
    check_trust_policy(p["AssumeRolePolicyDocument"])
    tags = tag_pairs(p.get("Tags"))
    boundary = svc.boundary(ctx.account, p["PermissionsBoundary"]) if p.get("PermissionsBoundary") else None
    if (ctx.account, name.lower()) in svc.store.roles:
        raise already_exists(f"Role with name {name} already exists.")
    if sum(1 for acct, _ in svc.store.roles if acct == ctx.account) >= limits.MAX_ROLES:
        raise limit_exceeded(f"Cannot exceed quota for RolesPerAccount: {limits.MAX_ROLES}")
    role = RoleRecord(
        account=ctx.account,
        name=name,
        path=path_of(p),
        role_id=new_unique_id("AROA"),
        assume_role_policy=p["AssumeRolePolicyDocument"],
        description=p.get("Description"),
        max_session_duration=p.get("MaxSessionDuration") or limits.DEFAULT_MAX_SESSION_DURATION,
        tags=tags,
        created_at=svc.now(),
        permissions_boundary=boundary,
    )
    await svc.store.save_role(role)
    return {"Role": shapes.role(role, "create")}


async def get_role(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    return {"Role": shapes.role(svc.role(ctx.account, p["RoleName"]), "get")}


async def list_roles(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    prefix = p.get("PathPrefix") or "/"
    roles = sorted(
        (r for (acct, _), r in svc.store.roles.items() if acct == ctx.account and r.path.startswith(prefix)),
        key=lambda r: r.key,
    )
    return page(roles, p, lambda r: r.key, "Roles", lambda r: shapes.role(r, "list"))


async def update_role(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    if p.get("Description") is not None:
        role.description = p["Description"]
    if p.get("MaxSessionDuration") is not None:
        role.max_session_duration = p["MaxSessionDuration"]
    await svc.store.save_role(role)
    return {}


async def update_role_description(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    role.description = p["Description"]
    await svc.store.save_role(role)
    return {"Role": shapes.role(role, "describe")}


async def update_assume_role_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    check_trust_policy(p["PolicyDocument"])
    role.assume_role_policy = p["PolicyDocument"]
    await svc.store.save_role(role)


async def put_role_permissions_boundary(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    role.permissions_boundary = svc.boundary(ctx.account, p["PermissionsBoundary"])
    await svc.store.save_role(role)


async def delete_role_permissions_boundary(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    role.permissions_boundary = None
    await svc.store.save_role(role)


async def delete_role(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = svc.role(ctx.account, p["RoleName"])
    if role.attached:
        raise delete_conflict("Cannot delete entity, must detach all policies first.")
    if role.inline_policies:
        raise delete_conflict("Cannot delete entity, must delete policies first.")
    await svc.store.delete_role(role)


async def tag_role(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    role.tags = merge_tags(role.tags, tag_pairs(p["Tags"]), "Role")
    await svc.store.save_role(role)


async def untag_role(svc: IamService, p: Params, ctx: RequestContext) -> None:
    role = copy.deepcopy(svc.role(ctx.account, p["RoleName"]))
    role.tags = remove_tags(role.tags, p["TagKeys"])
    await svc.store.save_role(role)


async def list_role_tags(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    role = svc.role(ctx.account, p["RoleName"])
    return tag_page(role.tags, p)


async def list_instance_profiles_for_role(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    # Instance profiles cannot be created here, so no role is in one (deployment tools ask
    # before deleting a role).
    svc.role(ctx.account, p["RoleName"])
    return {"InstanceProfiles": [], "IsTruncated": False}


OPERATIONS = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "DeleteRole": delete_role,
    "PutRolePermissionsBoundary": put_role_permissions_boundary,
    "DeleteRolePermissionsBoundary": delete_role_permissions_boundary,
    "TagRole": tag_role,
    "UntagRole": untag_role,
    "ListRoleTags": list_role_tags,
    "ListInstanceProfilesForRole": list_instance_profiles_for_role,
}
