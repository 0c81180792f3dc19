"""Layers: publishing, reading, listing and deleting layer versions, and their policies."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import orjson

from postroom.lambda_.config import runtimes
from postroom.lambda_.errors import (
    conflict,
    constraint,
    invalid_parameter,
    not_found,
    precondition_failed,
    resource_not_found,
    validation,
)
from postroom.lambda_.names import layer_arn, parse_layer
from postroom.lambda_.paging import page, with_marker
from postroom.protocol.context import RequestContext
from postroom.storage.functions import Doc, LayerRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None
_ARCHITECTURES = ("x86_64", "arm64")
_LISTED = (
    "LayerVersionArn",
    "Version",
    "Description",
    "CreatedDate",
    "CompatibleRuntimes",
    "LicenseInfo",
    "CompatibleArchitectures",
)
_LAYER_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the "
    "latest Revision Id"
)


def _check_compatibility(
    runtimes_given: list[str] | None, architectures: list[str] | None, *, single: bool
) -> None:
    errors = []
    known = runtimes()
    if runtimes_given:
        prefix = "compatibleRuntime" if single else "compatibleRuntimes"
        if len(runtimes_given) > 15:
            errors.append(
                f"Value '{runtimes_given}' at '{prefix}' failed to satisfy constraint: Member must have length less than or equal to 15"
            )
        elif any(r not in known for r in runtimes_given):
            value = runtimes_given[0] if single else f"[{', '.join(runtimes_given)}]"
            errors.append(
                f"Value '{value}' at '{prefix}' failed to satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(known)}]"
            )
    if architectures:
        prefix = "compatibleArchitecture" if single else "compatibleArchitectures"
        if len(architectures) > 2:
            errors.append(
                f"Value '[{', '.join(architectures)}]' at '{prefix}' failed to satisfy constraint: Member must have length less than or equal to 2"
            )
        elif any(a not in _ARCHITECTURES for a in architectures):
            value = architectures[0] if single else f"[{', '.join(architectures)}]"
            errors.append(
                f"Value '{value}' at '{prefix}' failed to satisfy constraint: Member must satisfy enum value set: "
                "[x86_64, arm64]"
            )
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise validation(f"{len(errors)} validation error{plural} detected: {'; '.join(errors)}")


def _view(svc: LambdaService, ctx: RequestContext, doc: Doc) -> Doc:
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    out["Content"] = {**doc["Content"], "Location": svc.code_location(ctx, doc["_sha"])}
    return out


def _find(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> tuple[LayerRecord | None, Doc | None, int]:
    account, region, name, _ = parse_layer(p["LayerName"], ctx.account, ctx.region)
    number = p["VersionNumber"]
    layer = svc.catalog.layers.get((account, region, name))
    return layer, (layer.versions.get(number) if layer else None), number


async def publish_layer_version(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    account, region, name, _ = parse_layer(p["LayerName"], ctx.account, ctx.region)
    if account != ctx.account or region != ctx.region:
        raise invalid_parameter("Layers can only be published in the caller's account and region.")
    _check_compatibility(
        p.get("CompatibleRuntimes"), p.get("CompatibleArchitectures"), single=False
    )
    content = p["Content"] or {}
    if content.get("S3Bucket"):
        raise invalid_parameter(
            "Layer content from S3 (S3Bucket/S3Key) is not supported by Postroom. Upload a ZipFile instead."
        )
    if content.get("ZipFile") is None:
        raise invalid_parameter("Please provide a source for layer content.")
    stored = await svc.layer_code.store(content["ZipFile"])
    async with svc.lock:
        current = svc.catalog.layers.get((account, region, name))
        layer = copy.deepcopy(current) if current else LayerRecord(account, region, name)
        number = layer.next_version
        layer.next_version += 1
        doc: Doc = {
            "Content": {"CodeSha256": stored.sha256, "CodeSize": stored.size},
            "LayerArn": layer_arn(region, account, name),
            "LayerVersionArn": layer_arn(region, account, name, number),
            "Description": p.get("Description") or "",
            "CreatedDate": svc.now_text(),
            "Version": number,
            "_sha": stored.sha_hex,
        }
        for key in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if p.get(key):
                doc[key] = p[key]
        layer.versions[number] = doc
        await svc.catalog.save_layer(layer)
    return _view(svc, ctx, doc)


async def get_layer_version(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    if p["VersionNumber"] < 1:
        raise invalid_parameter("Layer Version Cannot be less than 1")
    _, doc, _ = _find(svc, p, ctx)
    if doc is None:
        raise resource_not_found()
    return _view(svc, ctx, doc)


async def get_layer_version_by_arn(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    arn = p["Arn"]
    try:
        account, region, name, version = parse_layer(arn, ctx.account, ctx.region)
    except Exception:
        version = None
    if version is None or not arn.startswith("arn:"):
        raise constraint(
            arn,
            "arn",
            "Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+",
        )
    layer = svc.catalog.layers.get((account, region, name))
    doc = layer.versions.get(version) if layer else None
    if doc is None:
        raise resource_not_found()
    return _view(svc, ctx, doc)


def _matches(doc: Doc, runtime: str | None, architecture: str | None) -> bool:
    if runtime and runtime not in (doc.get("CompatibleRuntimes") or []):
        return False
    return not (architecture and architecture not in (doc.get("CompatibleArchitectures") or []))


async def list_layers(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    runtime, architecture = p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
    _check_compatibility(
        [runtime] if runtime else None, [architecture] if architecture else None, single=True
    )
    items = []
    for layer in sorted(svc.catalog.layers.values(), key=lambda la: la.name):
        if layer.account != ctx.account or layer.region != ctx.region:
            continue
        matching = [
            v for n, v in sorted(layer.versions.items()) if _matches(v, runtime, architecture)
        ]
        if matching:
            latest = {k: matching[-1][k] for k in _LISTED if k in matching[-1]}
            items.append(
                {
                    "LayerName": layer.name,
                    "LayerArn": layer_arn(layer.region, layer.account, layer.name),
                    "LatestMatchingVersion": latest,
                }
            )
    chunk, marker = page(
        items, lambda item: item["LayerName"], p.get("Marker"), p.get("MaxItems"), maximum=50
    )
    return with_marker({"Layers": chunk}, marker)


async def list_layer_versions(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    runtime, architecture = p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
    _check_compatibility(
        [runtime] if runtime else None, [architecture] if architecture else None, single=True
    )
    account, region, name, _ = parse_layer(p["LayerName"], ctx.account, ctx.region)
    layer = svc.catalog.layers.get((account, region, name))
    docs = sorted((layer.versions.values() if layer else []), key=lambda d: -d["Version"])
    items = [
        {k: d[k] for k in _LISTED if k in d} for d in docs if _matches(d, runtime, architecture)
    ]
    chunk, marker = page(
        items,
        lambda item: f"{10**12 - item['Version']:013d}",
        p.get("Marker"),
        p.get("MaxItems"),
        maximum=50,
    )
    return with_marker({"LayerVersions": chunk}, marker)


async def delete_layer_version(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    if p["VersionNumber"] < 1:
        raise invalid_parameter("Layer Version Cannot be less than 1")
    async with svc.lock:
        layer, doc, number = _find(svc, p, ctx)
        if layer is not None and doc is not None:  # deleting a missing version succeeds, as on AWS
            changed = copy.deepcopy(layer)
            del changed.versions[number]
            changed.policies.pop(number, None)
            await svc.catalog.save_layer(changed)
            # AWS keeps a deleted version's content while functions use it; so does this.
            await svc.layer_code.forget_unused([doc["_sha"]])
    return None


def _version_or_missing(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> tuple[LayerRecord, Doc, int]:
    layer, doc, number = _find(svc, p, ctx)
    if layer is None or doc is None:
        account, region, name, _ = parse_layer(p["LayerName"], ctx.account, ctx.region)
        raise not_found(f"Layer version {layer_arn(region, account, name, number)} does not exist.")
    return layer, doc, number


async def add_layer_version_permission(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    if p["Action"] != "lambda:GetLayerVersion":
        raise constraint(
            p["Action"],
            "action",
            "Member must satisfy regular expression pattern: lambda:GetLayerVersion",
        )
    principal = p["Principal"]
    async with svc.lock:
        layer, doc, number = _version_or_missing(svc, p, ctx)
        policy = layer.policies.get(number) or {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [],
            "_revision": "",
        }
        if any(s["Sid"] == p["StatementId"] for s in policy["Statement"]):
            raise conflict(
                f"The statement id ({p['StatementId']}) provided already exists. Please provide a new statement id, "
                "or remove the existing statement."
            )
        if p.get("RevisionId") and p["RevisionId"] != policy["_revision"]:
            raise precondition_failed(_LAYER_REVISION)
        statement: Doc = {
            "Sid": p["StatementId"],
            "Effect": "Allow",
            "Principal": principal
            if principal == "*"
            else {"AWS": f"arn:aws:iam::{principal}:root"},
            "Action": p["Action"],
            "Resource": doc["LayerVersionArn"],
        }
        if p.get("OrganizationId"):
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": p["OrganizationId"]}}
        changed = copy.deepcopy(layer)
        changed.policies[number] = {
            **policy,
            "Statement": [*policy["Statement"], statement],
            "_revision": svc.new_revision(),
        }
        await svc.catalog.save_layer(changed)
    return {
        "Statement": orjson.dumps(statement).decode(),
        "RevisionId": changed.policies[number]["_revision"],
    }


async def remove_layer_version_permission(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    async with svc.lock:
        layer, _, number = _version_or_missing(svc, p, ctx)
        policy = layer.policies.get(number)
        if policy is None or not any(s["Sid"] == p["StatementId"] for s in policy["Statement"]):
            raise not_found(f"Statement {p['StatementId']} is not found in resource policy.")
        if p.get("RevisionId") and p["RevisionId"] != policy["_revision"]:
            raise precondition_failed(_LAYER_REVISION)
        changed = copy.deepcopy(layer)
        kept = [s for s in policy["Statement"] if s["Sid"] != p["StatementId"]]
        if kept:
            changed.policies[number] = {
                **policy,
                "Statement": kept,
                "_revision": svc.new_revision(),
            }
        else:
            del changed.policies[number]
        await svc.catalog.save_layer(changed)
    return None


async def get_layer_version_policy(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    layer, _, number = _version_or_missing(svc, p, ctx)
    policy = layer.policies.get(number)
    if policy is None:
        raise not_found("No policy is associated with the given resource.")
    shown = {k: v for k, v in policy.items() if not k.startswith("_")}
    return {"Policy": orjson.dumps(shown).decode(), "RevisionId": policy["_revision"]}


OPERATIONS = {
    "PublishLayerVersion": publish_layer_version,
    "GetLayerVersion": get_layer_version,
    "GetLayerVersionByArn": get_layer_version_by_arn,
    "ListLayers": list_layers,
    "ListLayerVersions": list_layer_versions,
    "DeleteLayerVersion": delete_layer_version,
    "AddLayerVersionPermission": add_layer_version_permission,
    "RemoveLayerVersionPermission": remove_layer_version_permission,
    "GetLayerVersionPolicy": get_layer_version_policy,
}
