"""Move tasks under the ``sqs.move-tasks`` lease: two SQS services on one store play two
nodes (each with its own lease keeper; the store's notifier stands in for the link between
them, remote notices delivered by hand), on the manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson

from postroom.clock import ManualClock
from postroom.leases import Leases
from postroom.protocol.context import RequestContext
from postroom.sqs.service import SqsService
from postroom.storage.sqlite import SqliteStore

ACCOUNT, REGION = "000000000000", "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, "test", "http://localhost", "r")
TTL_S = 9.0
MESSAGES = 6


class Node:
    def __init__(self, store: SqliteStore, clock: ManualClock, name: str) -> None:
        self.leases = Leases(store.leases, clock, name, notifier=store.notifier, ttl_s=TTL_S)
        self.sqs = SqsService(store, clock, leases=self.leases)

    async def call(self, operation: str, params: dict) -> dict:
        return await self.sqs.call(operation, params, CTX) or {}

    async def die(self) -> None:
        """Stop as a killed process does: no renewal, no release."""
        await self.leases.close()
        await self.sqs.move_tasks.stop()


def run(body: Callable[[SqliteStore, ManualClock, Node, Node], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SqliteStore(None)
        await store.start()
        clock = ManualClock(1_700_000_000_000)
        a, b = Node(store, clock, "a"), Node(store, clock, "b")
        await a.sqs.start()  # a is up first: it takes the leases
        await b.sqs.start()
        try:
            await body(store, clock, a, b)
        finally:
            for node in (a, b):
                node.sqs.begin_shutdown()
                await node.sqs.stop()
            await store.close()

    asyncio.run(main())


async def dead_letters(node: Node) -> tuple[str, str]:
    """A source queue and its DLQ holding MESSAGES messages (sent to it: they move to the
    destination the tasks name); (source ARN, DLQ ARN)."""
    dlq_url = (await node.call("CreateQueue", {"QueueName": "dlq"}))["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    redrive = orjson.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).decode()
    await node.call("CreateQueue", {"QueueName": "src", "Attributes": {"RedrivePolicy": redrive}})
    for i in range(MESSAGES):
        await node.call("SendMessage", {"QueueUrl": dlq_url, "MessageBody": f"m{i}"})
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:src", dlq_arn


async def task_state(node: Node, dlq_arn: str) -> dict:
    [task] = (await node.call("ListMessageMoveTasks", {"SourceArn": dlq_arn}))["Results"]
    return task


def test_only_the_lease_holder_runs_move_tasks_and_a_task_started_elsewhere_reaches_it():
    async def body(store: SqliteStore, clock: ManualClock, a: Node, b: Node) -> None:
        assert a.leases.status()["sqs.move-tasks"] and not b.leases.status()["sqs.move-tasks"]
        src_arn, dlq_arn = await dead_letters(b)
        handle = (await b.call("StartMessageMoveTask", {"SourceArn": dlq_arn, "DestinationArn": src_arn, "MaxNumberOfMessagesPerSecond": 2}))[
            "TaskHandle"
        ]
        await clock.advance(5)
        assert (await task_state(a, dlq_arn))["ApproximateNumberOfMessagesMoved"] == 0  # b does not run it
        store.notifier.deliver([("move_tasks", handle)], remote=True)  # b's notice reaches a
        await clock.advance(5)
        task = await task_state(b, dlq_arn)
        assert task["Status"] == "COMPLETED"
        assert task["ApproximateNumberOfMessagesMoved"] == MESSAGES

    run(body)


def test_a_task_of_a_node_that_died_is_finished_by_the_node_that_takes_its_lease():
    async def body(store: SqliteStore, clock: ManualClock, a: Node, b: Node) -> None:
        src_arn, dlq_arn = await dead_letters(a)
        await a.call("StartMessageMoveTask", {"SourceArn": dlq_arn, "DestinationArn": src_arn, "MaxNumberOfMessagesPerSecond": 1})
        await clock.advance(1.5)
        moved = (await task_state(b, dlq_arn))["ApproximateNumberOfMessagesMoved"]
        assert 1 <= moved < MESSAGES
        await a.die()
        await clock.advance(TTL_S + TTL_S / 3)  # a's lease expires; b's next round takes it
        assert b.leases.status()["sqs.move-tasks"]
        await clock.advance(MESSAGES)
        task = await task_state(b, dlq_arn)
        assert task["Status"] == "COMPLETED"
        assert task["ApproximateNumberOfMessagesMoved"] == MESSAGES  # counted once, across both nodes

    run(body)


def test_a_task_cancelled_on_another_node_stops_at_its_next_chunk_and_stays_cancelled():
    async def body(store: SqliteStore, clock: ManualClock, a: Node, b: Node) -> None:
        src_arn, dlq_arn = await dead_letters(a)
        handle = (await a.call("StartMessageMoveTask", {"SourceArn": dlq_arn, "DestinationArn": src_arn, "MaxNumberOfMessagesPerSecond": 1}))[
            "TaskHandle"
        ]
        await clock.advance(1.5)
        cancelled = await b.call("CancelMessageMoveTask", {"TaskHandle": handle})
        await clock.advance(MESSAGES)
        task = await task_state(a, dlq_arn)
        assert task["Status"] == "CANCELLED"
        assert task["ApproximateNumberOfMessagesMoved"] == cancelled["ApproximateNumberOfMessagesMoved"] < MESSAGES
        src = await a.call("GetQueueAttributes", {
            "QueueUrl": f"http://localhost/{ACCOUNT}/src", "AttributeNames": ["ApproximateNumberOfMessages"],
        })
        assert int(src["Attributes"]["ApproximateNumberOfMessages"]) == task["ApproximateNumberOfMessagesMoved"]

    run(body)
