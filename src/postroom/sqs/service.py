"""SqsService: the SQS operations over one Storage, plus the background retention sweep and
move-task runners (each under a lease: one node runs them)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from postroom.clock import Clock
from postroom.leases import Leases
from postroom.policy.evaluate import Caller, Decision, evaluate
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model
from postroom.service import RawRoute
from postroom.sqs import attributes, limits
from postroom.sqs.api import SqsApi
from postroom.sqs.endpoints import DEFAULT_STRATEGY, queue_url
from postroom.sqs.errors import queue_does_not_exist, unsupported_operation
from postroom.sqs.names import parse_queue_arn, parse_queue_url, queue_arn
from postroom.sqs.redrive import parse_redrive_policy
from postroom.sqs.stats import QueueCounters
from postroom.sqs.waiters import QueueSignals
from postroom.storage.base import QueueRecord, Redrive, Storage
from postroom.storage.errors import log_round_failed

log = logging.getLogger("postroom.sqs")

Operation = Callable[["SqsService", dict[str, Any], RequestContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """A queue's attributes parsed once for the hot path (rebuilt when they change)."""

    arn: str
    visibility_timeout: int
    delay_seconds: int
    retention_seconds: int
    maximum_message_size: int
    receive_wait_seconds: int
    redrive_arn: str | None
    max_receive_count: int
    fifo: bool
    content_based_deduplication: bool
    deduplication_by_group: bool


class SqsService:
    """Dispatches SQS operations; holds the state that is not stored (waiters, timers)."""

    name = "sqs"
    # Addressed to a queue URL these answer InvalidAction, as on AWS (GetQueueUrl does not).
    root_only_actions = frozenset({"CreateQueue", "ListQueues"})

    def __init__(
        self, store: Storage, clock: Clock, max_in_flight: int = limits.MAX_IN_FLIGHT, leases: Leases | None = None,
        endpoint_strategy: str = DEFAULT_STRATEGY,
    ) -> None:
        from postroom.sqs import messages, move_tasks, queues

        self.model = load_service_model("sqs")
        self.store = store
        self.clock = clock
        self.endpoint_strategy = endpoint_strategy  # the shape of the queue URLs answered
        self.signals = QueueSignals()
        # Parsed attributes per queue id, valid for the cached record they were parsed from:
        # a refresh from another node's change brings a new record, so they are parsed again.
        self._settings: dict[int, tuple[QueueRecord, QueueSettings]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.closing = False
        self.operations: dict[str, Operation] = {
            **queues.OPERATIONS, **messages.OPERATIONS, **move_tasks.OPERATIONS,
        }
        self.move_tasks = move_tasks.MoveTasks(self)
        self.counters = QueueCounters()
        self.api = SqsApi(self)
        self.max_in_flight = max_in_flight
        # Per queue: (when counted, in-flight count since then) for the OverLimit check. A
        # per-node cache of storage's exact count, at most IN_FLIGHT_RECOUNT_MS old and grown
        # by this node's receives: other nodes' receives show at the next recount, which
        # keeps OverLimit approximate, as AWS documents its own limit to be.
        self.in_flight: dict[int, tuple[int, int]] = {}
        # Background work, each on one node at a time (postroom/leases.py).
        leases = leases or Leases.private(clock)
        self._retention = leases.lease("sqs.retention", self._start_sweeper, self._stop_sweeper)
        self._moves = leases.lease(
            "sqs.move-tasks", self.move_tasks.start, self.move_tasks.stop, wake={"move_tasks": self.move_tasks.wake},
        )
        # Other nodes' sends wake this node's long polls (this node's own sends wake them
        # directly, without waiting for the commit's notice).
        notifier = store.notifier
        notifier.on("queue", self._remote_messages, remote_only=True)
        notifier.on("queues.refreshed", self._queue_refreshed)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._moves.begin()
        await self._retention.begin()

    def begin_shutdown(self) -> None:
        """Make waiting receives return at once (the server is stopping)."""
        self.closing = True
        self.signals.notify_all()

    async def stop(self) -> None:
        await self._moves.end()
        await self._retention.end()

    def _start_sweeper(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_retention(), name="sqs-retention")

    async def _stop_sweeper(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            try:
                await sweeper
            except asyncio.CancelledError:
                pass

    async def reset(self) -> None:
        await self.stop()
        self.signals.notify_all()  # waiting receives look again (and find their queue gone)
        for cache in (self._settings, self.in_flight):
            cache.clear()

    def _remote_messages(self, key: str) -> None:
        self.signals.notify(int(key))

    def _queue_refreshed(self, key: str) -> None:
        """Another node created, changed or deleted queue ``key``; the cache has the news."""
        queue_id = int(key)
        self._settings.pop(queue_id, None)
        if self.store.queue_by_id(queue_id) is None:
            self.in_flight.pop(queue_id, None)
            self.counters.forget(queue_id)
        self.signals.notify(queue_id)  # long polls look again (and return if it is gone)

    async def _sweep_retention(self) -> None:
        interval_ms = int(limits.RETENTION_SWEEP_INTERVAL_S * 1000)
        due = self.clock.now_ms() + interval_ms
        while True:
            await self.clock.sleep((due - self.clock.now_ms()) / 1000)
            # Fixed rate, not fixed delay: when time jumped while a sweep ran (a manual clock
            # moved by minutes), the next sweep starts at once instead of an interval later.
            due = max(due + interval_ms, self.clock.now_ms())
            try:
                now = self.clock.now_ms()
                queues = self.store.all_queues()
                cutoffs = {q.id: now - self.settings(q).retention_seconds * 1000 for q in queues}
                fifo = {q.id for q in queues if self.settings(q).fifo}
                await self.store.expire(cutoffs, now, fifo)
                await self.store.sqs_state.expire(
                    now, now - limits.RECREATE_AFTER_DELETE_S * 1000, now - limits.PURGE_INTERVAL_S * 1000,
                )
            except Exception:  # the sweep must outlive any one failure
                log_round_failed(log, "retention sweep failed")

    def http_routes(self) -> dict[str, RawRoute]:
        return {}

    # -- dispatch ----------------------------------------------------------------------

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        handler = self.operations.get(operation)
        if handler is None:
            raise unsupported_operation(f"{operation} is not supported by Postroom yet.")
        ctx.operation = operation
        try:
            return await handler(self, params, ctx)
        except AWSError as error:
            # A queue another node created a moment ago may not be cached here yet: look in
            # the database once, and answer again if it is there. The hit path pays nothing.
            if error.type_name != "QueueDoesNotExist" or not await self._found_elsewhere(params, ctx):
                raise
        return await handler(self, params, ctx)

    async def _found_elsewhere(self, params: dict[str, Any], ctx: RequestContext) -> bool:
        """Whether the queue a request names exists in storage though not in the cache."""
        if params.get("QueueUrl"):
            key = self._queue_key(params["QueueUrl"], ctx)
        elif params.get("QueueName"):
            key = (params.get("QueueOwnerAWSAccountId") or ctx.account, ctx.region, params["QueueName"])
        else:
            return False
        if key is None or self.store.queue_by_name(*key) is not None:
            return False
        return await self.store.find_queue(*key) is not None

    # -- queues ------------------------------------------------------------------------

    def queue_for(self, params: dict[str, Any], ctx: RequestContext) -> QueueRecord:
        """The queue a request's QueueUrl names, or QueueDoesNotExist."""
        key = self._queue_key(params.get("QueueUrl") or "", ctx)
        queue = self.store.queue_by_name(*key) if key else None
        if queue is None:
            raise queue_does_not_exist()
        if queue.account != ctx.account:
            self._check_cross_account(queue, ctx)
        return queue

    @staticmethod
    def _queue_key(value: str, ctx: RequestContext) -> tuple[str, str, str] | None:
        """(account, region, name) a QueueUrl names: a URL without a region (host or path)
        names one of the caller's region, as does a bare queue name (of the caller's account)."""
        parsed = parse_queue_url(value)
        if parsed is None:
            return (ctx.account, ctx.region, value) if value and "/" not in value else None
        region, account, name = parsed
        return account, region or ctx.region, name

    def _check_cross_account(self, queue: QueueRecord, ctx: RequestContext) -> None:
        """Another account's caller: served only when the queue's policy allows it, as AWS."""
        arn = queue_arn(queue.region, queue.account, queue.name)
        caller = Caller(account=ctx.account, context={
            "aws:principalaccount": ctx.account,
        })
        if evaluate(queue.attributes.get("Policy"), caller, f"sqs:{ctx.operation}", arn) is not Decision.ALLOW:
            raise AWSError(
                "AccessDenied", f"Access to the resource {self.url(queue, ctx)} is denied.",
                status=403, type_name="AccessDeniedException",
            )

    def queue_by_arn(self, arn: str) -> QueueRecord | None:
        parsed = parse_queue_arn(arn)
        if parsed is None:
            return None
        region, account, name = parsed
        return self.store.queue_by_name(account, region, name)

    def url(self, queue: QueueRecord, ctx: RequestContext) -> str:
        return queue_url(self.endpoint_strategy, ctx.base_url, queue.region, queue.account, queue.name)

    def settings(self, queue: QueueRecord) -> QueueSettings:
        entry = self._settings.get(queue.id)
        if entry is not None and entry[0] is queue:
            return entry[1]
        stored = queue.attributes
        redrive = parse_redrive_policy(stored["RedrivePolicy"]) if stored.get("RedrivePolicy") else None
        parsed = QueueSettings(
            arn=queue_arn(queue.region, queue.account, queue.name),
            visibility_timeout=attributes.int_attribute(stored, "VisibilityTimeout"),
            delay_seconds=attributes.int_attribute(stored, "DelaySeconds"),
            retention_seconds=attributes.int_attribute(stored, "MessageRetentionPeriod"),
            maximum_message_size=attributes.int_attribute(stored, "MaximumMessageSize"),
            receive_wait_seconds=attributes.int_attribute(stored, "ReceiveMessageWaitTimeSeconds"),
            redrive_arn=redrive.dead_letter_target_arn if redrive else None,
            max_receive_count=redrive.max_receive_count if redrive else 0,
            fifo=stored.get("FifoQueue") == "true",
            content_based_deduplication=stored.get("ContentBasedDeduplication") == "true",
            deduplication_by_group=stored.get("DeduplicationScope") == "messageGroup",
        )
        self._settings[queue.id] = (queue, parsed)
        return parsed

    def forget_settings(self, queue_id: int) -> None:
        self._settings.pop(queue_id, None)

    def redrive_for(self, queue: QueueRecord) -> Redrive | None:
        settings = self.settings(queue)
        if settings.redrive_arn is None:
            return None
        target = self.queue_by_arn(settings.redrive_arn)
        if target is None:
            return None  # a missing dead-letter queue leaves messages where they are, as in AWS
        return Redrive(target.id, settings.max_receive_count, settings.arn)
