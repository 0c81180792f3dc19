"""LogsService: dispatches the CloudWatch Logs operations and runs the background work
(the internal writer's flushes and the retention sweep)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from postroom.clock import Clock
from postroom.leases import Leases
from postroom.logs import errors
from postroom.logs.api import LogsApi
from postroom.logs.names import parse_group_arn
from postroom.logs.retention import RetentionSweep
from postroom.logs.validate import check_constraints
from postroom.protocol.context import RequestContext
from postroom.protocol.model import load_service_model
from postroom.service import RawRoute
from postroom.storage.logs import LogGroupRecord, LogStore, LogStreamRecord

Operation = Callable[["LogsService", dict[str, Any], RequestContext], Awaitable[dict[str, Any] | None]]


class LogsService:
    """The CloudWatch Logs operations Postroom implements; the rest answer
    InvalidOperationException."""

    name = "logs"

    def __init__(self, store: LogStore, clock: Clock, leases: Leases | None = None) -> None:
        from postroom.logs import events, groups, streams

        self.model = load_service_model("logs")
        self.store = store
        self.clock = clock
        self.api = LogsApi(store, clock)
        self.retention = RetentionSweep(store, clock)
        # One node sweeps; a retention changed on another is applied at its next interval.
        # The writer is not leased: each node flushes the lines its own functions wrote.
        self._sweeping = (leases or Leases.private(clock)).lease(
            "logs.retention", self.retention.start, self.retention.stop,
        )
        self.operations: dict[str, Operation] = {
            **groups.OPERATIONS, **streams.OPERATIONS, **events.OPERATIONS,
        }

    async def start(self) -> None:
        self.api.start()
        await self._sweeping.begin()

    def begin_shutdown(self) -> None:
        pass

    async def stop(self) -> None:
        await self._sweeping.end()
        await self.api.stop()

    async def reset(self) -> None:
        await self.stop()  # buffered lines are flushed, then emptied with everything else

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        handler = self.operations.get(operation)
        if handler is None:
            raise errors.invalid_operation(f"The operation {operation} is not supported by Postroom.")
        check_constraints(self.model, operation, params)
        return await handler(self, params, ctx)

    def http_routes(self) -> dict[str, RawRoute]:
        return {}

    # -- helpers used by the operations ----------------------------------------------------

    def group(self, ctx: RequestContext, name: str) -> LogGroupRecord:
        group = self.store.group(ctx.account, ctx.region, name)
        if group is None:
            raise errors.group_not_found()
        return group

    def group_of(self, ctx: RequestContext, params: dict[str, Any]) -> LogGroupRecord:
        """The group named by ``logGroupName`` or ``logGroupIdentifier`` (name or ARN)."""
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name is not None and identifier is not None:
            raise errors.validation("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if name is not None:
            return self.group(ctx, name)
        if identifier is None:
            raise errors.invalid_parameter("Should provide either name or ARN of LogGroup.")
        if identifier.startswith("arn:"):
            parsed = parse_group_arn(identifier)
            if parsed is None:
                raise errors.invalid_parameter(f"Invalid log group ARN: {identifier}")
            region, account, name = parsed
            if (region, account) != (ctx.region, ctx.account):
                raise errors.group_not_found()  # no cross-account observability here
            return self.group(ctx, name)
        return self.group(ctx, identifier)

    def stream(self, group: LogGroupRecord, name: str) -> LogStreamRecord:
        stream = self.store.stream(group, name)
        if stream is None:
            raise errors.stream_not_found()
        return stream
