"""Function operations: create, read, list, update code and configuration, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.lambda_ import limits
from postroom.lambda_.code import HOT_RELOAD_BUCKET, HOT_RELOAD_SHA, hot_reload_dir
from postroom.lambda_.config import apply_settings, configuration, listed, version_configuration
from postroom.lambda_.errors import (
    conflict,
    constraint,
    invalid_parameter,
    precondition_failed,
    unsupported,
)
from postroom.lambda_.names import LATEST, check_new_name, is_alias, parse_function
from postroom.lambda_.paging import page, with_marker
from postroom.lambda_.tags import check_tags
from postroom.lambda_.versions import publish
from postroom.protocol.context import RequestContext
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None


async def store_code(svc: LambdaService, p: dict[str, Any]) -> Doc:
    """Store the package ``p`` (Code or UpdateFunctionCode members) names; its doc fields."""
    if p.get("ImageUri"):
        raise unsupported("PackageType Image (container image functions)")
    bucket = p.get("S3Bucket")
    if p.get("ZipFile") is not None:
        if bucket:
            raise invalid_parameter("Please provide only one of ZipFile or S3Bucket/S3Key.")
        stored = await svc.code.store(p["ZipFile"])
        return {
            "CodeSize": stored.size,
            "CodeSha256": stored.sha256,
            "_code": {"sha": stored.sha_hex},
        }
    if bucket == HOT_RELOAD_BUCKET:
        path = hot_reload_dir(p.get("S3Key"))
        return {"CodeSize": 0, "CodeSha256": HOT_RELOAD_SHA, "_code": {"dir": str(path)}}
    if bucket:
        raise invalid_parameter(
            "Function code from S3 (S3Bucket/S3Key) is not supported by Postroom. Upload a ZipFile, or use "
            "S3Bucket 'hot-reload' with an absolute local directory as S3Key."
        )
    raise invalid_parameter("Please provide a source for function code.")


async def create_function(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    check_new_name(ref.name)
    code = p.get("Code") or {}
    if p.get("PackageType") == "Image" or code.get("ImageUri"):
        raise unsupported("PackageType Image (container image functions)")
    if p.get("PackageType") not in (None, "Zip"):
        raise constraint(
            p["PackageType"], "packageType", "Member must satisfy enum value set: [Image, Zip]"
        )
    if not p.get("Runtime") or not p.get("Handler"):
        raise invalid_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    if ref.key in svc.catalog.functions:
        raise conflict(f"Function already exist: {ref.name}")
    tags = check_tags(p.get("Tags") or {})
    doc: Doc = {
        "FunctionName": ref.name,
        "Description": "",
        "Timeout": limits.TIMEOUT_DEFAULT,
        "MemorySize": limits.MEMORY_DEFAULT,
        "Version": LATEST,
        "TracingConfig": {"Mode": "PassThrough"},
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": limits.EPHEMERAL_DEFAULT},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{ref.name}"},
    }
    apply_settings(
        svc,
        doc,
        {k: v for k, v in p.items() if k not in ("FunctionName", "Code")},
        ref.account,
        ref.region,
    )
    doc.update(await store_code(svc, code))
    doc["LastModified"] = svc.now_text()
    doc["RevisionId"] = svc.new_revision()
    async with svc.lock:
        if ref.key in svc.catalog.functions:
            raise conflict(f"Function already exist: {ref.name}")
        fn = FunctionRecord(
            ref.account, ref.region, ref.name, svc.clock.now_ms(), tags=tags, versions={LATEST: doc}
        )
        shown = doc
        if p.get("Publish"):
            shown = publish(svc, fn, None)
        await svc.save(fn)
    return configuration(fn, shown, state="Pending", update_status=None)


async def get_function(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    fn = svc.function(ref, qualified_error=ref.qualifier is not None)
    version = svc.version_of(fn, ref)
    config = version_configuration(fn, version, qualified=ref.qualifier is not None)
    if ref.qualifier is not None:
        config["FunctionArn"] = ref.qualified_arn()
    sha = fn.versions[version].get("_code", {}).get("sha")
    result: Doc = {"Configuration": config, "Code": {"RepositoryType": "S3"}}
    if sha:
        result["Code"]["Location"] = svc.code_location(ctx, sha)
    if fn.tags:
        result["Tags"] = dict(fn.tags)
    if fn.reserved_concurrency is not None:
        result["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
    return result


async def get_function_configuration(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    fn = svc.function(ref, qualified_error=ref.qualifier is not None)
    version = svc.version_of(fn, ref)
    config = version_configuration(fn, version, qualified=ref.qualifier is not None)
    if ref.qualifier is not None:
        config["FunctionArn"] = ref.qualified_arn()
    return config


async def list_functions(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    every = p.get("FunctionVersion")
    if every is not None and every != "ALL":
        raise constraint(every, "functionVersion", "Member must satisfy enum value set: [ALL]")
    functions = sorted(
        (
            fn
            for fn in svc.catalog.functions.values()
            if fn.account == ctx.account and fn.region == ctx.region
        ),
        key=lambda fn: fn.name,
    )
    items: list[tuple[FunctionRecord, str]] = []
    for fn in functions:
        versions = sorted(fn.versions, key=_version_order) if every else [LATEST]
        items.extend((fn, v) for v in versions)
    chunk, marker = page(
        items,
        lambda item: f"{item[0].name}:{_version_order(item[1])[1]:012d}",
        p.get("Marker"),
        p.get("MaxItems"),
    )
    configs = [listed(version_configuration(fn, v, qualified=bool(every))) for fn, v in chunk]
    return with_marker({"Functions": configs}, marker)


def _version_order(version: str) -> tuple[int, int]:
    return (0, 0) if version == LATEST else (1, int(version))


async def delete_function(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    if ref.qualifier == LATEST:
        raise invalid_parameter("$LATEST version cannot be deleted without deleting the function.")
    async with svc.lock:
        fn = svc.function(ref)
        if ref.qualifier is None:
            await svc.delete(fn)
            svc.retire_environments(ref.arn)
            svc.counters.forget(ref.arn)
            return {"StatusCode": 204}
        if is_alias(ref.qualifier):
            raise invalid_parameter("Deletion of aliases is not supported.")
        if ref.qualifier in fn.versions:
            users = sorted(name for name, a in fn.aliases.items() if _alias_uses(a, ref.qualifier))
            if users:
                raise conflict(
                    "Unable to delete version because the following aliases reference it: ["
                    + ", ".join(users)
                    + "]"
                )
            changed = svc.copy(fn)
            del changed.versions[ref.qualifier]
            changed.event_invoke_configs.pop(ref.qualifier, None)
            changed.policies.pop(ref.qualifier, None)
            await svc.save(changed)
            svc.retire_environments(ref.arn)
    return {"StatusCode": 204}


def _alias_uses(alias: Doc, version: str) -> bool:
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return alias["FunctionVersion"] == version or version in weights


def _only_latest(qualifier: str | None) -> None:
    if qualifier is not None and qualifier != LATEST:
        raise invalid_parameter(
            "Current operation does not support versions other than $LATEST. Please set version to $LATEST or "
            "do not set a version in your request."
        )


def _check_revision(fn: FunctionRecord, revision: str | None) -> None:
    if revision and fn.versions[LATEST]["RevisionId"] != revision:
        raise precondition_failed()


async def update_function_code(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    _only_latest(ref.qualifier)
    svc.function(ref)
    if p.get("DryRun"):
        raise unsupported("DryRun of UpdateFunctionCode")
    if p.get("PublishTo") or p.get("SourceKMSKeyArn"):
        raise unsupported("PublishTo and SourceKMSKeyArn")
    if p.get("Architectures") is not None:
        apply_settings(svc, {}, {"Architectures": p["Architectures"]}, ref.account, ref.region)
    _check_revision(svc.function(ref), p.get("RevisionId"))
    code = await store_code(svc, p)
    async with svc.lock:
        fn = svc.function(ref)
        _check_revision(fn, p.get("RevisionId"))
        changed = svc.copy(fn)
        doc = changed.versions[LATEST]
        doc.pop("_code", None)
        doc.update(code)
        if p.get("Architectures"):
            doc["Architectures"] = list(p["Architectures"])
        doc["LastModified"] = svc.now_text()
        doc["RevisionId"] = svc.new_revision()
        shown, qualified = doc, None
        if p.get("Publish"):
            shown = publish(svc, changed, None)
            qualified = shown["Version"]
        await svc.save(changed)
    svc.retire_environments(ref.arn)
    if qualified:
        return configuration(changed, shown, qualified=qualified)
    return configuration(changed, shown, update_status="InProgress")


async def update_function_configuration(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    _only_latest(ref.qualifier)
    async with svc.lock:
        fn = svc.function(ref)
        _check_revision(fn, p.get("RevisionId"))
        changed = svc.copy(fn)
        doc = changed.versions[LATEST]
        settings = {k: v for k, v in p.items() if k not in ("FunctionName", "RevisionId")}
        apply_settings(svc, doc, settings, ref.account, ref.region)
        doc["LastModified"] = svc.now_text()
        doc["RevisionId"] = svc.new_revision()
        await svc.save(changed)
    svc.retire_environments(ref.arn)
    return configuration(changed, doc, update_status="InProgress")


OPERATIONS = {
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function_configuration,
    "ListFunctions": list_functions,
    "DeleteFunction": delete_function,
    "UpdateFunctionCode": update_function_code,
    "UpdateFunctionConfiguration": update_function_configuration,
}
