"""Managed policies and their versions: Create/Get/Delete/ListPolicies and
Create/Get/List/DeletePolicyVersion, SetDefaultPolicyVersion.

AWS managed policies (built in) can be read and attached; changing them is denied, as
IAM denies it to every account.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from postroom.accesskeys import new_unique_id
from postroom.iam import documents, limits, managed, shapes
from postroom.iam.errors import (
    access_denied,
    already_exists,
    delete_conflict,
    limit_exceeded,
    no_such_entity,
)
from postroom.iam.names import merge_tags, path_of, remove_tags, tag_pairs
from postroom.iam.paging import page, tag_page
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.storage.iam import PolicyRecord, PolicyVersionRecord

if TYPE_CHECKING:
    from postroom.iam.service import IamService

Params = dict[str, Any]


def _check_document(document: str) -> None:
    documents.check_permissions_policy(document)
    if documents.size(document) > limits.MAX_MANAGED_POLICY_BYTES:
        raise limit_exceeded(f"Cannot exceed quota for PolicySize: {limits.MAX_MANAGED_POLICY_BYTES}")


def _customer_policy(
    svc: IamService, action: str, arn: str, ctx: RequestContext, version_id: str | None = None
) -> PolicyRecord:
    """The customer managed policy to change (AWS managed ones cannot be changed). With a
    ``version_id``, a missing policy is reported as that version missing, as IAM does."""
    policy = _policy_for_version(svc, arn, version_id) if version_id else svc.managed_policy(arn)
    if isinstance(policy, managed.AwsManagedPolicy):
        raise access_denied(svc.api.identity(ctx.account, ctx.access_key).arn, action, arn)
    return policy


def _version_not_found(arn: str, version_id: str) -> AWSError:
    return no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")


def _policy_for_version(svc: IamService, arn: str, version_id: str) -> PolicyRecord | managed.AwsManagedPolicy:
    try:
        return svc.managed_policy(arn)
    except AWSError as error:
        if error.code == "NoSuchEntity":
            raise _version_not_found(arn, version_id) from None
        raise


async def create_policy(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    name = p["PolicyName"]
    _check_document(p["PolicyDocument"])
    tags = tag_pairs(p.get("Tags"), ignore_case=False)
    if (ctx.account, name.lower()) in svc.store.policies:
        raise already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
    if sum(1 for acct, _ in svc.store.policies if acct == ctx.account) >= limits.MAX_POLICIES:
        raise limit_exceeded(f"Cannot exceed quota for PoliciesPerAccount: {limits.MAX_POLICIES}")
    now = svc.now()
    policy = PolicyRecord(
        account=ctx.account,
        name=name,
        path=path_of(p),
        policy_id=new_unique_id("ANPA"),
        description=p.get("Description"),
        tags=tags,
        created_at=now,
        updated_at=now,
        default_version="v1",
        next_version=2,
        versions={"v1": PolicyVersionRecord("v1", p["PolicyDocument"], now)},
    )
    await svc.store.save_policy(policy)
    return {"Policy": shapes.policy(policy, 0, "create")}


async def get_policy(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    policy = svc.managed_policy(p["PolicyArn"])
    account = ctx.account
    return {"Policy": shapes.policy(policy, svc.attachment_count(account, policy.arn), "get",
                                    svc.boundary_count(account, policy.arn))}


async def delete_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    policy = _customer_policy(svc, "DeletePolicy", p["PolicyArn"], ctx)
    if svc.attachment_count(policy.account, policy.arn) or svc.boundary_count(policy.account, policy.arn):
        raise delete_conflict("Cannot delete a policy attached to entities.")
    if len(policy.versions) > 1:
        raise delete_conflict(
            "This policy has more than one version. Before you delete a policy, you must delete"
            " the policy's versions. The default version is deleted with the policy.")
    await svc.store.delete_policy(policy)


async def list_policies(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    scope = p.get("Scope") or "All"
    prefix = p.get("PathPrefix") or "/"
    candidates: list[PolicyRecord | managed.AwsManagedPolicy] = []
    if scope in ("All", "AWS"):
        candidates.extend(managed.POLICIES)
    if scope in ("All", "Local"):
        candidates.extend(r for (acct, _), r in svc.store.policies.items() if acct == ctx.account)
    counts = {c.arn: svc.attachment_count(ctx.account, c.arn) for c in candidates}
    bounds = {c.arn: svc.boundary_count(ctx.account, c.arn) for c in candidates}
    usage = p.get("PolicyUsageFilter")

    def wanted(c: PolicyRecord | managed.AwsManagedPolicy) -> bool:
        if usage == "PermissionsBoundary" and not bounds[c.arn]:
            return False
        if p.get("OnlyAttached"):
            used = bounds[c.arn] if usage == "PermissionsBoundary" else counts[c.arn]
            if usage is None:
                used += bounds[c.arn]
            return bool(used)
        return True

    chosen = sorted((c for c in candidates if c.path.startswith(prefix) and wanted(c)), key=lambda c: c.arn)
    return page(chosen, p, lambda c: c.arn, "Policies",
                lambda c: shapes.policy(c, counts[c.arn], "list", bounds[c.arn]))


async def create_policy_version(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    policy = copy.deepcopy(_customer_policy(svc, "CreatePolicyVersion", p["PolicyArn"], ctx))
    _check_document(p["PolicyDocument"])
    if len(policy.versions) >= limits.MAX_POLICY_VERSIONS:
        raise limit_exceeded(
            f"A managed policy can have up to {limits.MAX_POLICY_VERSIONS} versions. Before you"
            " create a new version, you must delete an existing version.")
    now = svc.now()
    version = PolicyVersionRecord(f"v{policy.next_version}", p["PolicyDocument"], now)
    policy.next_version += 1
    policy.versions[version.version_id] = version
    if p.get("SetAsDefault"):
        policy.default_version = version.version_id
        policy.updated_at = now
    await svc.store.save_policy(policy)
    return {"PolicyVersion": shapes.policy_version(version, policy.default_version, False)}


async def get_policy_version(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    arn, version_id = p["PolicyArn"], p["VersionId"]
    policy = _policy_for_version(svc, arn, version_id)
    if isinstance(policy, managed.AwsManagedPolicy):
        if version_id != policy.version_id:
            raise _version_not_found(arn, version_id)
        version = PolicyVersionRecord(policy.version_id, policy.document, policy.created_at)
        return {"PolicyVersion": shapes.policy_version(version, policy.version_id, True)}
    version = policy.versions.get(version_id)
    if version is None:
        raise _version_not_found(arn, version_id)
    return {"PolicyVersion": shapes.policy_version(version, policy.default_version, True)}


async def list_policy_versions(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    policy = svc.managed_policy(p["PolicyArn"])
    if isinstance(policy, managed.AwsManagedPolicy):
        versions = [PolicyVersionRecord(policy.version_id, policy.document, policy.created_at)]
        default = policy.version_id
    else:
        # Newest first, as IAM lists them.
        versions = sorted(policy.versions.values(), key=lambda v: -int(v.version_id[1:]))
        default = policy.default_version
    numbered = list(enumerate(versions))
    return page(numbered, p, lambda v: f"{v[0]:08d}", "Versions",
                lambda v: shapes.policy_version(v[1], default, False))


async def delete_policy_version(svc: IamService, p: Params, ctx: RequestContext) -> None:
    arn, version_id = p["PolicyArn"], p["VersionId"]
    policy = copy.deepcopy(_customer_policy(svc, "DeletePolicyVersion", arn, ctx, version_id))
    if version_id not in policy.versions:
        raise _version_not_found(arn, version_id)
    if version_id == policy.default_version:
        raise delete_conflict("Cannot delete the default version of a policy.")
    del policy.versions[version_id]
    await svc.store.save_policy(policy)


async def set_default_policy_version(svc: IamService, p: Params, ctx: RequestContext) -> None:
    arn, version_id = p["PolicyArn"], p["VersionId"]
    policy = copy.deepcopy(_customer_policy(svc, "SetDefaultPolicyVersion", arn, ctx, version_id))
    if version_id not in policy.versions:
        raise _version_not_found(arn, version_id)
    policy.default_version = version_id
    policy.updated_at = svc.now()
    await svc.store.save_policy(policy)


async def tag_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    policy = copy.deepcopy(_customer_policy(svc, "TagPolicy", p["PolicyArn"], ctx))
    policy.tags = merge_tags(policy.tags, tag_pairs(p["Tags"], ignore_case=False), "Policy", ignore_case=False)
    await svc.store.save_policy(policy)


async def untag_policy(svc: IamService, p: Params, ctx: RequestContext) -> None:
    policy = copy.deepcopy(_customer_policy(svc, "UntagPolicy", p["PolicyArn"], ctx))
    policy.tags = remove_tags(policy.tags, p["TagKeys"], ignore_case=False)
    await svc.store.save_policy(policy)


async def list_policy_tags(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    policy = svc.managed_policy(p["PolicyArn"])
    return tag_page([] if isinstance(policy, managed.AwsManagedPolicy) else policy.tags, p)


async def list_entities_for_policy(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    """The roles a policy is attached to or bounds (only roles can hold policies here)."""
    arn = svc.managed_policy(p["PolicyArn"]).arn
    usage = p.get("PolicyUsageFilter")
    prefix = p.get("PathPrefix") or "/"
    roles = []
    if p.get("EntityFilter") in (None, "Role"):
        for (account, _), role in svc.store.roles.items():
            attached = usage != "PermissionsBoundary" and arn in role.attached
            bounded = usage != "PermissionsPolicy" and role.permissions_boundary == arn
            if account == ctx.account and role.path.startswith(prefix) and (attached or bounded):
                roles.append(role)
    roles.sort(key=lambda r: r.key)
    out = page(roles, p, lambda r: r.key, "PolicyRoles", lambda r: {"RoleName": r.name, "RoleId": r.role_id})
    return {"PolicyGroups": [], "PolicyUsers": [], **out}


OPERATIONS = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "DeletePolicy": delete_policy,
    "ListPolicies": list_policies,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "TagPolicy": tag_policy,
    "UntagPolicy": untag_policy,
    "ListPolicyTags": list_policy_tags,
    "ListEntitiesForPolicy": list_entities_for_policy,
}
