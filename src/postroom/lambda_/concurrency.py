"""Reserved concurrency per function, and the account's settings and usage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.lambda_ import limits
from postroom.lambda_.errors import check_range, function_not_found, invalid_parameter
from postroom.lambda_.names import LATEST, parse_function
from postroom.protocol.context import RequestContext

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None


def reserved_total(
    svc: LambdaService, account: str, region: str, leave_out: str | None = None
) -> int:
    return sum(
        fn.reserved_concurrency or 0
        for fn in svc.catalog.functions.values()
        if fn.account == account and fn.region == region and fn.name != leave_out
    )


def _unqualified(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Any:
    ref = parse_function(p["FunctionName"], ctx.account, ctx.region)
    if ref.qualifier is not None:
        raise invalid_parameter(
            "This operation is permitted on Lambda functions only. Aliases and versions do not support this "
            "operation. Please specify either a function name or an unqualified function ARN."
        )
    return ref


async def put_function_concurrency(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = _unqualified(svc, p, ctx)
    wanted = p["ReservedConcurrentExecutions"]
    async with svc.lock:
        fn = svc.catalog.functions.get(ref.key)
        if fn is None:  # AWS names $LATEST here, and says so before checking the value
            raise function_not_found(ref.qualified_arn(LATEST))
        check_range(wanted, "reservedConcurrentExecutions", 0, 2**31 - 1)
        unreserved = limits.ACCOUNT_CONCURRENCY - reserved_total(
            svc, ref.account, ref.region, leave_out=ref.name
        )
        if unreserved - wanted < limits.UNRESERVED_MINIMUM:
            raise invalid_parameter(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{limits.UNRESERVED_MINIMUM}]."
            )
        changed = svc.copy(fn)
        changed.reserved_concurrency = wanted
        # Checked again in storage: other nodes' reservations this cache has not heard of.
        await svc.save(changed, reserved_limit=limits.ACCOUNT_CONCURRENCY - limits.UNRESERVED_MINIMUM)
    return {"ReservedConcurrentExecutions": wanted}


async def get_function_concurrency(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    fn = svc.function(_unqualified(svc, p, ctx))
    if fn.reserved_concurrency is None:
        return {}
    return {"ReservedConcurrentExecutions": fn.reserved_concurrency}


async def delete_function_concurrency(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    ref = _unqualified(svc, p, ctx)
    async with svc.lock:
        fn = svc.function(ref)
        if fn.reserved_concurrency is not None:
            changed = svc.copy(fn)
            changed.reserved_concurrency = None
            await svc.save(changed)
    return None


async def get_account_settings(
    svc: LambdaService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    count = 0
    code_size = 0
    for fn in svc.catalog.functions.values():
        if fn.account == ctx.account and fn.region == ctx.region:
            count += 1
            code_size += sum(v.get("CodeSize", 0) for v in fn.versions.values())
    for layer in svc.catalog.layers.values():
        if layer.account == ctx.account and layer.region == ctx.region:
            code_size += sum(v["Content"]["CodeSize"] for v in layer.versions.values())
    return {
        "AccountLimit": {
            "TotalCodeSize": limits.TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": limits.UNZIPPED_MAX_BYTES,
            "CodeSizeZipped": limits.ZIP_MAX_BYTES,
            "ConcurrentExecutions": limits.ACCOUNT_CONCURRENCY,
            "UnreservedConcurrentExecutions": limits.ACCOUNT_CONCURRENCY
            - reserved_total(svc, ctx.account, ctx.region),
        },
        "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": count},
    }


OPERATIONS = {
    "PutFunctionConcurrency": put_function_concurrency,
    "GetFunctionConcurrency": get_function_concurrency,
    "DeleteFunctionConcurrency": delete_function_concurrency,
    "GetAccountSettings": get_account_settings,
}
