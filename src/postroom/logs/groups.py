"""Log group operations: create, delete, describe, retention and tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.logs import errors, limits
from postroom.logs.names import group_arn, parse_group_arn
from postroom.logs.tokens import opaque_token, parse_opaque_token
from postroom.protocol.context import RequestContext
from postroom.storage.logs import LogGroupRecord

if TYPE_CHECKING:
    from postroom.logs.service import LogsService


_PATTERN_MEMBERS = frozenset(
    ("logGroupName", "creationTime", "arn", "logGroupArn", "logGroupClass", "metricFilterCount"))


def describe_group(group: LogGroupRecord) -> dict[str, Any]:
    """A log group as DescribeLogGroups reports it."""
    arn = group_arn(group.region, group.account, group.name)
    out: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created_at,
        "metricFilterCount": 0,
        "arn": arn + ":*",
        "logGroupArn": arn,
        "storedBytes": max(group.stored_bytes, 0),
        "logGroupClass": group.log_group_class,
        "deletionProtectionEnabled": group.deletion_protection,
    }
    if group.retention_days is not None:
        out["retentionInDays"] = group.retention_days
    if group.kms_key_id:
        out["kmsKeyId"] = group.kms_key_id
    return out


def _check_tag_count(tags: dict[str, str], shape: str) -> None:
    if len(tags) > limits.MAX_TAGS:
        raise errors.too_many_tags(shape)


async def create_log_group(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    name = params["logGroupName"]
    if svc.store.group(ctx.account, ctx.region, name) is not None:
        raise errors.group_exists()
    tags = params.get("tags") or {}
    _check_tag_count(tags, "InvalidParameterException")
    record = LogGroupRecord(
        id=0, account=ctx.account, region=ctx.region, name=name, created_at=svc.clock.now_ms(),
        kms_key_id=params.get("kmsKeyId"), log_group_class=params.get("logGroupClass") or "STANDARD",
        deletion_protection=bool(params.get("deletionProtectionEnabled")), tags=dict(tags),
    )
    if await svc.store.create_group(record) is None:
        raise errors.group_exists()


async def delete_log_group(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    group = svc.group(ctx, params["logGroupName"])
    if group.deletion_protection:
        raise errors.validation(
            "Cannot delete log group with deletion protection enabled. Disable deletion protection first.")
    await svc.store.delete_group(group)


async def describe_log_groups(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    prefix = params.get("logGroupNamePrefix")
    pattern = params.get("logGroupNamePattern")
    if prefix is not None and pattern is not None:
        raise errors.invalid_parameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
    identifiers = params.get("logGroupIdentifiers")
    if identifiers is not None and (prefix is not None or pattern is not None):
        raise errors.invalid_parameter(
            "LogGroup identifiers and LogGroup name prefix or pattern are mutually exclusive parameters.")
    wanted_class = params.get("logGroupClass")
    after = ""
    if params.get("nextToken") is not None:
        after = str(parse_opaque_token(params["nextToken"], "groups").get("after", ""))
    names: set[str] | None = None
    if identifiers is not None:
        names = set()
        for ident in identifiers:
            parsed = parse_group_arn(ident) if ident.startswith("arn:") else (ctx.region, ctx.account, ident)
            if parsed is not None and parsed[:2] == (ctx.region, ctx.account):
                names.add(parsed[2])
    limit = params.get("limit") or limits.DEFAULT_DESCRIBE_LIMIT
    matching = sorted(
        (g for g in svc.store.groups_of(ctx.account, ctx.region)
         if g.name > after
         and (prefix is None or g.name.startswith(prefix))
         and (not pattern or pattern in g.name)
         and (names is None or g.name in names)
         and (wanted_class is None or g.log_group_class == wanted_class)),
        key=lambda g: g.name,
    )
    page = matching[:limit]
    described = [describe_group(g) for g in page]
    if pattern is not None:
        # A pattern search answers fewer members (as recorded from AWS).
        described = [{k: v for k, v in d.items() if k in _PATTERN_MEMBERS} for d in described]
    out: dict[str, Any] = {"logGroups": described}
    if len(matching) > limit:
        out["nextToken"] = opaque_token("groups", {"after": page[-1].name})
    return out


async def put_retention_policy(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    days = params["retentionInDays"]
    if days not in limits.RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in limits.RETENTION_DAYS)
        raise errors.invalid_parameter(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy"
            f" constraint: Member must satisfy enum value set: [{allowed}]")
    group = svc.group(ctx, params["logGroupName"])
    group.retention_days = days
    await svc.store.save_group(group)
    svc.retention.wake()


async def put_log_group_deletion_protection(
    svc: LogsService, params: dict[str, Any], ctx: RequestContext
) -> None:
    group = svc.group_of(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]})
    group.deletion_protection = bool(params["deletionProtectionEnabled"])
    await svc.store.save_group(group)


async def delete_retention_policy(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    group = svc.group(ctx, params["logGroupName"])
    group.retention_days = None
    await svc.store.save_group(group)


async def _tag(svc: LogsService, group: LogGroupRecord, tags: dict[str, str], shape: str) -> None:
    merged = {**group.tags, **tags}
    _check_tag_count(merged, shape)
    group.tags = merged
    await svc.store.save_group(group)


async def _untag(svc: LogsService, group: LogGroupRecord, keys: list[str]) -> None:
    group.tags = {k: v for k, v in group.tags.items() if k not in set(keys)}
    await svc.store.save_group(group)


def _group_by_arn(svc: LogsService, arn: str, ctx: RequestContext) -> LogGroupRecord:
    parsed = parse_group_arn(arn)
    if parsed is None:
        if arn.startswith("arn:") and ":logs:" in arn:
            raise errors.group_not_found()  # destinations and other resources: none here
        raise errors.invalid_parameter(f"Invalid resource ARN: {arn}")
    region, account, name = parsed
    if (region, account) != (ctx.region, ctx.account):
        raise errors.group_not_found()
    return svc.group(ctx, name)


async def tag_log_group(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    await _tag(svc, svc.group(ctx, params["logGroupName"]), params["tags"], "InvalidParameterException")


async def untag_log_group(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    await _untag(svc, svc.group(ctx, params["logGroupName"]), params["tags"])


async def list_tags_log_group(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return {"tags": dict(svc.group(ctx, params["logGroupName"]).tags)}


async def tag_resource(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    await _tag(svc, _group_by_arn(svc, params["resourceArn"], ctx), params["tags"], "TooManyTagsException")


async def untag_resource(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    await _untag(svc, _group_by_arn(svc, params["resourceArn"], ctx), params["tagKeys"])


async def list_tags_for_resource(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return {"tags": dict(_group_by_arn(svc, params["resourceArn"], ctx).tags)}


OPERATIONS = {
    "CreateLogGroup": create_log_group,
    "DeleteLogGroup": delete_log_group,
    "DescribeLogGroups": describe_log_groups,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "PutLogGroupDeletionProtection": put_log_group_deletion_protection,
    "TagLogGroup": tag_log_group,
    "UntagLogGroup": untag_log_group,
    "ListTagsLogGroup": list_tags_log_group,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
