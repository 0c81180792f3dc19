"""Invoke and InvokeAsync: synchronous invocations run now in an execution environment;
``Event`` invocations are stored in the durable async queue and answered 202 once on disk."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import orjson

from postroom.ids import new_id
from postroom.lambda_ import limits
from postroom.lambda_.resolve import ResolvedFunction, resolve
from postroom.lambda_.stats import InvocationSummary
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.runtime.api import Invocation, InvocationResult, Throttled
from postroom.storage.invocations import AsyncEvent

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def too_large(limit: int) -> AWSError:
    # AWS answers oversized payloads with a code that is not in the model.
    return AWSError(
        "RequestEntityTooLargeException",
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation", status=413,
    )


def check_payload(payload: bytes | None, limit: int) -> bytes:
    """The payload to hand to the function: JSON, within ``limit``; empty means ``{}``."""
    payload = payload or b""
    if len(payload) > limit:
        raise too_large(limit)
    if not payload.strip():
        return b"{}"
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise AWSError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc.args[0]}",
            type_name="InvalidRequestContentException",
        ) from None
    return payload


def check_active(svc: LambdaService, fn: ResolvedFunction) -> None:
    if fn.state != "Active":
        raise svc.model.error(
            "ResourceConflictException",
            "The operation cannot be performed at this time. The function is currently in the "
            f"following state: {fn.state}",
        )


async def run_sync(
    svc: LambdaService, fn: ResolvedFunction, payload: bytes, *, client_context: str | None = None,
    request_id: str | None = None,
) -> InvocationResult:
    """Run one invocation now; throttling becomes TooManyRequestsException."""
    assert svc.environments is not None
    invocation = Invocation(request_id or new_id(), payload, fn.qualified_arn, client_context)
    counters = svc.counters.of(fn.function_arn)
    reserved = fn.reserved_concurrency
    try:
        if reserved is None:  # the account's unreserved pool: counted by this node's pool alone
            result = await svc.environments.invoke(fn.spec, invocation)
        else:
            async with svc.slots.hold(fn.function_arn, reserved):  # counted in storage, on every node
                result = await svc.environments.invoke(fn.spec, invocation, reserved_concurrency=reserved)
    except Throttled as exc:
        counters.throttles += 1
        raise svc.model.error("TooManyRequestsException", "Rate Exceeded.", Reason=exc.reason) from None
    if len(result.payload) > limits.MAX_SYNC_PAYLOAD:
        result.payload = orjson.dumps({
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
                            f"({limits.MAX_SYNC_PAYLOAD} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        })
        result.function_error = "Unhandled"
    counters.invocations += 1
    if result.function_error:
        counters.errors += 1
    counters.duration.observe(result.duration_ms / 1000)
    counters.recent.append(InvocationSummary(
        svc.clock.now_ms(), invocation.request_id, fn.executed_version, result.duration_ms,
        result.function_error, result.error_type,
    ))
    return result


async def invoke(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    invocation_type = p.get("InvocationType") or "RequestResponse"
    if invocation_type not in INVOCATION_TYPES:
        raise svc.model.error(
            "InvalidParameterValueException",
            f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
        )
    fn = await resolve(svc, ctx.account, ctx.region, p["FunctionName"], p.get("Qualifier"))
    if invocation_type == "DryRun":
        check_active(svc, fn)
        return {"StatusCode": 204}
    if invocation_type == "Event":
        payload = check_payload(p.get("Payload"), limits.MAX_ASYNC_PAYLOAD)
        check_active(svc, fn)
        await enqueue(svc, fn, ctx.account, ctx.region, payload, p.get("Qualifier"))
        return {"StatusCode": 202}
    payload = check_payload(p.get("Payload"), limits.MAX_SYNC_PAYLOAD)
    check_active(svc, fn)
    result = await run_sync(svc, fn, payload, client_context=p.get("ClientContext"))
    out: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": fn.executed_version}
    if result.function_error:
        out["FunctionError"] = result.function_error
    if p.get("LogType") == "Tail":
        out["LogResult"] = base64.b64encode(result.log_tail.encode()[-limits.LOG_TAIL_BYTES :]).decode()
    return out


async def enqueue(
    svc: LambdaService, fn: ResolvedFunction, account: str, region: str, payload: bytes, qualifier: str | None,
) -> str:
    """Store an asynchronous invocation; its request id."""
    now = svc.clock.now_ms()
    request_id = new_id()
    event = AsyncEvent(request_id, account, region, fn.function_arn, qualifier, payload, now, now)
    await svc.async_invoker.enqueue(event)
    return request_id


async def invoke_async(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    """The deprecated InvokeAsync: an Event invocation answering ``Status: 202``."""
    fn = await resolve(svc, ctx.account, ctx.region, p["FunctionName"], None)
    payload = check_payload(p.get("InvokeArgs"), limits.MAX_ASYNC_PAYLOAD)
    check_active(svc, fn)
    await enqueue(svc, fn, ctx.account, ctx.region, payload, None)
    return {"Status": 202}


OPERATIONS = {"Invoke": invoke, "InvokeAsync": invoke_async}
