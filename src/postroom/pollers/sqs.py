"""SQS event source mappings at work: one poller per enabled mapping.

A poller long-polls its queue, gathers a batch (up to the batch size, or until the batching
window ends), and hands it to a task of its own that invokes the function synchronously and
settles the messages: success deletes them; an error leaves them to reappear after the
visibility timeout (so the queue's redrive policy takes them to its DLQ); with
``ReportBatchItemFailures`` only the reported ones stay. Up to ``MaximumConcurrency``
batches run at once (or the function's reserved concurrency, if lower): a poller allows
five at first, as AWS does, and one more (at most twenty a second) whenever a full batch
arrives with every slot busy. Receives run in one loop while the queue is quiet (so a batching window fills one
batch) and in up to ten at once while full batches keep coming.

FIFO queues: SQS releases no message of a group while another of it is in flight, so
batches in flight never share a group; a batch is exactly what one receive gave, and a
failure keeps the failed message and every later one of its group, so the group is
retried in order once their visibility timeout ends.

Nothing here is state that matters: messages are in the queue until deleted, so a crash
mid-batch only means the batch comes back after its visibility timeout. The settled states
written here are conditional on the mapping's stored revision: when another node changed
the mapping meanwhile, the pollers read it again and act on what is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from postroom.clock import Clock
from postroom.pollers.batch_result import WHOLE_BATCH, failed_items
from postroom.pollers.events import sqs_record
from postroom.pollers.filtering import compile_patterns, matches
from postroom.protocol.errors import AWSError
from postroom.storage import mappings as states
from postroom.storage.errors import StaleRecord, log_round_failed
from postroom.storage.mappings import MappingRecord, MappingStore

if TYPE_CHECKING:
    from postroom.lambda_.api import FunctionInfo, LambdaApi
    from postroom.sqs.api import ReceivedMessage, SqsApi

log = logging.getLogger("postroom.pollers.sqs")

INITIAL_CONCURRENCY = 5  # AWS starts five pollers per mapping
MAX_CONCURRENCY = 1000  # and scales to at most this many without MaximumConcurrency
LONG_POLL_S = 20
SHORT_POLL_STEP_S = 0.05  # the last fraction of a batching window is short-polled
MAX_RECEIVE = 10
# A batch stops growing here, so the event (with JSON escaping) stays under the 6 MB
# synchronous invocation limit.
MAX_BATCH_BYTES = 4 * 1024 * 1024
FUNCTION_INFO_TTL_MS = 5_000
UNAVAILABLE_WAIT_S = 5.0  # the queue or function is missing, or concurrency is 0
THROTTLE_BACKOFF_S = (0.1, 5.0)
ERROR_BACKOFF_S = 1.0
EARLY_EMPTY_MS = 1_000
MAX_GATHERERS = 10  # receive loops per mapping
# At most one more concurrent batch per interval: 20 a second, four times AWS's 300 a
# minute, without starting more environments than a burst can use.
SCALE_UP_INTERVAL_MS = 50
EARLY_EMPTY_PAUSE_S = 0.5
# Tries of settling a mapping that other nodes keep changing (each reads it again first).
SETTLE_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class PollerConfig:
    """What a running poller was started with; a change restarts it."""

    function_arn: str
    source_arn: str
    batch_size: int
    batching_window_s: int
    filters: tuple[str, ...]
    report_item_failures: bool
    maximum_concurrency: int | None

    @classmethod
    def of(cls, mapping: MappingRecord) -> PollerConfig:
        return cls(
            mapping.function_arn, mapping.source_arn, mapping.batch_size, mapping.batching_window_s,
            tuple(mapping.filters), "ReportBatchItemFailures" in mapping.response_types,
            mapping.maximum_concurrency,
        )


class SqsPoller:
    """Feeds one mapping's queue to its function."""

    def __init__(
        self, mapping: MappingRecord, sqs: SqsApi, functions: LambdaApi, clock: Clock
    ) -> None:
        self.config = PollerConfig.of(mapping)
        self.account, self.region = mapping.account, mapping.region
        self.sqs, self.functions, self.clock = sqs, functions, clock
        self.patterns = compile_patterns(list(self.config.filters))
        self.limit = INITIAL_CONCURRENCY
        self._batches: set[asyncio.Task[None]] = set()  # kept so tasks are never collected
        self._slot_free = asyncio.Event()
        self._reserved = 0  # slots taken by receives in progress
        # Receive loops ("pollers" in AWS's words): one while the queue is quiet, one more
        # each time a full batch shows the queue has more, fewer again as it drains.
        self._gatherers: set[asyncio.Task[None]] = set()
        self._gatherer_count = 0
        self._function: tuple[int, FunctionInfo | None] | None = None
        self._throttles = 0
        self._next_scale_up = 0

    @property
    def in_flight(self) -> int:
        return len(self._batches)

    def start(self) -> None:
        self._spawn_gatherer()

    async def stop_polling(self) -> None:
        """Stop taking new batches; those in flight carry on."""
        gatherers = list(self._gatherers)
        for task in gatherers:
            task.cancel()
        await asyncio.gather(*gatherers, return_exceptions=True)

    async def finish(self) -> None:
        """Wait for the batches in flight."""
        await asyncio.gather(*list(self._batches), return_exceptions=True)

    async def cancel(self) -> None:
        """Stop at once; cancelled batches come back after their visibility timeout."""
        await self.stop_polling()
        batches = list(self._batches)
        for task in batches:
            task.cancel()
        await asyncio.gather(*batches, return_exceptions=True)

    # -- polling ---------------------------------------------------------------------------

    def _spawn_gatherer(self) -> None:
        self._gatherer_count += 1
        task = asyncio.create_task(self._gatherer(), name=f"poller-{self.config.source_arn}")
        self._gatherers.add(task)
        task.add_done_callback(self._gatherers.discard)

    def _retire_gatherer(self) -> bool:
        """Whether this receive loop may end (never the last one)."""
        if self._gatherer_count > 1:
            self._gatherer_count -= 1
            return True
        return False

    async def _gatherer(self) -> None:
        while True:
            try:
                cap = await self._concurrency_cap()
                if cap == 0:
                    await self.clock.sleep(UNAVAILABLE_WAIT_S)
                    continue
                self.limit = max(1, min(self.limit, cap))
                while len(self._batches) + self._reserved >= self.limit:
                    self._slot_free.clear()
                    await self._slot_free.wait()
                self._reserved += 1
                asked_at = self.clock.now_ms()
                try:
                    batch = await self._gather()
                finally:
                    self._reserved -= 1
                    self._slot_free.set()
                full = len(batch) >= self.config.batch_size
                if batch:
                    task = asyncio.create_task(self._process(batch), name="poller-batch")
                    self._batches.add(task)
                    task.add_done_callback(self._batch_done)
                if full:
                    # The queue has more: allow another batch at once, and receive in parallel.
                    now = self.clock.now_ms()
                    if len(self._batches) + self._reserved >= self.limit and now >= self._next_scale_up:
                        self.limit = min(cap, self.limit + 1)
                        self._next_scale_up = now + SCALE_UP_INTERVAL_MS
                    if self._gatherer_count < min(self.limit, MAX_GATHERERS):
                        self._spawn_gatherer()
                    continue
                if self._retire_gatherer():
                    return
                if not batch:
                    self.limit = max(min(INITIAL_CONCURRENCY, cap), self.limit - 1)
                    if self.clock.now_ms() - asked_at < EARLY_EMPTY_MS:
                        # The long poll ended early and empty (the server is stopping, the
                        # queue went): do not spin.
                        await self.clock.sleep(EARLY_EMPTY_PAUSE_S)
            except asyncio.CancelledError:
                raise
            except AWSError as error:
                log.info("mapping %s -> %s: %s", self.config.source_arn, self.config.function_arn, error)
                await self.clock.sleep(UNAVAILABLE_WAIT_S)
            except Exception:
                log_round_failed(log, "poller of %s failed; retrying", self.config.source_arn)
                await self.clock.sleep(ERROR_BACKOFF_S)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        self._slot_free.set()

    async def _concurrency_cap(self) -> int:
        """How many batches may run: MaximumConcurrency or the function's reserved
        concurrency, whichever is lower; 0 while the function or the queue is missing."""
        info = await self._function_info()
        if info is None or self.sqs.queue(self.config.source_arn) is None:
            return 0
        cap = self.config.maximum_concurrency or MAX_CONCURRENCY
        if info.reserved_concurrency is not None:
            cap = min(cap, info.reserved_concurrency)
        return cap

    async def _function_info(self) -> FunctionInfo | None:
        now = self.clock.now_ms()
        if self._function is None or now - self._function[0] > FUNCTION_INFO_TTL_MS:
            try:
                info: FunctionInfo | None = await self.functions.function(
                    self.config.function_arn, account=self.account, region=self.region
                )
            except AWSError:
                info = None
            self._function = (now, info)
        return self._function[1]

    async def _gather(self) -> list[ReceivedMessage]:
        """One batch: on FIFO queues exactly one receive; otherwise receives until the batch
        is full or the batching window (counted from the first message) ends."""
        config, arn = self.config, self.config.source_arn
        queue = self.sqs.queue(arn)
        if queue is None:
            return []
        first = await self.sqs.receive(arn, max_messages=min(config.batch_size, MAX_RECEIVE), wait_seconds=LONG_POLL_S)
        if queue.fifo or not first or config.batching_window_s == 0 and config.batch_size <= MAX_RECEIVE:
            return first
        batch = list(first)
        size = sum(len(m.body) for m in batch)
        window_ends = self.clock.now_ms() + config.batching_window_s * 1000
        try:
            while len(batch) < config.batch_size and size < MAX_BATCH_BYTES:
                remaining_s = (window_ends - self.clock.now_ms()) / 1000
                if remaining_s <= 0 and config.batching_window_s > 0:
                    break
                wait = min(int(remaining_s), LONG_POLL_S) if remaining_s >= 1 else 0
                more = await self.sqs.receive(
                    arn, max_messages=min(config.batch_size - len(batch), MAX_RECEIVE), wait_seconds=wait
                )
                batch.extend(more)
                size += sum(len(m.body) for m in more)
                if not more:
                    if config.batching_window_s == 0:
                        break  # batch size above 10 always has a window; kept for safety
                    if wait == 0:
                        await self.clock.sleep(min(SHORT_POLL_STEP_S, max(remaining_s, 0)))
        except asyncio.CancelledError:
            # Stopped mid-window: hand back what was taken rather than hide it.
            self._release_later(batch)
            raise
        return batch

    def _release_later(self, batch: list[ReceivedMessage]) -> None:
        task = asyncio.create_task(self._release(batch, 0.0), name="poller-release")
        self._batches.add(task)
        task.add_done_callback(self._batch_done)

    async def _release(self, batch: list[ReceivedMessage], after_s: float) -> None:
        """Make messages visible again (after ``after_s``), for another try soon."""
        if after_s > 0:
            await self.clock.sleep(after_s)
        for message in batch:
            try:
                await self.sqs.change_visibility(self.config.source_arn, message.receipt_handle, 0)
            except AWSError:
                pass  # deleted, expired or re-received meanwhile: nothing to hand back

    # -- one batch ---------------------------------------------------------------------

    async def _process(self, batch: list[ReceivedMessage]) -> None:
        try:
            await self._invoke(batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The messages stay in flight and come back after their visibility timeout.
            log.exception("batch of %s failed unexpectedly", self.config.source_arn)

    async def _invoke(self, batch: list[ReceivedMessage]) -> None:
        config, arn = self.config, self.config.source_arn
        records = [sqs_record(m, arn, self.region) for m in batch]
        if self.patterns:
            kept = [(m, r) for m, r in zip(batch, records, strict=True) if matches(self.patterns, r)]
            dropped = [m.receipt_handle for m in batch if all(m is not k for k, _ in kept)]
            if dropped:
                await self.sqs.delete(arn, dropped)  # filtered out: removed without invoking
            batch, records = [m for m, _ in kept], [r for _, r in kept]
            if not batch:
                return
        payload = orjson.dumps({"Records": records})
        try:
            result = await self.functions.invoke(
                config.function_arn, payload, account=self.account, region=self.region
            )
        except AWSError as error:
            await self._invoke_failed(batch, error)
            return
        self._throttles = 0
        if result.function_error is not None:
            return  # the whole batch comes back after its visibility timeout
        failed: set[str] | None = set()
        if config.report_item_failures:
            failed = failed_items(result.payload, {m.message_id for m in batch})
            if failed is WHOLE_BATCH:
                return
        done = self._settled(batch, failed or set())
        if done:
            await self.sqs.delete(arn, [m.receipt_handle for m in done])

    def _settled(self, batch: list[ReceivedMessage], failed: set[str]) -> list[ReceivedMessage]:
        """The messages to delete. On FIFO queues a failure also keeps every later message
        of its group, so the group is retried in order."""
        if not failed:
            return batch
        blocked: set[str] = set()
        done = []
        for message in batch:
            group = message.attributes.get("MessageGroupId")
            if message.message_id in failed:
                if group is not None:
                    blocked.add(group)
            elif group is None or group not in blocked:
                done.append(message)
        return done

    async def _invoke_failed(self, batch: list[ReceivedMessage], error: AWSError) -> None:
        if error.code == "TooManyRequestsException":
            # Throttled: run fewer at once, and give the batch back after a short backoff
            # rather than hiding it for the whole visibility timeout.
            self.limit = max(1, self.limit - 1)
            self._throttles += 1
            low, high = THROTTLE_BACKOFF_S
            await self._release(batch, min(low * 2 ** (self._throttles - 1), high))
            return
        # The function is gone or cannot run: the batch comes back after its visibility timeout.
        self._function = None
        log.info("mapping %s -> %s: %s", self.config.source_arn, self.config.function_arn, error)


class MappingPollers:
    """Starts, restarts and stops the pollers of every mapping, and moves mappings out of
    their transitional states (Creating, Updating, ...) once the pollers have acted."""

    def __init__(self, store: MappingStore, apis: Any, clock: Clock) -> None:
        self.store = store
        self.apis = apis  # late lookup: .sqs and .lambda_ (postroom.services.Apis)
        self.clock = clock
        self.pollers: dict[str, SqsPoller] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # kept so tasks are never collected
        self._retired: set[SqsPoller] = set()  # stopped, with batches still running
        # Held by every change to a mapping (the operations and the settling here), so a
        # settled state never overwrites a newer change.
        self.changes = asyncio.Lock()
        # Until started (and after a stop) pollers run elsewhere or not at all: this node
        # does not hold their lease, so changes are left to the node that does.
        self._stopping = True

    async def start(self) -> None:
        """Bring every stored mapping to its settled state (a restart resumes polling)."""
        self._stopping = False  # started again after a stop (POST /_postroom/reset)
        for uuid in list(self.store.mappings):
            await self._settle(uuid)

    def changed(self, uuid: str) -> None:
        """Another node changed mapping ``uuid`` ("": any mapping may have changed): read it
        again and act on it."""
        if self._stopping:
            return
        task = asyncio.create_task(self._reload(uuid), name=f"mapping-reload-{uuid[:8]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload(self, uuid: str) -> None:
        async with self.changes:  # no local change interleaves with the read
            try:
                if uuid:
                    await self.store.reload(uuid)
                    uuids = [uuid]
                else:
                    before = set(self.store.mappings) | set(self.pollers)
                    uuids = sorted(before | set(await self.store.reload_all()))
            except Exception:
                log_round_failed(log, "could not read mapping %s again", uuid or "(all)")
                return
        for each in uuids:
            await self._settle(each)

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        pollers = [*self.pollers.values(), *self._retired]
        self.pollers, self._retired = {}, set()
        await asyncio.gather(*(p.cancel() for p in pollers), return_exceptions=True)

    def refresh(self, mapping: MappingRecord) -> None:
        """A mapping was created, changed or marked for deletion: act on it soon (the
        caller has answered with the transitional state already)."""
        if self._stopping:
            return
        task = asyncio.create_task(self._settle(mapping.uuid), name=f"mapping-{mapping.uuid[:8]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, uuid: str) -> None:
        async with self.changes:
            for _ in range(SETTLE_ATTEMPTS):
                try:
                    await self._apply(uuid)
                    return
                except StaleRecord:
                    pass  # another node changed the mapping since this one read it
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log_round_failed(log, "could not apply mapping %s", uuid)
                    return
                try:  # act on what is stored now instead (its notice may not be here yet)
                    await self.store.reload(uuid)
                except Exception:
                    log_round_failed(log, "could not read mapping %s again", uuid)
                    return
            log.warning("mapping %s changed elsewhere on every try; its next change settles it", uuid)

    async def _apply(self, uuid: str) -> None:
        """Start, restart or stop the mapping's poller as its record says, then settle its
        state (a conditional write: StaleRecord if another node changed it meanwhile)."""
        mapping = self.store.mappings.get(uuid)
        if mapping is None or mapping.state == states.DELETING:
            await self._stop_poller(uuid)
            if mapping is not None:
                await self.store.delete(uuid, mapping.revision)
            return
        if not mapping.enabled:
            await self._stop_poller(uuid)
            await self._set_state(mapping, states.DISABLED)
            return
        running = self.pollers.get(uuid)
        if running is None or running.config != PollerConfig.of(mapping):
            await self._stop_poller(uuid)
            poller = SqsPoller(mapping, self.apis.sqs, self.apis.lambda_, self.clock)
            self.pollers[uuid] = poller
            poller.start()
        await self._set_state(mapping, states.ENABLED)

    async def _set_state(self, mapping: MappingRecord, state: str) -> None:
        if mapping.state != state:
            await self.store.save(dataclasses.replace(mapping, state=state))  # never the cached record

    async def _stop_poller(self, uuid: str) -> None:
        poller = self.pollers.pop(uuid, None)
        if poller is None:
            return
        await poller.stop_polling()
        if poller.in_flight:
            # A disabled, changed or deleted mapping lets its batches finish, without
            # holding up changes to other mappings.
            self._retired.add(poller)
            task = asyncio.create_task(self._retire(poller), name="poller-retire")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _retire(self, poller: SqsPoller) -> None:
        try:
            await poller.finish()
        finally:
            self._retired.discard(poller)
