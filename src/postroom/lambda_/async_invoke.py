"""Asynchronous invocations: the worker that drains the durable event queue.

As on AWS: a function error is retried ``MaximumRetryAttempts`` times (default 2) after
about 1 and 2 minutes; throttles are retried with backoff from 1 s to 5 minutes without
using up attempts; an event older than ``MaximumEventAgeInSeconds`` (default 6 h) is given
up. A settled event goes to the on-success or on-failure destination and, on failure, to the
function's dead-letter queue. Each event is leased while it runs, so a crash sends it back
to the queue (at least once). ``retry_scale`` shortens every wait for tests and demos.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson

from postroom.lambda_ import limits
from postroom.lambda_.destinations import Outcome, deliver_outcome
from postroom.lambda_.invoke import run_sync
from postroom.lambda_.resolve import resolve
from postroom.protocol.errors import AWSError
from postroom.storage.errors import log_round_failed
from postroom.storage.invocations import AsyncEvent

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

log = logging.getLogger("postroom.lambda.async")

IDLE_WAIT_S = 30.0


class AsyncInvoker:
    def __init__(self, svc: LambdaService, retry_scale: float = 1.0) -> None:
        self.svc = svc
        self.store = svc.store.invocations
        self.retry_scale = retry_scale
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        # Running attempts and their events' ids (kept so tasks are never collected mid-flight).
        self._running: dict[asyncio.Task[None], int] = {}
        self._stopping = False

    async def start(self) -> None:
        # This node has just taken the ``lambda.async`` lease, and only its holder runs events:
        # any event lease left in storage is a previous holder's, which stopped its work when
        # it lost the lease (or died). Handing those events back now retries them at once
        # instead of after their 16-minute lease (at least once, as AWS's async invocations).
        await self.store.release_leases()
        self._stopping = False  # started again after a stop (POST /_postroom/reset)
        self._loop_task = asyncio.create_task(self._loop(), name="lambda-async")

    async def stop(self) -> None:
        # The loop ends by a flag: on Python 3.11 cancelling a task inside a timing-out
        # wait_for can lose the cancellation and hang the stop.
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            # Real time on purpose: a bound on how long a stop may take, not engine time.
            await asyncio.wait([self._loop_task], timeout=5)
            self._loop_task.cancel()
        running = list(self._running)
        events = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=5)
            # Their events go back to the queue now, for whichever node runs the invoker next
            # (else their leases would hold them until they expire).
            try:
                await self.store.release(events)
            except Exception:
                log.warning("could not hand back %d running async events; their leases expire", len(events))

    async def enqueue(self, event: AsyncEvent) -> None:
        await self.store.enqueue([event])  # its notice wakes the invoker if another node runs it
        self._wake.set()

    def wake(self, key: str = "") -> None:
        """Events were enqueued (on another node): look for due ones now."""
        self._wake.set()

    async def _loop(self) -> None:
        clock = self.svc.clock
        while not self._stopping:
            try:
                self._wake.clear()
                free = limits.ASYNC_CONCURRENCY - len(self._running)
                events = []
                if free > 0:
                    events = await self.store.claim(clock.now_ms(), free, int(limits.ASYNC_LEASE_S * 1000))
                for event in events:
                    task = asyncio.create_task(self._run(event), name=f"async-{event.request_id[:8]}")
                    self._running[task] = event.id
                    task.add_done_callback(self._done)
                if events or self._stopping:
                    continue
                due = await self.store.next_due() if free > 0 else None
                if due is not None and due <= clock.now_ms():
                    continue  # due already: time moved while storage was read (a manual clock)
                timeout = IDLE_WAIT_S if due is None else max((due - clock.now_ms()) / 1000, 0.005)
                try:
                    await clock.wait_for(self._wake.wait(), min(timeout, IDLE_WAIT_S))
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log_round_failed(log, "async invocation loop failed; retrying")
                await clock.sleep(1.0)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wake.set()  # a slot is free

    async def _run(self, event: AsyncEvent) -> None:
        try:
            await self._attempt(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("async invocation %s failed unexpectedly; retrying later", event.request_id)
            event.due_at = self.svc.clock.now_ms() + int(self._scaled(limits.THROTTLE_BACKOFF_S[1]) * 1000)
            await self.store.reschedule(event)

    def _scaled(self, seconds: float) -> float:
        return seconds * self.retry_scale

    async def _attempt(self, event: AsyncEvent) -> None:
        svc, clock = self.svc, self.svc.clock
        try:
            fn = await resolve(svc, event.account, event.region, event.function, event.qualifier)
        except AWSError:
            log.info("dropping async event %s: function %s is gone", event.request_id, event.function)
            await self.store.finish(event.id)
            return
        config = fn.event_invoke_config or {}
        max_age_ms = int(config.get("MaximumEventAgeInSeconds", limits.DEFAULT_MAX_EVENT_AGE_S)) * 1000
        max_retries = int(config.get("MaximumRetryAttempts", limits.DEFAULT_MAX_RETRY_ATTEMPTS))
        previous = orjson.loads(event.last_result) if event.last_result else {}
        if clock.now_ms() - event.created_at > max_age_ms:
            await self._settle(event, fn, Outcome("EventAgeExceeded", event.attempts, previous.get("response")))
            return
        try:
            result = await run_sync(svc, fn, event.payload, request_id=event.request_id)
        except AWSError as error:
            # Throttled (or the function cannot run now): back off without using an attempt.
            throttles = int(previous.get("throttles", 0)) + 1
            delay = min(limits.THROTTLE_BACKOFF_S[0] * 2 ** (throttles - 1), limits.THROTTLE_BACKOFF_S[1])
            previous.update(throttles=throttles, error=error.code)
            event.last_result = orjson.dumps(previous)
            event.due_at = clock.now_ms() + int(self._scaled(delay) * 1000)
            await self.store.reschedule(event)
            return
        event.attempts += 1
        response = {
            "payload": result.payload.decode("utf-8", "replace"), "error": result.function_error,
            "version": fn.executed_version, "errorType": result.error_type,
        }
        if result.function_error is None:
            await self._settle(event, fn, Outcome("Success", event.attempts, response))
            return
        if event.attempts <= max_retries:
            delay = limits.RETRY_DELAYS_S[min(event.attempts, len(limits.RETRY_DELAYS_S)) - 1]
            event.last_result = orjson.dumps({**previous, "response": response})
            event.due_at = clock.now_ms() + int(self._scaled(delay) * 1000)
            await self.store.reschedule(event)
            return
        await self._settle(event, fn, Outcome("RetriesExhausted", event.attempts, response))

    async def _settle(self, event: AsyncEvent, fn: Any, outcome: Outcome) -> None:
        await deliver_outcome(self.svc, event, fn, outcome)
        await self.store.finish(event.id)
