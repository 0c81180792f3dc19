"""The typed internal API other services use to run functions: SNS subscriptions (async),
queue pollers of event source mappings (sync), and function destinations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from postroom.lambda_.invoke import check_active, check_payload, enqueue, run_sync
from postroom.lambda_.limits import MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD
from postroom.lambda_.resolve import resolve
from postroom.lambda_.stats import InvocationSummary

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    function_arn: str
    timeout_s: int
    reserved_concurrency: int | None


@dataclass(frozen=True, slots=True)
class SyncResult:
    payload: bytes
    function_error: str | None
    executed_version: str


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """A function's invocations since the server started (every version together)."""

    function_arn: str
    invocations: int
    errors: int
    throttles: int
    duration_buckets: list[tuple[str, int]]  # (le in seconds, cumulative count), ending +Inf
    duration_sum_s: float


class LambdaApi:
    def __init__(self, svc: LambdaService) -> None:
        self._svc = svc

    async def function(self, function: str, *, account: str, region: str, qualifier: str | None = None) -> FunctionInfo:
        """What callers need to know of a function (raises ResourceNotFoundException)."""
        fn = await resolve(self._svc, account, region, function, qualifier)
        return FunctionInfo(fn.function_arn, fn.spec.timeout_s, fn.reserved_concurrency)

    async def invoke_async(self, function: str, payload: bytes, *, account: str, region: str) -> str:
        """Queue an Event invocation durably; its request id. Raises AWSError."""
        fn = await resolve(self._svc, account, region, function, None)
        payload = check_payload(payload, MAX_ASYNC_PAYLOAD)
        check_active(self._svc, fn)
        return await enqueue(self._svc, fn, account, region, payload, None)

    async def invoke(self, function: str, payload: bytes, *, account: str, region: str) -> SyncResult:
        """Run a RequestResponse invocation now. Raises AWSError (TooManyRequestsException
        when throttled)."""
        fn = await resolve(self._svc, account, region, function, None)
        payload = check_payload(payload, MAX_SYNC_PAYLOAD)
        check_active(self._svc, fn)
        result = await run_sync(self._svc, fn, payload)
        return SyncResult(result.payload, result.function_error, fn.executed_version)

    def stats(self) -> list[FunctionStats]:
        """Invocation counts and durations of every function invoked since start."""
        return [
            FunctionStats(
                arn, c.invocations, c.errors, c.throttles, c.duration.cumulative(), c.duration.sum
            )
            for arn, c in list(self._svc.counters.functions.items())
        ]

    def recent_invocations(self, function_arn: str) -> list[InvocationSummary]:
        """The latest synchronous runs of a function (newest first), async retries included."""
        counters = self._svc.counters.functions.get(function_arn)
        return list(reversed(counters.recent)) if counters is not None else []
