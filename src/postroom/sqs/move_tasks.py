"""Dead-letter redrive: StartMessageMoveTask, CancelMessageMoveTask, ListMessageMoveTasks.

A task moves visible messages out of a dead-letter queue in chunks, each chunk and the
task's counter committed together, so a restart resumes a RUNNING task where it stopped,
and so does another node when the one running the tasks dies (they run under a lease).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any

import orjson

from postroom.ids import new_id
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import invalid_parameter_value
from postroom.sqs.errors import parameter_out_of_range, resource_not_found, unsupported_operation
from postroom.storage.base import MoveTask
from postroom.storage.errors import log_round_failed

if TYPE_CHECKING:
    from postroom.sqs.service import SqsService

log = logging.getLogger("postroom.sqs.move")

MAX_RATE = 500
UNTHROTTLED_CHUNK = 500
LIST_MAX_RESULTS = 10
RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = (
    "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED",
)


class MoveTasks:
    """The runners of every RUNNING task, on the node holding the ``sqs.move-tasks`` lease.

    Tasks live in storage only, so any node answers for them; the lease holder runs them
    all, and a task started on another node reaches it through a ``move_tasks`` notice.
    """

    def __init__(self, svc: SqsService) -> None:
        self.svc = svc
        self.running = False  # between start and stop: this node runs the tasks
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._syncs: set[asyncio.Task[None]] = set()  # kept so they are never collected

    async def start(self) -> None:
        self.running = True
        await self.sync()

    async def stop(self) -> None:
        self.running = False
        running = [*self._syncs, *self._runners.values()]
        for runner in running:
            runner.cancel()  # a task stays RUNNING in storage: the next holder resumes it
        await asyncio.gather(*running, return_exceptions=True)

    async def sync(self) -> None:
        """Run every stored RUNNING task that has no runner here."""
        for task in await self.svc.store.move_tasks():
            if not self.running:
                return
            if task.status == CANCELLING:  # written by older versions
                task.status = CANCELLED
                await self.svc.store.save_move_task(task)
            elif task.status == RUNNING:
                self.launch(task)

    def wake(self, handle: str) -> None:
        """A task was started on another node (or the link to them came back)."""
        if self.running:
            sync = asyncio.create_task(self.sync(), name="move-sync")
            self._syncs.add(sync)
            sync.add_done_callback(self._syncs.discard)

    def launch(self, task: MoveTask) -> None:
        if self.running and task.handle not in self._runners:
            self._runners[task.handle] = asyncio.create_task(self._run(task), name=f"move-{task.handle[:8]}")

    async def _run(self, task: MoveTask) -> None:
        svc = self.svc
        try:
            while task.status == RUNNING:
                source = svc.queue_by_arn(task.source_arn)
                target = svc.queue_by_arn(task.destination_arn) if task.destination_arn else None
                if source is None or (task.destination_arn and target is None):
                    await self._finish(task, FAILED, "The source or destination queue no longer exists.")
                    return
                queues = svc.store.all_queues()
                origins = {svc.settings(q).arn: (q.id, svc.settings(q).fifo) for q in queues}
                default = (target.id, svc.settings(target).fifo) if target is not None else None
                outcome = await svc.store.move_messages(
                    source.id, origins, default, task.rate or UNTHROTTLED_CHUNK, svc.clock.now_ms(), task,
                )
                if outcome is None:
                    return  # cancelled
                if isinstance(outcome, str):
                    await self._finish(task, FAILED, outcome)
                    return
                if outcome == 0:
                    await self._finish(task, COMPLETED, None)
                    return
                for queue_id, _ in origins.values():
                    svc.signals.notify(queue_id)
                await svc.clock.sleep(1.0 if task.rate else 0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log_round_failed(log, "message move task failed")
            await self._finish(task, FAILED, "Internal error while moving messages.")
        finally:
            self._runners.pop(task.handle, None)

    async def _finish(self, task: MoveTask, status: str, reason: str | None) -> None:
        if task.status != RUNNING:
            return
        task.status = status
        task.failure_reason = reason
        await self.svc.store.finish_move_task(task.handle, status, reason)


async def start_message_move_task(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    source_arn = p["SourceArn"]
    source = svc.queue_by_arn(source_arn)
    if source is None:
        raise resource_not_found("The resource that you specified for the SourceArn parameter doesn't exist.")
    if not any(svc.settings(q).redrive_arn == source_arn for q in svc.store.all_queues()):
        raise invalid_parameter_value("Source queue must be configured as a Dead Letter Queue.")
    destination_arn = p.get("DestinationArn")
    if destination_arn and svc.queue_by_arn(destination_arn) is None:
        raise resource_not_found("The resource that you specified for the DestinationArn parameter doesn't exist.")
    rate = p.get("MaxNumberOfMessagesPerSecond")
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise parameter_out_of_range("MaxNumberOfMessagesPerSecond", rate, "Must be between 1 and 500.")
    if any(t.source_arn == source_arn and t.status in (RUNNING, CANCELLING) for t in await svc.store.move_tasks()):
        raise invalid_parameter_value(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
        )
    counts = await svc.store.counts(source.id, svc.clock.now_ms())
    handle = base64.b64encode(orjson.dumps({"taskId": new_id(), "sourceArn": source_arn})).decode()
    task = MoveTask(
        handle=handle, source_arn=source_arn, destination_arn=destination_arn or None, rate=rate,
        status=RUNNING, moved=0, to_move=counts.visible + counts.not_visible + counts.delayed,
        failure_reason=None, started_at=svc.clock.now_ms(),
    )
    await svc.store.save_move_task(task)
    svc.move_tasks.launch(task)  # when this node runs the tasks; else its notice reaches the one that does
    return {"TaskHandle": handle}


async def cancel_message_move_task(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    handle = p["TaskHandle"]
    try:
        doc = orjson.loads(base64.b64decode(handle, validate=True))
        well_formed = isinstance(doc, dict) and "taskId" in doc and "sourceArn" in doc
    except (ValueError, orjson.JSONDecodeError):
        well_formed = False
    if not well_formed:
        raise invalid_parameter_value("Value for parameter TaskHandle is invalid.")
    # Conditional in storage: the runner, perhaps on another node, sees it at its next chunk.
    task, cancelled = await svc.store.cancel_move_task(handle)
    if task is None:
        raise resource_not_found("Task does not exist.")
    if not cancelled:
        raise unsupported_operation("Only active tasks can be cancelled.")
    return {"ApproximateNumberOfMessagesMoved": task.moved}


async def list_message_move_tasks(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    source_arn = p["SourceArn"]
    if svc.queue_by_arn(source_arn) is None:
        raise resource_not_found("The resource that you specified for the SourceArn parameter doesn't exist.")
    limit = p.get("MaxResults")
    if limit is not None and not 1 <= limit <= LIST_MAX_RESULTS:
        raise parameter_out_of_range("MaxResults", limit, "Must be between 1 and 10.")
    mine = [t for t in await svc.store.move_tasks() if t.source_arn == source_arn]
    mine.sort(key=lambda t: t.started_at, reverse=True)
    return {"Results": [_describe(t) for t in mine[: limit or 1]]}


def _describe(task: MoveTask) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Status": task.status,
        "SourceArn": task.source_arn,
        "ApproximateNumberOfMessagesMoved": task.moved,
        "ApproximateNumberOfMessagesToMove": task.to_move,
        "StartedTimestamp": task.started_at,
    }
    if task.status == RUNNING:
        out["TaskHandle"] = task.handle
    if task.destination_arn:
        out["DestinationArn"] = task.destination_arn
    if task.rate is not None:
        out["MaxNumberOfMessagesPerSecond"] = task.rate
    if task.failure_reason:
        out["FailureReason"] = task.failure_reason
    return out


OPERATIONS = {
    "StartMessageMoveTask": start_message_move_task,
    "CancelMessageMoveTask": cancel_message_move_task,
    "ListMessageMoveTasks": list_message_move_tasks,
}
