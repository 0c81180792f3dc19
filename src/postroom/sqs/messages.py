"""Message operations: send, receive (with long polling), delete, change visibility."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import orjson

from postroom.ids import new_id
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError, invalid_parameter_value, missing_parameter
from postroom.sqs import limits, receipts
from postroom.sqs.batches import check_entries, failure, run_entries
from postroom.sqs.errors import (
    batch_too_long,
    message_not_inflight,
    over_limit,
    parameter_out_of_range,
)
from postroom.sqs.message_attributes import (
    check_body,
    md5_hex,
    md5_of_attributes,
    pack,
    trace_attribute,
    unpack,
    validate_attributes,
)
from postroom.storage.base import NewMessage, QueueRecord, StoredMessage, VisibilityChange

if TYPE_CHECKING:
    from postroom.sqs.service import QueueSettings, SqsService

Result = dict[str, Any] | None

SYSTEM_ATTRIBUTE_NAMES = (
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
    "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


_MESSAGE_ID_CHARS = re.compile(r"^[\x21-\x7e]{1,128}$")  # alphanumerics and punctuation
SEQUENCE_BASE = 10**19  # AWS's sequence numbers are 20-digit decimal strings


def sequence_number(seq: int) -> str:
    return str(SEQUENCE_BASE + seq)


def _check_token(name: str, value: str | None) -> None:
    if value is not None and not _MESSAGE_ID_CHARS.match(value):
        raise invalid_parameter_value(
            f"Value {value} for parameter {name} is invalid. Reason: {name} can only include "
            "alphanumeric and punctuation characters. 1 to 128 in length."
        )


def _range(name: str, value: int | None, low: int, high: int, reason: str) -> None:
    if value is not None and not low <= value <= high:
        raise parameter_out_of_range(name, value, reason)


# -- send ----------------------------------------------------------------------------------


def _prepare(
    entry: dict[str, Any], settings: QueueSettings, ctx: RequestContext, now: int
) -> tuple[NewMessage, dict[str, Any], int]:
    """Validate one message; return it ready to store, its answer, and its size."""
    body = entry.get("MessageBody")
    if not body:
        raise missing_parameter("MessageBody")
    check_body(body)
    delay = entry.get("DelaySeconds")
    _range("DelaySeconds", delay, *limits.DELAY_SECONDS[:2], "DelaySeconds must be >= 0 and <= 900.")
    group_id = entry.get("MessageGroupId")
    dedup_id = entry.get("MessageDeduplicationId")
    _check_token("MessageGroupId", group_id)
    _check_token("MessageDeduplicationId", dedup_id)
    if settings.fifo:
        if group_id is None:
            raise missing_parameter("MessageGroupId")
        if delay:
            raise parameter_out_of_range(
                "DelaySeconds", delay, "The request include parameter that is not valid for this queue type."
            )
        if dedup_id is None:
            if not settings.content_based_deduplication:
                raise invalid_parameter_value(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup_id = hashlib.sha256(body.encode()).hexdigest()
    elif dedup_id is not None:
        raise invalid_parameter_value(
            "The request include parameter that is not valid for this queue type. "
            "Reason: MessageDeduplicationId is only valid for FIFO queues."
        )
    message_attributes, attributes_size = validate_attributes(entry.get("MessageAttributes") or {})
    system_attributes, _ = validate_attributes(entry.get("MessageSystemAttributes") or {}, system=True)
    md5_system = md5_of_attributes(system_attributes) if system_attributes else None
    if ctx.trace_header and "AWSTraceHeader" not in system_attributes:
        # As AWS does: the X-Ray header becomes the attribute, unless the request sets it.
        system_attributes = {**system_attributes, **trace_attribute(ctx.trace_header)}
    body_bytes = body.encode()
    size = len(body_bytes) + attributes_size
    if size > settings.maximum_message_size:
        raise invalid_parameter_value(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{settings.maximum_message_size} bytes."
        )
    md5_body = md5_hex(body_bytes)
    md5_attrs = md5_of_attributes(message_attributes) if message_attributes else None
    # A FIFO queue's delay applies to every message (DelaySeconds=0 included); a standard
    # queue's per-message delay overrides the queue's.
    delay_s = settings.delay_seconds if delay is None or settings.fifo else delay
    message = NewMessage(
        message_id=new_id(),
        body=body,
        md5_body=md5_body,
        attributes=pack(message_attributes),
        md5_attributes=md5_attrs,
        system_attributes=pack(system_attributes),
        md5_system_attributes=md5_system,
        sender_id=ctx.access_key,
        sent_at=now,
        visible_at=now + delay_s * 1000,
        group_id=group_id,
        dedup_id=dedup_id,
    )
    answer: dict[str, Any] = {"MessageId": message.message_id, "MD5OfMessageBody": md5_body}
    if md5_attrs:
        answer["MD5OfMessageAttributes"] = md5_attrs
    if md5_system:
        answer["MD5OfMessageSystemAttributes"] = md5_system
    return message, answer, size


async def send_message(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    settings = svc.settings(queue)
    now = svc.clock.now_ms()
    message, answer, _ = _prepare(p, settings, ctx, now)
    await _store(svc, queue, settings, [(message, answer)], now)
    return answer


async def _store(
    svc: SqsService, queue: QueueRecord, settings: QueueSettings,
    prepared: list[tuple[NewMessage, dict[str, Any]]], now: int,
) -> None:
    """Store prepared messages; for FIFO, fill in sequence numbers and the original ids
    of duplicates. Waiting receivers are woken when something new arrived."""
    messages = [m for m, _ in prepared]
    if not settings.fifo:
        await svc.store.send(queue.id, messages)
        svc.counters.sent[queue.id] += len(messages)
        svc.signals.notify(queue.id)
        return
    outcomes = await svc.store.send_fifo(
        queue.id, messages, now=now, window_ms=limits.DEDUPLICATION_WINDOW_S * 1000,
        scope_by_group=settings.deduplication_by_group,
    )
    for (_, answer), (message_id, seq, _duplicate) in zip(prepared, outcomes, strict=True):
        answer["MessageId"] = message_id
        answer["SequenceNumber"] = sequence_number(seq)
    svc.counters.sent[queue.id] += len(messages)
    if not all(duplicate for _, _, duplicate in outcomes):
        svc.signals.notify(queue.id)


def _check_fifo_batch(entries: list[dict[str, Any]], settings: QueueSettings) -> None:
    """AWS fails a whole FIFO batch (not single entries) when an entry lacks its group id,
    or its deduplication id on a queue without content-based deduplication."""
    if any(entry.get("MessageGroupId") is None for entry in entries):
        raise invalid_parameter_value("The request must contain the parameter MessageGroupId.")  # AWS's code
    if not settings.content_based_deduplication and any(
        entry.get("MessageDeduplicationId") is None for entry in entries
    ):
        raise invalid_parameter_value(
            "The queue should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly"
        )


async def send_message_batch(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    entries = p["Entries"]
    check_entries(entries, "SendMessageBatchRequestEntry")
    settings = svc.settings(queue)
    if settings.fifo:
        _check_fifo_batch(entries, settings)
    now = svc.clock.now_ms()
    prepared: list[tuple[str, NewMessage, dict[str, Any]]] = []
    failed: list[dict[str, Any]] = []
    total = 0
    for entry in entries:
        try:
            message, answer, size = _prepare(entry, settings, ctx, now)
        except AWSError as error:
            failed.append(failure(entry["Id"], error))
            continue
        total += size
        prepared.append((entry["Id"], message, answer))
    # The batch as a whole may hold up to AWS's fixed request limit, whatever the queue's
    # MaximumMessageSize (which limits each message).
    if total > limits.MAX_MESSAGE_SIZE:
        raise batch_too_long(total, limits.MAX_MESSAGE_SIZE)
    if prepared:
        await _store(svc, queue, settings, [(m, answer) for _, m, answer in prepared], now)
    successful = [{"Id": entry_id, **answer} for entry_id, _, answer in prepared]
    return {"Successful": successful, "Failed": failed}


# -- receive -------------------------------------------------------------------------------


def _wanted_system_attributes(p: dict[str, Any]) -> set[str]:
    names = set(p.get("AttributeNames") or ()) | set(p.get("MessageSystemAttributeNames") or ())
    if "All" in names:
        return set(SYSTEM_ATTRIBUTE_NAMES)
    return names & set(SYSTEM_ATTRIBUTE_NAMES)


def _attribute_filter(names: list[str]) -> Any:
    if not names:
        return None
    if "All" in names or ".*" in names:
        return lambda name: True
    exact = {n for n in names if not n.endswith(".*")}
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    return lambda name: name in exact or (bool(prefixes) and name.startswith(prefixes))


def _render(
    message: StoredMessage, queue: QueueRecord, system_names: set[str], attribute_filter: Any,
    fifo: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": receipts.encode(queue.id, message.seq, message.receipt),
        "MD5OfBody": message.md5_body,
        "Body": message.body,
    }
    if system_names:
        values = {
            "SenderId": message.sender_id,
            "SentTimestamp": str(message.sent_at),
            "ApproximateReceiveCount": str(message.receive_count),
            "ApproximateFirstReceiveTimestamp": str(message.first_receive_at),
        }
        if message.group_id is not None:
            values["MessageGroupId"] = message.group_id
        if fifo:
            values["MessageDeduplicationId"] = message.dedup_id or ""
            values["SequenceNumber"] = sequence_number(message.seq)
        if message.dead_letter_source is not None:
            values["DeadLetterQueueSourceArn"] = message.dead_letter_source
        if message.system_attributes:
            trace = unpack(message.system_attributes).get("AWSTraceHeader")
            if trace:
                values["AWSTraceHeader"] = trace["StringValue"]
        out["Attributes"] = {k: v for k, v in values.items() if k in system_names}
    if attribute_filter is not None and message.attributes:
        chosen = {k: v for k, v in unpack(message.attributes).items() if attribute_filter(k)}
        out["MessageAttributes"] = chosen  # AWS answers {} when none of the names match
        if chosen:
            # The digest covers what is returned, which is what SDKs verify.
            out["MD5OfMessageAttributes"] = (
                message.md5_attributes if len(chosen) == len(unpack(message.attributes))
                else md5_of_attributes(chosen)
            )
    return out


async def receive_message(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    settings = svc.settings(queue)
    max_messages = p.get("MaxNumberOfMessages")
    _range("MaxNumberOfMessages", max_messages, 1, limits.MAX_RECEIVE_MESSAGES,
           "Must be between 1 and 10, if provided.")
    visibility = p.get("VisibilityTimeout")
    _range("VisibilityTimeout", visibility, *limits.VISIBILITY_TIMEOUT[:2],
           "Must be >= 0 and <= 43200, if provided.")
    wait = p.get("WaitTimeSeconds")
    _range("WaitTimeSeconds", wait, *limits.RECEIVE_WAIT_SECONDS[:2], "Must be >= 0 and <= 20, if provided.")
    max_messages = max_messages or 1
    attempt_id = p.get("ReceiveRequestAttemptId") if settings.fifo else None
    _check_token("ReceiveRequestAttemptId", attempt_id)
    if attempt_id is not None:
        # Stored, so a retry reaching another node, or this one after a restart, is answered too.
        stored = await svc.store.sqs_state.receive_attempt(queue.id, attempt_id, svc.clock.now_ms())
        if stored is not None:
            return orjson.loads(stored)  # a retried receive gets the same messages and receipts
    visibility_ms = (settings.visibility_timeout if visibility is None else visibility) * 1000
    wait_s = settings.receive_wait_seconds if wait is None else wait
    await _check_in_flight(svc, queue)
    store, signals, clock = svc.store, svc.signals, svc.clock
    deadline = clock.now_ms() + wait_s * 1000
    while True:
        version = signals.version(queue.id)
        now = clock.now_ms()
        result = await store.receive(
            queue.id, now=now, max_messages=max_messages, visibility_ms=visibility_ms,
            retention_cutoff=now - settings.retention_seconds * 1000, redrive=svc.redrive_for(queue),
            fifo_order=settings.fifo,
        )
        if result.moved:
            svc.counters.moved_to_dlq[queue.id] += result.moved
            redrive = svc.redrive_for(queue)
            if redrive is not None:
                signals.notify(redrive.dead_letter_queue_id)
        remaining = (deadline - clock.now_ms()) / 1000
        if result.messages or remaining <= 0 or svc.closing:
            break
        timeout = remaining
        if result.next_visible_at is not None:
            timeout = min(timeout, max((result.next_visible_at - clock.now_ms()) / 1000, 0.001))
        await signals.wait(queue.id, version, timeout, clock)
        if store.queue_by_id(queue.id) is None:
            return {}
    if not result.messages:
        return {}
    svc.counters.received[queue.id] += len(result.messages)
    counted_at, in_flight = svc.in_flight[queue.id]
    svc.in_flight[queue.id] = (counted_at, in_flight + len(result.messages))
    system_names = _wanted_system_attributes(p)
    attribute_filter = _attribute_filter(p.get("MessageAttributeNames") or [])
    answer = {
        "Messages": [_render(m, queue, system_names, attribute_filter, settings.fifo) for m in result.messages]
    }
    if attempt_id is not None:
        # Saved after the receive's own commit: a crash between them loses only the replay
        # (the messages come back when their visibility ends, as for any lost answer).
        await svc.store.sqs_state.save_receive_attempt(
            queue.id, attempt_id, svc.clock.now_ms() + visibility_ms, orjson.dumps(answer),
        )
    return answer


async def _check_in_flight(svc: SqsService, queue: QueueRecord) -> None:
    """OverLimit once a queue holds ``max_in_flight`` received, undeleted messages. The
    count is taken at most once a second and grown by each receive in between, like
    AWS's approximate limit, so receives stay cheap."""
    now = svc.clock.now_ms()
    counted_at, in_flight = svc.in_flight.get(queue.id, (0, 0))
    if now - counted_at >= limits.IN_FLIGHT_RECOUNT_MS:
        in_flight = (await svc.store.counts(queue.id, now)).not_visible
        svc.in_flight[queue.id] = (now, in_flight)
    if in_flight >= svc.max_in_flight:
        raise over_limit(svc.max_in_flight)


# -- delete and visibility -----------------------------------------------------------------


def _receipt_expired(handle: str) -> AWSError:
    return invalid_parameter_value(
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    )


async def _delete(svc: SqsService, queue: QueueRecord, handles: list[tuple[int, int]]) -> set[int]:
    """Delete by receipt; FIFO: return the seqs whose receipt expired, and wake waiting
    receivers, since a deleted group head may release the group's next message."""
    fifo = svc.settings(queue).fifo
    expired = await svc.store.delete_messages(queue.id, handles, fifo_order=fifo, now=svc.clock.now_ms())
    svc.counters.deleted[queue.id] += len(handles) - len(expired)
    if fifo:
        svc.signals.notify(queue.id)
    return expired


async def delete_message(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    seq, receipt = receipts.decode(p["ReceiptHandle"], queue.id)
    if await _delete(svc, queue, [(seq, receipt)]):
        raise _receipt_expired(p["ReceiptHandle"])
    return None


async def delete_message_batch(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    entries = p["Entries"]
    check_entries(entries, "DeleteMessageBatchRequestEntry")
    valid: list[tuple[str, tuple[int, int]]] = []
    handles = {entry["Id"]: entry.get("ReceiptHandle") or "" for entry in entries}
    failed: list[dict[str, Any]] = []
    for entry in entries:
        try:
            valid.append((entry["Id"], receipts.decode(entry.get("ReceiptHandle") or "", queue.id)))
        except AWSError as error:
            failed.append(failure(entry["Id"], error))
    expired = await _delete(svc, queue, [r for _, r in valid]) if valid else set()
    successful = []
    for entry_id, (seq, _) in valid:
        if seq in expired:
            failed.append(failure(entry_id, _receipt_expired(handles[entry_id])))
        else:
            successful.append({"Id": entry_id})
    return {"Successful": successful, "Failed": failed}


def _visibility_error(result: VisibilityChange, handle: str, timeout: int) -> AWSError | None:
    if result is VisibilityChange.NOT_IN_FLIGHT:
        return message_not_inflight()
    if result is VisibilityChange.NOT_FOUND:
        return invalid_parameter_value(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not "
            "exist or is not available for visibility timeout change."
        )
    if result is VisibilityChange.LIMIT_EXCEEDED:
        return invalid_parameter_value(
            f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
            "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
        )
    return None


async def _change_visibility(
    svc: SqsService, queue: QueueRecord, handle: str, timeout: int | None
) -> None:
    if timeout is None:
        raise missing_parameter("VisibilityTimeout")
    _range("VisibilityTimeout", timeout, *limits.VISIBILITY_TIMEOUT[:2],
           "VisibilityTimeout must be an integer between 0 and 43200")
    seq, receipt = receipts.decode(handle, queue.id)
    now = svc.clock.now_ms()
    # AWS (recorded answer): on a standard queue the latest receipt still changes the
    # visibility of a message whose timeout ended, as long as nobody received it since.
    [result] = await svc.store.change_visibility(
        queue.id, [(seq, receipt, now + timeout * 1000)], now=now,
        max_total_ms=limits.MAX_TOTAL_VISIBILITY_S * 1000, allow_expired=not svc.settings(queue).fifo,
    )
    error = _visibility_error(result, handle, timeout)
    if error is not None:
        raise error
    if timeout == 0:
        svc.signals.notify(queue.id)


async def change_message_visibility(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    await _change_visibility(svc, queue, p["ReceiptHandle"], p.get("VisibilityTimeout"))
    return None


async def change_message_visibility_batch(
    svc: SqsService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    queue = svc.queue_for(p, ctx)
    entries = p["Entries"]
    check_entries(entries, "ChangeMessageVisibilityBatchRequestEntry")

    async def handle(entry: dict[str, Any]) -> dict[str, Any]:
        await _change_visibility(svc, queue, entry.get("ReceiptHandle") or "", entry.get("VisibilityTimeout"))
        return {"Id": entry["Id"]}

    return await run_entries(entries, handle)


OPERATIONS = {
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
}
