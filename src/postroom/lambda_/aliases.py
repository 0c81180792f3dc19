"""Aliases: named pointers to a version, optionally splitting traffic with a second one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from postroom.lambda_.errors import (
    alias_not_found,
    check_length,
    conflict,
    constraint,
    function_not_found,
    invalid_parameter,
    precondition_failed,
)
from postroom.lambda_.names import ALIAS, LATEST, function_arn, is_version, parse_function
from postroom.lambda_.paging import page, with_marker
from postroom.protocol.context import RequestContext
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None
_VERSION = re.compile(r"^(\$LATEST|[0-9]+)$")


def _check_name(name: str) -> None:
    check_length(name, "name", 128, 1)
    if not ALIAS.match(name):
        raise constraint(
            name,
            "name",
            "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        )


def _check_version(fn: FunctionRecord, version: str) -> None:
    if not _VERSION.match(version):
        raise constraint(
            version,
            "functionVersion",
            "Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)",
        )
    if version not in fn.versions:
        raise function_not_found(function_arn(fn.region, fn.account, fn.name, version))


def _routing(fn: FunctionRecord, primary: str, config: dict[str, Any] | None) -> Doc | None:
    weights = (config or {}).get("AdditionalVersionWeights") or {}
    if not weights:
        return None
    if len(weights) > 1:
        raise invalid_parameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    for version, weight in weights.items():
        if not 0.0 <= weight <= 1.0:
            raise constraint(
                f"{{{version}={float(weight)}}}",
                "routingConfig.additionalVersionWeights",
                "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must "
                "have value greater than or equal to 0.0, Member must not be null]",
            )
        if not is_version(version):
            raise constraint(
                f"{{{version}={float(weight)}}}",
                "routingConfig.additionalVersionWeights",
                "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must "
                "have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, "
                "Member must not be null]",
            )
        if version == primary:
            raise invalid_parameter(
                f"Invalid function version {primary}. Function version {primary} is already included in routing "
                "configuration."
            )
        if primary == LATEST:
            raise invalid_parameter(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        _check_version(fn, version)
    return {"AdditionalVersionWeights": {k: float(v) for k, v in weights.items()}}


def alias_view(fn: FunctionRecord, alias: Doc) -> Doc:
    out = dict(alias)
    out["AliasArn"] = function_arn(fn.region, fn.account, fn.name, alias["Name"])
    return out


async def create_alias(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    name, version = p["Name"], p["FunctionVersion"]
    _check_name(name)
    check_length(p.get("Description"), "description", 256)
    async with svc.lock:
        fn = svc.catalog.functions.get(ref.key)
        if fn is None:
            raise function_not_found(ref.qualified_arn(version))
        _check_version(fn, version)
        if name in fn.aliases:
            raise conflict(
                f"Alias already exists: {function_arn(fn.region, fn.account, fn.name, name)}"
            )
        alias: Doc = {
            "Name": name,
            "FunctionVersion": version,
            "Description": p.get("Description") or "",
            "RevisionId": svc.new_revision(),
        }
        routing = _routing(fn, version, p.get("RoutingConfig"))
        if routing:
            alias["RoutingConfig"] = routing
        changed = svc.copy(fn)
        changed.aliases[name] = alias
        await svc.save(changed)
    return alias_view(changed, alias)


def _alias(fn: FunctionRecord, name: str) -> Doc:
    alias = fn.aliases.get(name)
    if alias is None:
        raise alias_not_found(function_arn(fn.region, fn.account, fn.name, name))
    return alias


async def get_alias(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    _check_name(p["Name"])
    fn = svc.function(ref)
    return alias_view(fn, _alias(fn, p["Name"]))


async def update_alias(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    _check_name(p["Name"])
    check_length(p.get("Description"), "description", 256)
    async with svc.lock:
        fn = svc.function(ref)
        alias = dict(_alias(fn, p["Name"]))
        if p.get("RevisionId") and p["RevisionId"] != alias["RevisionId"]:
            raise precondition_failed()
        if p.get("FunctionVersion") is not None:
            _check_version(fn, p["FunctionVersion"])
            alias["FunctionVersion"] = p["FunctionVersion"]
        if p.get("Description") is not None:
            alias["Description"] = p["Description"]
        if p.get("RoutingConfig") is not None:
            routing = _routing(fn, alias["FunctionVersion"], p["RoutingConfig"])
            alias.pop("RoutingConfig", None)
            if routing:
                alias["RoutingConfig"] = routing
        elif alias.get("RoutingConfig"):
            _routing(fn, alias["FunctionVersion"], alias["RoutingConfig"])
        alias["RevisionId"] = svc.new_revision()
        changed = svc.copy(fn)
        changed.aliases[alias["Name"]] = alias
        await svc.save(changed)
    return alias_view(changed, alias)


async def delete_alias(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    _check_name(p["Name"])
    async with svc.lock:
        fn = svc.function(ref)
        if p["Name"] in fn.aliases:  # deleting an alias that is not there succeeds, as on AWS
            changed = svc.copy(fn)
            del changed.aliases[p["Name"]]
            changed.event_invoke_configs.pop(p["Name"], None)
            changed.policies.pop(p["Name"], None)
            await svc.save(changed)
    return None


async def list_aliases(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    fn = svc.function(ref)
    wanted = p.get("FunctionVersion")
    aliases = sorted(
        (a for a in fn.aliases.values() if wanted is None or a["FunctionVersion"] == wanted),
        key=lambda a: a["Name"],
    )
    chunk, marker = page(aliases, lambda a: a["Name"], p.get("Marker"), p.get("MaxItems"))
    return with_marker({"Aliases": [alias_view(fn, a) for a in chunk]}, marker)


OPERATIONS = {
    "CreateAlias": create_alias,
    "GetAlias": get_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
}
