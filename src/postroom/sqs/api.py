"""The typed internal API other services use to reach queues: SNS fan-out, function
destinations and dead-letter queues, and the queue pollers of event source mappings.

Nothing outside ``sqs/`` touches SqsService's attributes; everything goes through here.
Sends and receives run the same code as the public operations, so every rule (limits,
FIFO order, redrive, long-poll wake-ups) applies to internal callers too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from postroom.ids import new_id
from postroom.protocol.context import DEFAULT_REGION, RequestContext
from postroom.sqs import limits, messages
from postroom.sqs.errors import queue_does_not_exist
from postroom.sqs.message_attributes import (
    md5_hex,
    md5_of_attributes,
    pack,
    trace_attribute,
    unpack,
)
from postroom.sqs.names import parse_queue_arn

__all__ = ["OutgoingMessage", "QueueRef", "ReceivedMessage", "SqsApi", "parse_queue_arn"]
from postroom.storage.base import NewMessage, QueueDelivery

if TYPE_CHECKING:
    from postroom.sqs.service import SqsService


@dataclass(frozen=True, slots=True)
class QueueRef:
    """What other services may know about a queue."""

    id: int
    arn: str
    account: str
    region: str
    name: str
    fifo: bool
    visibility_timeout: int


@dataclass(slots=True)
class OutgoingMessage:
    """A message another service sends. ``attributes`` are in SQS wire form
    (``{"DataType": ..., "StringValue" | "BinaryValue": ...}``)."""

    body: str
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_id: str | None = None
    dedup_id: str | None = None
    sender_id: str = "AIDAPOSTROOM"
    message_id: str | None = None
    trace_header: str | None = None  # becomes the AWSTraceHeader system attribute


@dataclass(slots=True)
class ReceivedMessage:
    """A received message with every system and message attribute."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: dict[str, dict[str, Any]]
    md5_of_message_attributes: str | None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A queue as operators see it: depth (as the SQS console shows it) and activity since
    the server started."""

    arn: str
    account: str
    region: str
    name: str
    fifo: bool
    dead_letter_arn: str | None
    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float | None  # None when empty
    sent: int
    received: int
    deleted: int
    moved_to_dlq: int
    created_at: int  # epoch seconds


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    """A message looked at without receiving it."""

    message_id: str
    body: str
    attributes: dict[str, dict[str, Any]]  # SQS wire form
    sender_id: str
    sent_at: int
    receive_count: int
    first_receive_at: int | None
    state: str  # "visible", "in flight" or "delayed"
    group_id: str | None
    dedup_id: str | None
    dead_letter_source: str | None


MAX_PEEK = 100


class SqsApi:
    def __init__(self, svc: SqsService) -> None:
        self._svc = svc

    def queue(self, arn: str) -> QueueRef | None:
        """The queue an ARN names, or None."""
        queue = self._svc.queue_by_arn(arn)
        if queue is None:
            return None
        settings = self._svc.settings(queue)
        return QueueRef(
            queue.id, settings.arn, queue.account, queue.region, queue.name, settings.fifo,
            settings.visibility_timeout,
        )

    async def find(self, arn: str) -> QueueRef | None:
        """Like ``queue``, but a queue missing from the cache is looked up in storage (another
        node may have created it a moment ago); for miss paths only."""
        found = self.queue(arn)
        if found is not None:
            return found
        parsed = parse_queue_arn(arn)
        if parsed is None:
            return None
        await self._svc.store.find_queue(parsed[1], parsed[0], parsed[2])
        return self.queue(arn)

    def policy(self, queue: QueueRef) -> str | None:
        """The queue's access policy document (its ``Policy`` attribute), if any."""
        found = self._svc.queue_by_arn(queue.arn)
        return found.attributes.get("Policy") if found is not None else None

    def delivery(self, queue: QueueRef, message: OutgoingMessage, now: int) -> QueueDelivery:
        """A copy for ``queue`` that the caller commits atomically with its own state (SNS
        publishes commit every copy in one transaction); call ``delivered`` after the commit."""
        record = self._svc.store.queue_by_id(queue.id)
        if record is None:
            raise queue_does_not_exist()
        settings = self._svc.settings(record)
        attributes = message.attributes or {}
        new = NewMessage(
            message_id=message.message_id or new_id(), body=message.body,
            md5_body=md5_hex(message.body.encode()), attributes=pack(attributes),
            md5_attributes=md5_of_attributes(attributes) if attributes else None,
            system_attributes=pack(trace_attribute(message.trace_header)) if message.trace_header else None,
            md5_system_attributes=None, sender_id=message.sender_id,
            sent_at=now, visible_at=now,
            group_id=message.group_id,  # standard queues keep it too (fair queues)
            dedup_id=message.dedup_id if settings.fifo else None,
        )
        return QueueDelivery(
            queue.id, settings.fifo, new, settings.deduplication_by_group,
            limits.DEDUPLICATION_WINDOW_S * 1000,
        )

    def delivered(self, queue_ids: set[int] | list[int]) -> None:
        """Wake receivers of queues that copies were committed to (one id per copy)."""
        sent = self._svc.counters.sent
        for queue_id in queue_ids:
            sent[queue_id] += 1
        for queue_id in set(queue_ids):
            self._svc.signals.notify(queue_id)

    async def send(self, arn: str, message: OutgoingMessage) -> str:
        """SendMessage to the queue ``arn`` names; the message id. Raises AWSError."""
        params: dict[str, Any] = {"QueueUrl": self._url(arn), "MessageBody": message.body}
        if message.attributes:
            params["MessageAttributes"] = message.attributes
        if message.group_id is not None:
            params["MessageGroupId"] = message.group_id
        if message.dedup_id is not None:
            params["MessageDeduplicationId"] = message.dedup_id
        answer = await messages.send_message(self._svc, params, self._ctx(arn, message.sender_id))
        assert answer is not None
        return str(answer["MessageId"])

    async def receive(
        self, arn: str, *, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        """ReceiveMessage with every attribute; [] when the wait ends empty."""
        params: dict[str, Any] = {
            "QueueUrl": self._url(arn), "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_seconds, "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            params["VisibilityTimeout"] = visibility_timeout
        answer = await messages.receive_message(self._svc, params, self._ctx(arn))
        return [
            ReceivedMessage(
                m["MessageId"], m["ReceiptHandle"], m["Body"], m["MD5OfBody"], m.get("Attributes", {}),
                m.get("MessageAttributes", {}), m.get("MD5OfMessageAttributes"),
            )
            for m in (answer or {}).get("Messages", [])
        ]

    async def delete(self, arn: str, receipt_handles: list[str]) -> None:
        """Delete received messages (in batches of 10)."""
        ctx = self._ctx(arn)
        for start in range(0, len(receipt_handles), limits.MAX_BATCH_ENTRIES):
            chunk = receipt_handles[start : start + limits.MAX_BATCH_ENTRIES]
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            await messages.delete_message_batch(self._svc, {"QueueUrl": self._url(arn), "Entries": entries}, ctx)

    async def change_visibility(self, arn: str, receipt_handle: str, timeout: int) -> None:
        await messages.change_message_visibility(
            self._svc, {"QueueUrl": self._url(arn), "ReceiptHandle": receipt_handle, "VisibilityTimeout": timeout},
            self._ctx(arn),
        )

    # -- operators (console, metrics): read-only ---------------------------------------------

    async def queue_stats(self, arns: list[str] | None = None) -> list[QueueStats]:
        """Depth, age of the oldest message and activity counters of the queues ``arns``
        names (missing ones are left out), or of every queue; one storage read for all."""
        svc = self._svc
        if arns is None:
            queues = svc.store.all_queues()
        else:
            found = (svc.queue_by_arn(arn) for arn in arns)
            queues = [q for q in found if q is not None]
        now = svc.clock.now_ms()
        gauges = await svc.store.inspect.gauges([q.id for q in queues], now)
        counters = svc.counters
        out = []
        for queue in queues:
            g = gauges[queue.id]
            settings = svc.settings(queue)
            out.append(QueueStats(
                arn=settings.arn, account=queue.account, region=queue.region, name=queue.name,
                fifo=settings.fifo, dead_letter_arn=settings.redrive_arn,
                visible=g.visible, in_flight=g.in_flight, delayed=g.delayed,
                oldest_age_s=None if g.oldest_sent_at is None else max(now - g.oldest_sent_at, 0) / 1000,
                sent=counters.sent.get(queue.id, 0), received=counters.received.get(queue.id, 0),
                deleted=counters.deleted.get(queue.id, 0),
                moved_to_dlq=counters.moved_to_dlq.get(queue.id, 0), created_at=queue.created_at,
            ))
        return out

    async def peek(self, arn: str, limit: int = 10) -> list[PeekedMessage]:
        """Up to ``limit`` messages of a queue, oldest first, without receiving them: receive
        counts, visibility and receipt handles stay as they were. Raises QueueDoesNotExist."""
        svc = self._svc
        queue = svc.queue_by_arn(arn)
        if queue is None:
            raise queue_does_not_exist()
        now = svc.clock.now_ms()
        out = []
        for m in await svc.store.inspect.peek(queue.id, max(1, min(limit, MAX_PEEK))):
            if m.visible_at <= now:
                state = "visible"
            elif m.first_receive_at is None:
                state = "delayed"
            else:
                state = "in flight"
            out.append(PeekedMessage(
                m.message_id, m.body, unpack(m.attributes) if m.attributes else {}, m.sender_id,
                m.sent_at, m.receive_count, m.first_receive_at, state, m.group_id, m.dedup_id,
                m.dead_letter_source,
            ))
        return out

    def _url(self, arn: str) -> str:
        parsed = parse_queue_arn(arn)
        return f"/queue/{parsed[0]}/{parsed[1]}/{parsed[2]}" if parsed else ""

    def _ctx(self, arn: str, sender: str = "AIDAPOSTROOM") -> RequestContext:
        parsed = parse_queue_arn(arn)
        region = parsed[0] if parsed else DEFAULT_REGION
        account = parsed[1] if parsed else ""
        return RequestContext(account, region, sender, "http://localhost", new_id())

