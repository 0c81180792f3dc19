"""Records to the dicts IAM's output shapes describe (which members each answer carries
follows AWS: CreateRole omits MaxSessionDuration and RoleLastUsed, ListRoles omits tags)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from postroom.iam.documents import encoded
from postroom.iam.managed import AwsManagedPolicy
from postroom.storage.iam import PolicyRecord, PolicyVersionRecord, RoleRecord, UserRecord


def timestamp(ms: int) -> str:
    """IAM's timestamp form: ISO 8601 in UTC, whole seconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tags(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs]


def role(record: RoleRecord, view: str) -> dict[str, Any]:
    """``view``: "create" (CreateRole: no description, session limit or last use),
    "describe" (UpdateRoleDescription: "create" and the description), "get" (GetRole) or
    "list" (ListRoles: no tags, boundary or last use)."""
    out: dict[str, Any] = {
        "Path": record.path,
        "RoleName": record.name,
        "RoleId": record.role_id,
        "Arn": record.arn,
        "CreateDate": timestamp(record.created_at),
        "AssumeRolePolicyDocument": encoded(record.assume_role_policy),
    }
    if record.description is not None and view != "create":
        out["Description"] = record.description
    if view in ("get", "list"):
        out["MaxSessionDuration"] = record.max_session_duration
    if view != "list" and record.permissions_boundary:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": record.permissions_boundary}
    if view != "list" and record.tags:
        out["Tags"] = tags(record.tags)
    if view == "get":
        last_used: dict[str, Any] = {}
        if record.last_used_at is not None:
            last_used = {"LastUsedDate": timestamp(record.last_used_at), "Region": record.last_used_region}
        out["RoleLastUsed"] = last_used
    return out


def policy(
    record: PolicyRecord | AwsManagedPolicy, attachments: int, view: str, boundary_uses: int = 0
) -> dict[str, Any]:
    """A managed policy; ``view`` "get" adds the description and tags."""
    if isinstance(record, AwsManagedPolicy):
        default, created, updated = record.version_id, record.created_at, record.created_at
        description, tag_list = record.description, []
    else:
        default, created, updated = record.default_version, record.created_at, record.updated_at
        description, tag_list = record.description, tags(record.tags)
    out: dict[str, Any] = {
        "PolicyName": record.name,
        "PolicyId": record.policy_id,
        "Arn": record.arn,
        "Path": record.path,
        "DefaultVersionId": default,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": boundary_uses,
        "IsAttachable": True,
        "CreateDate": timestamp(created),
        "UpdateDate": timestamp(updated),
    }
    if view == "get":
        if description is not None:
            out["Description"] = description
        out["Tags"] = tag_list
    elif view == "create" and tag_list:
        out["Tags"] = tag_list
    return out


def policy_version(version: PolicyVersionRecord, default: str, with_document: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == default,
        "CreateDate": timestamp(version.created_at),
    }
    if with_document:
        out["Document"] = encoded(version.document)
    return out


def user(record: UserRecord, with_tags: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": record.path,
        "UserName": record.name,
        "UserId": record.user_id,
        "Arn": record.arn,
        "CreateDate": timestamp(record.created_at),
    }
    if with_tags and record.tags:
        out["Tags"] = tags(record.tags)
    return out
