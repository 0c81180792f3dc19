"""Asynchronous-invocation settings per function, version or alias: retries, event age,
and on-success/on-failure destinations (stored here; the async queue reads them)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from postroom.lambda_ import limits
from postroom.lambda_.errors import check_range, constraint, invalid_parameter, not_found
from postroom.lambda_.names import LATEST, FunctionRef, parse_function
from postroom.lambda_.paging import page, with_marker
from postroom.protocol.context import RequestContext
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None
_DESTINATION_RULE = (
    r"Member must satisfy regular expression pattern: ^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"
    r"([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
_DESTINATION = re.compile(
    r"^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)$"
)


def _missing_config(ref: FunctionRef) -> Exception:
    return not_found(
        f"The function {ref.qualified_arn(ref.qualifier or LATEST)} doesn't have an EventInvokeConfig"
    )


def _target(svc: LambdaService, ref: FunctionRef, *, must_exist: bool) -> FunctionRecord:
    fn = svc.catalog.functions.get(ref.key)
    if fn is None:
        if must_exist:
            raise _missing_config(ref)
        raise not_found("The function doesn't exist.")
    if ref.qualifier and ref.qualifier not in fn.versions and ref.qualifier not in fn.aliases:
        if must_exist:
            raise _missing_config(ref)
        raise not_found("The function doesn't exist.")
    return fn


def _check_destinations(svc: LambdaService, ref: FunctionRef, config: dict[str, Any]) -> Doc:
    out: Doc = {}
    bad = False
    for side, path in (("OnSuccess", "onSuccess"), ("OnFailure", "onFailure")):
        arn = (config.get(side) or {}).get("Destination")
        out[side] = {}
        if not arn:
            continue
        if not _DESTINATION.match(arn):
            raise constraint(arn, f"destinationConfig.{path}.destination", _DESTINATION_RULE)
        service = arn.split(":")[2]
        if service == "lambda":
            target = parse_function(
                arn, ref.account, ref.region, path=f"destinationConfig.{path}.destination"
            )
            if target.key not in svc.catalog.functions:
                raise invalid_parameter(f"The destination ARN {arn} is invalid.")
            if target.name == ref.name and target.account == ref.account:
                raise invalid_parameter(
                    "You can't specify the function as a destination for itself."
                )
        elif service not in ("sqs", "sns", "events"):
            bad = True
        out[side] = {"Destination": arn}
    if bad:
        parts = []
        for side in ("OnSuccess", "OnFailure"):
            arn = out[side].get("Destination")
            parts.append(f"{side}(destination={arn})" if arn else "null")
        raise invalid_parameter(
            f"The provided destination config DestinationConfig(onSuccess={parts[0]}, onFailure={parts[1]}) is invalid."
        )
    return out


def _check(p: dict[str, Any]) -> None:
    if (
        p.get("MaximumRetryAttempts") is None
        and p.get("MaximumEventAgeInSeconds") is None
        and p.get("DestinationConfig") is None
    ):
        raise invalid_parameter(
            "You must specify at least one of error handling or destination setting."
        )
    check_range(p.get("MaximumRetryAttempts"), "maximumRetryAttempts", 0, limits.RETRY_ATTEMPTS_MAX)
    check_range(
        p.get("MaximumEventAgeInSeconds"),
        "maximumEventAgeInSeconds",
        limits.EVENT_AGE_MIN,
        limits.EVENT_AGE_MAX,
    )


def view(fn: FunctionRecord, qualifier: str, config: Doc) -> Doc:
    out = {k: v for k, v in config.items() if not k.startswith("_")}
    out["FunctionArn"] = f"arn:aws:lambda:{fn.region}:{fn.account}:function:{fn.name}:{qualifier}"
    return out


async def _write(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext, *, merge: bool
) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    _check(p)
    async with svc.lock:
        fn = _target(svc, ref, must_exist=False)
        qualifier = ref.qualifier or LATEST
        current = fn.event_invoke_configs.get(qualifier)
        if merge and current is None:
            raise _missing_config(ref)
        config: Doc = (
            dict(current)
            if merge and current
            else {"DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}}
        )
        if p.get("DestinationConfig") is not None:
            config["DestinationConfig"] = _check_destinations(svc, ref, p["DestinationConfig"])
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if p.get(key) is not None:
                config[key] = p[key]
        config["LastModified"] = svc.clock.now_ms() / 1000
        changed = svc.copy(fn)
        changed.event_invoke_configs[qualifier] = config
        await svc.save(changed)
    return view(changed, qualifier, config)


async def put_config(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return await _write(svc, p, ctx, merge=False)


async def update_config(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return await _write(svc, p, ctx, merge=True)


async def get_config(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    fn = _target(svc, ref, must_exist=True)
    qualifier = ref.qualifier or LATEST
    config = fn.event_invoke_configs.get(qualifier)
    if config is None:
        raise _missing_config(ref)
    return view(fn, qualifier, config)


async def delete_config(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    async with svc.lock:
        fn = _target(svc, ref, must_exist=True)
        qualifier = ref.qualifier or LATEST
        if qualifier not in fn.event_invoke_configs:
            raise _missing_config(ref)
        changed = svc.copy(fn)
        del changed.event_invoke_configs[qualifier]
        await svc.save(changed)
    return None


async def list_configs(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    fn = svc.catalog.functions.get(ref.key)
    if fn is None:
        raise not_found("The function doesn't exist.")
    items = sorted(fn.event_invoke_configs.items())
    chunk, marker = page(
        items, lambda item: item[0], p.get("Marker"), p.get("MaxItems"), maximum=50
    )
    return with_marker({"FunctionEventInvokeConfigs": [view(fn, q, c) for q, c in chunk]}, marker)


OPERATIONS = {
    "PutFunctionEventInvokeConfig": put_config,
    "UpdateFunctionEventInvokeConfig": update_config,
    "GetFunctionEventInvokeConfig": get_config,
    "DeleteFunctionEventInvokeConfig": delete_config,
    "ListFunctionEventInvokeConfigs": list_configs,
}
