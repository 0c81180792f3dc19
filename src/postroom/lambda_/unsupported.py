"""Features Postroom does not offer: a clear error naming the feature, or, for reads of a
function's unconfigured settings, the defaults AWS answers with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.lambda_.errors import (
    alias_not_found,
    error,
    not_found,
    resource_not_found,
    unsupported,
)
from postroom.lambda_.names import is_alias, parse_function
from postroom.protocol.context import RequestContext

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None

_FEATURES = {
    "Code signing": (
        "CreateCodeSigningConfig",
        "DeleteCodeSigningConfig",
        "GetCodeSigningConfig",
        "UpdateCodeSigningConfig",
        "PutFunctionCodeSigningConfig",
        "DeleteFunctionCodeSigningConfig",
        "ListFunctionsByCodeSigningConfig",
    ),
    "Provisioned concurrency": (
        "PutProvisionedConcurrencyConfig",
        "DeleteProvisionedConcurrencyConfig",
    ),
    "Function URLs": (
        "CreateFunctionUrlConfig",
        "UpdateFunctionUrlConfig",
        "DeleteFunctionUrlConfig",
    ),
    "Durable executions": (
        "CheckpointDurableExecution",
        "GetDurableExecution",
        "GetDurableExecutionHistory",
        "GetDurableExecutionState",
        "ListDurableExecutionsByFunction",
        "SendDurableExecutionCallbackFailure",
        "SendDurableExecutionCallbackHeartbeat",
        "SendDurableExecutionCallbackSuccess",
        "StopDurableExecution",
    ),
    "Capacity providers": (
        "CreateCapacityProvider",
        "DeleteCapacityProvider",
        "GetCapacityProvider",
        "UpdateCapacityProvider",
        "ListFunctionVersionsByCapacityProvider",
    ),
    "Recursion configuration": ("PutFunctionRecursionConfig",),
    "Scaling configuration": ("GetFunctionScalingConfig", "PutFunctionScalingConfig"),
    "Runtime management configuration": ("PutRuntimeManagementConfig",),
}


def _refuse(feature: str) -> Any:
    async def handler(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
        raise unsupported(feature)

    return handler


def _existing(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Any:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    svc.version_of(svc.function(ref, qualified_error=ref.qualifier is not None), ref)
    return ref


async def get_code_signing(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    _existing(svc, p, ctx)
    return {}


async def get_recursion(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    _existing(svc, p, ctx)
    return {"RecursiveLoop": "Terminate"}


async def get_runtime_management(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = _existing(svc, p, ctx)
    return {"UpdateRuntimeOn": "Auto", "FunctionArn": ref.qualified_arn()}


async def list_url_configs(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    if ref.key not in svc.catalog.functions:
        raise not_found("Function does not exist")
    return {"FunctionUrlConfigs": []}


async def get_url_config(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    # No function has a URL config: AWS's answer for a missing function or config alike.
    parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    raise resource_not_found()


async def list_provisioned(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    _existing(svc, p, ctx)
    return {"ProvisionedConcurrencyConfigs": []}


async def get_provisioned(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region, p.get("Qualifier"))
    fn = svc.catalog.functions.get(ref.key)
    if ref.qualifier and is_alias(ref.qualifier) and (fn is None or ref.qualifier not in fn.aliases):
        raise alias_not_found(ref.qualified_arn())
    _existing(svc, p, ctx)
    raise error(
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )


async def list_code_signing(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return {"CodeSigningConfigs": []}


async def list_capacity_providers(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    return {"CapacityProviders": []}


OPERATIONS: dict[str, Any] = {
    op: _refuse(feature) for feature, ops in _FEATURES.items() for op in ops
}
OPERATIONS.update(
    {
        "GetFunctionCodeSigningConfig": get_code_signing,
        "GetFunctionRecursionConfig": get_recursion,
        "GetRuntimeManagementConfig": get_runtime_management,
        "ListFunctionUrlConfigs": list_url_configs,
        "GetFunctionUrlConfig": get_url_config,
        "ListProvisionedConcurrencyConfigs": list_provisioned,
        "GetProvisionedConcurrencyConfig": get_provisioned,
        "ListCodeSigningConfigs": list_code_signing,
        "ListCapacityProviders": list_capacity_providers,
    }
)
