"""Publish and PublishBatch: validation, filtering and fan-out to every subscription.

Every copy of a publish is committed in one transaction before the answer: SQS copies go
straight into their queues, HTTP/S copies into the delivery outbox, and copies for
protocols Postroom cannot reach (email, sms, ...) into the records a user can inspect.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from postroom.ids import new_id
from postroom.protocol.context import RequestContext
from postroom.sns import limits, mobile, sms
from postroom.sns.envelope import Publication, dumps, notification
from postroom.sns.errors import (
    batch_error,
    invalid_parameter,
    invalid_parameter_value,
    throttled,
    topic_not_found,
)
from postroom.sns.lambda_delivery import lambda_item
from postroom.sns.stats import DeliveryFailure
from postroom.storage.base import OutboxItem, QueueDelivery, SubscriptionRecord, TopicRecord
from postroom.storage.errors import StaleRecord
from postroom.storage.sns_fifo import FifoPublication
from postroom.storage.sns_records import DIRECT_RECORD_PREFIX
from postroom.storage.topics import Audience, Record

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

Result = dict[str, Any] | None
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,128}$")
_SUBJECT = re.compile(r"^[\x20-\x7e]{1,100}$")
# Tries of a FIFO publish whose sequence numbers other nodes' publishes took first.
_SEQUENCE_ATTEMPTS = 8
# Tries of a publish whose topic's subscriptions other nodes changed under it.
_AUDIENCE_ATTEMPTS = 4


def _check_attributes(values: dict[str, Any]) -> tuple[dict[str, dict[str, str]], int]:
    """SNS message attributes to wire form ({"Type", "Value"}) and their size in bytes."""
    out: dict[str, dict[str, str]] = {}
    size = 0
    for name, value in values.items():
        _check_attribute_name(name)
        value = value if isinstance(value, dict) else {}  # a name sent without any value
        data_type = value.get("DataType") or ""
        base = data_type.split(".", 1)[0]
        field = "Binary" if base == "Binary" else "String"
        if base in ("String", "Number", "Binary") and f"{field}Value" not in value and (
            "BinaryValue" in value or "StringValue" in value
        ):
            raise invalid_parameter_value(
                f"The message attribute '{name}' with type '{data_type}' must use field '{field}'."
            )
        if data_type == "Binary":
            raw = value.get("BinaryValue")
            if not raw:
                raise invalid_parameter_value(f"The message attribute '{name}' must contain non-empty message attribute value for message attribute type 'Binary'.")
            text = base64.b64encode(raw).decode() if isinstance(raw, bytes | bytearray) else str(raw)
            size += len(raw)
        elif data_type in ("String", "Number", "String.Array"):
            text = value.get("StringValue")
            if text is None or text == "":
                raise invalid_parameter_value(f"The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'.")
            if data_type == "Number":
                try:
                    Decimal(text)
                except InvalidOperation:
                    raise invalid_parameter_value(f"The message attribute '{name}' with type 'Number' must contain a valid numeric value.") from None
            if data_type == "String.Array":
                try:
                    doc = orjson.loads(text)
                except orjson.JSONDecodeError:
                    doc = None
                if not isinstance(doc, list):
                    raise invalid_parameter_value(f"The message attribute '{name}' with type 'String.Array' must contain a JSON array.")
            size += len(text.encode())
        else:
            raise invalid_parameter_value(
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String."
            )
        size += len(name.encode()) + len(data_type.encode())
        out[name] = {"Type": data_type, "Value": text}
    return out, size


def _check_attribute_name(name: str) -> None:
    """AWS's SNS rules and messages, checked in its order."""
    if len(name.encode()) > 256:
        raise invalid_parameter_value("Length of message attribute name must be less than 256 bytes.")
    if _ATTRIBUTE_NAME.match(name) and not name.startswith(".") and not name.endswith(".") and ".." not in name:
        return
    if name.startswith("."):
        raise invalid_parameter_value("Invalid message attribute name starting with character '.' was found.")
    if name.endswith("."):
        raise invalid_parameter_value("Invalid message attribute name ending with character '.' was found.")
    for char in name:
        if not (char.isascii() and (char.isalnum() or char in "-_.")):
            raise invalid_parameter_value(
                f"Invalid non-alphanumeric character '#x{ord(char):X}' was found in the message attribute name. "
                "Can only include alphanumeric characters, hyphens, underscores, or dots."
            )
    raise invalid_parameter_value("Message attribute name can not have successive '.' character.")


def validate(
    entry: dict[str, Any], topic: TopicRecord | None, now: int, trace_header: str | None = None
) -> Publication:
    """Check one publish request (or batch entry) against AWS's rules."""
    message = entry.get("Message")
    if not message:
        raise invalid_parameter("Empty message")
    subject = entry.get("Subject")
    if subject is not None and not _SUBJECT.match(subject):
        raise invalid_parameter("Subject")
    per_protocol = None
    if entry.get("MessageStructure") is not None:
        if entry["MessageStructure"] != "json":
            raise invalid_parameter("MessageStructure")
        try:
            per_protocol = orjson.loads(message)
        except orjson.JSONDecodeError:
            per_protocol = None
        if not isinstance(per_protocol, dict):
            raise invalid_parameter("Message Structure - JSON message body failed to parse")
        if not isinstance(per_protocol.get("default"), str):
            raise invalid_parameter("Message Structure - No default entry in JSON message body")
    attributes, attributes_size = _check_attributes(entry.get("MessageAttributes") or {})
    if len(message.encode()) + attributes_size > limits.MAX_MESSAGE_BYTES:
        raise invalid_parameter("Message too long")
    group_id, dedup_id = entry.get("MessageGroupId"), entry.get("MessageDeduplicationId")
    for name, token in (("MessageGroupId", group_id), ("MessageDeduplicationId", dedup_id)):
        if token is not None and not _TOKEN.match(token):
            raise invalid_parameter(f"{name} Reason: must be 1-128 alphanumeric or punctuation characters")
    fifo = topic is not None and topic.attributes.get("FifoTopic") == "true"
    if fifo:
        if group_id is None:
            raise invalid_parameter("The MessageGroupId parameter is required for FIFO topics")
        if dedup_id is None:
            if topic.attributes.get("ContentBasedDeduplication") != "true":
                raise invalid_parameter(
                    "The topic should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup_id = hashlib.sha256(message.encode()).hexdigest()
    elif dedup_id is not None:
        raise invalid_parameter(
            "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type"
        )
    return Publication(
        new_id(), message, subject, per_protocol, attributes, group_id, dedup_id, now, trace_header=trace_header
    )


async def publish(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    target = p.get("TopicArn") or p.get("TargetArn")
    phone = p.get("PhoneNumber")
    now = svc.clock.now_ms()
    if target is None:
        if not phone:
            raise invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter")
        if not sms.E164.match(phone):
            raise invalid_parameter(f"PhoneNumber Reason: {phone} is not valid to publish to")
        pub = validate(p, None, now)
        if not sms.is_opted_out(svc, ctx.account, phone):  # AWS accepts, but never texts, opted-out numbers
            # No subscription: the row names the publisher's account instead, so that
            # account (and only it) sees the record.
            row = (DIRECT_RECORD_PREFIX + ctx.account, "sms", phone, orjson.dumps({"Message": pub.message}), now)
            await svc.topics.publish([], [], [row], now)
            svc.counters.delivered["sms"] += 1
        svc.counters.published += 1
        return {"MessageId": pub.message_id}
    if p.get("TargetArn") and mobile.ENDPOINT_ARN.match(p["TargetArn"]):
        return await _publish_to_endpoint(svc, p, now)
    topic = svc.topic(target, ctx.region, ctx)
    pub = validate(p, topic, now, ctx.trace_header)
    await fan_out(svc, topic, [pub], ctx, now)
    out = {"MessageId": pub.message_id}
    if pub.sequence_number is not None:
        out["SequenceNumber"] = pub.sequence_number
    return out


async def _publish_to_endpoint(svc: SnsService, p: dict[str, Any], now: int) -> Result:
    """A direct push to one mobile endpoint: validated and recorded."""
    found = svc.mobile.endpoints.get(p["TargetArn"])
    if found is None:
        raise invalid_parameter("TargetArn Reason: No endpoint found for the target arn specified")
    if found.attributes.get("Enabled", "true") != "true":
        raise svc.model.error("EndpointDisabledException", "Endpoint is disabled")
    entry = dict(p)
    if entry.get("MessageStructure") == "json":
        # A push payload may carry only platform keys (no "default"), unlike a topic's.
        try:
            doc = orjson.loads(entry["Message"])
        except orjson.JSONDecodeError:
            raise invalid_parameter("Message Structure - JSON message body failed to parse") from None
        if isinstance(doc, dict) and "default" not in doc:
            entry["Message"] = orjson.dumps({**doc, "default": ""}).decode()
    pub = validate(entry, None, now)
    record = {"Message": p["Message"], "MessageStructure": p.get("MessageStructure"), "MessageId": pub.message_id}
    if pub.attributes:
        record["MessageAttributes"] = pub.attributes
    owner = DIRECT_RECORD_PREFIX + found.arn.split(":")[4]  # the endpoint's account sees the record
    await svc.topics.publish([], [], [(owner, "application", found.arn, orjson.dumps(record), now)], now)
    svc.counters.published += 1
    svc.counters.delivered["application"] += 1
    return {"MessageId": pub.message_id}


def _endpoint_enabled(svc: SnsService, arn: str) -> bool:
    found = svc.mobile.endpoints.get(arn)
    return found is not None and found.attributes.get("Enabled", "true") == "true"


async def publish_batch(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    entries = p["PublishBatchRequestEntries"]
    if not entries:
        raise batch_error("EmptyBatchRequestException", "The batch request doesn't contain any entries")
    if len(entries) > limits.MAX_BATCH_ENTRIES:
        raise batch_error(
            "TooManyEntriesInBatchRequestException", "The batch request contains more entries than permissible."
        )
    seen: set[str] = set()
    for entry in entries:
        if not _ENTRY_ID.match(entry.get("Id") or ""):
            raise batch_error(
                "InvalidBatchEntryIdException",
                "The Id of a batch entry in a batch request doesn't abide by the specification.",
            )
        if entry["Id"] in seen:
            raise batch_error("BatchEntryIdsNotDistinctException", "Two or more batch entries in the request have the same Id.")
        seen.add(entry["Id"])
    total = sum(len((e.get("Message") or "").encode()) for e in entries)
    if total > limits.MAX_MESSAGE_BYTES:
        raise batch_error("BatchRequestTooLongException", "The length of all the messages put together is more than the limit.")
    now = svc.clock.now_ms()
    # AWS fails the whole request on the first invalid entry (recorded answers: a missing
    # group id, a missing "default" key, an empty attribute), never one entry alone.
    good = [(entry["Id"], validate(entry, topic, now, ctx.trace_header)) for entry in entries]
    await fan_out(svc, topic, [pub for _, pub in good], ctx, now)
    successful = []
    for entry_id, pub in good:
        item = {"Id": entry_id, "MessageId": pub.message_id}
        if pub.sequence_number is not None:
            item["SequenceNumber"] = pub.sequence_number
        successful.append(item)
    return {"Successful": successful, "Failed": []}


async def fan_out(svc: SnsService, topic: TopicRecord, pubs: list[Publication], ctx: RequestContext, now: int) -> None:
    """Filter and deliver every publication to every confirmed subscription, in one commit.

    The commit names the subscriptions it fanned out to and the store refuses it if they
    are no longer the topic's: another node subscribed (or unsubscribed) a moment ago and
    its notice has not reached this node's cache yet. Then the topic and its subscriptions
    are read from the store and the fan-out is made again, so a subscription answered on
    any node receives every publish that follows its answer.

    FIFO topics: a publication whose deduplication id was seen in the last five minutes is
    not delivered again and answers with the original's ids; the check is made in the same
    transaction as the copies, so it holds across restarts."""
    for _ in range(_AUDIENCE_ATTEMPTS):
        try:
            await _fan_out_to_cached(svc, topic, pubs, ctx, now)
            return
        except StaleRecord as stale:
            if stale.channel != "subscriptions":
                raise
        fresh = await svc.topics.find_topic(topic.arn)
        if fresh is None:
            raise topic_not_found()  # deleted on another node meanwhile
        topic = fresh
    raise throttled()  # the subscriptions keep changing under the publish


async def _fan_out_to_cached(
    svc: SnsService, topic: TopicRecord, pubs: list[Publication], ctx: RequestContext, now: int,
) -> None:
    """One fan-out to the subscriptions in this node's cache (see ``fan_out``)."""
    subscriptions = [s for s in svc.topics.subscriptions.values() if s.topic_arn == topic.arn and s.confirmed]
    audience = Audience(topic.arn, frozenset(s.arn for s in subscriptions))
    version = topic.attributes.get("SignatureVersion", "1")
    cert_path = svc.signer.cert_path()
    matched = [(pub, [sub for sub in subscriptions if svc.matches(sub, pub)]) for pub in pubs]
    enveloped = [(pub, sub) for pub, subs in matched for sub in subs
                 if sub.attributes.get("RawMessageDelivery") != "true"]
    if enveloped:
        # RSA signing is CPU work: do it off the event loop (the signatures are cached on
        # each publication, so building the envelopes below signs nothing more). The
        # signature does not cover SequenceNumber, so numbering can follow.
        def sign_all() -> None:
            for pub, sub in enveloped:
                notification(
                    pub, topic.arn, sub.arn, sub.protocol, ctx.base_url, version, svc.signer.sign, cert_path
                )

        await asyncio.to_thread(sign_all)
    if topic.attributes.get("FifoTopic") != "true":
        copies = _Copies()
        for pub, subs in matched:
            copies.add(svc, topic, pub, subs, ctx, version, cert_path, now)
        if copies.missing and await _found_elsewhere(svc, copies.missing):
            copies = _Copies()  # built again with the queues found (rare: a miss path)
            for pub, subs in matched:
                copies.add(svc, topic, pub, subs, ctx, version, cert_path, now)
        await svc.topics.publish(copies.queue_copies, copies.outbox, copies.records, now, audience=audience)
        svc.counters.published += len(pubs)
        _delivered(svc, copies)
        return
    missing = {s.endpoint for _, subs in matched for s in subs if s.protocol == "sqs"
               and svc.queues.queue(s.endpoint) is None}
    if missing:
        await _found_elsewhere(svc, missing)
    for attempt in range(_SEQUENCE_ATTEMPTS):
        # No await between numbering and the commit hand-off: this node's commits keep its
        # publish order. Another node's publish may have taken the numbers meanwhile: then
        # nothing was written; number above the stored last one and build the copies again.
        entries = []
        per_entry = []
        for pub, subs in matched:
            svc.number(topic.arn, pub, now)
            copies = _Copies()
            copies.add(svc, topic, pub, subs, ctx, version, cert_path, now)
            per_entry.append(copies)
            assert pub.dedup_id is not None and pub.sequence_number is not None
            entries.append(FifoPublication(
                pub.dedup_id, pub.message_id, pub.sequence_number, copies.queue_copies, copies.outbox, copies.records,
            ))
        try:
            originals = await svc.topics.publish_fifo(
                topic.arn, entries, now, limits.DEDUPLICATION_WINDOW_MS, audience=audience,
            )
            break
        except StaleRecord as stale:
            if stale.channel != "sns_sequence":
                raise
            assert isinstance(stale.stored, int)
            known = svc.last_sequence.get(topic.arn, 0)
            svc.last_sequence[topic.arn] = max(known, stale.stored)
            if attempt == _SEQUENCE_ATTEMPTS - 1:
                raise throttled() from None
    for (pub, _), copies, original in zip(matched, per_entry, originals, strict=True):
        if original is not None:
            pub.message_id, pub.sequence_number = original.message_id, original.sequence_number
        else:
            svc.counters.published += 1
            _delivered(svc, copies)


class _Copies:
    """The copies of publications for each kind of subscription."""

    def __init__(self, queue_copies: list[QueueDelivery] | None = None, outbox: list[OutboxItem] | None = None) -> None:
        self.queue_copies: list[QueueDelivery] = queue_copies or []
        self.outbox: list[OutboxItem] = outbox or []
        self.records: list[Record] = []
        # For the metrics and the console, counted once the copies are committed.
        self.sqs_delivered = 0
        self.failures: list[DeliveryFailure] = []
        self.missing: set[str] = set()  # queue ARNs not in this node's cache

    def add(
        self, svc: SnsService, topic: TopicRecord, pub: Publication, subs: list[SubscriptionRecord],
        ctx: RequestContext, version: str, cert_path: str, now: int,
    ) -> None:
        for sub in subs:
            raw = sub.attributes.get("RawMessageDelivery") == "true"
            body = pub.message_for(sub.protocol) if raw else dumps(
                notification(
                    pub, topic.arn, sub.arn, sub.protocol, ctx.base_url, version, svc.signer.sign, cert_path
                )
            )
            if sub.protocol == "sqs":
                queue = svc.queues.queue(sub.endpoint)
                if queue is None:
                    self.missing.add(sub.endpoint)
                if queue is None or not svc.queue_allows(topic, queue):
                    # The queue is gone, or its policy refuses SNS: a client-side error, so the
                    # copy goes to the DLQ (or is dropped).
                    self.queue_copies.extend(svc.dead_letter_copies(sub, body, pub, now, raw))
                    self.failures.append(DeliveryFailure(
                        now, topic.arn, sub.arn, "sqs", sub.endpoint, "The queue does not exist."
                    ))
                    continue
                self.queue_copies.append(
                    svc.queue_copy(queue, body, pub.attributes if raw else None, pub, ctx.access_key, now)
                )
                self.sqs_delivered += 1
            elif sub.protocol in ("http", "https"):
                self.outbox.append(svc.delivery.notification_item(sub, pub, body, raw, topic, now))
            elif sub.protocol == "application" and not _endpoint_enabled(svc, sub.endpoint):
                continue  # AWS delivers nothing to a disabled (or deleted) mobile endpoint
            elif sub.protocol == "lambda" and svc.apis is not None and svc.apis.lambda_ is not None:
                self.outbox.append(lambda_item(svc, sub, pub, topic, ctx.base_url, now)[0])
            else:
                self.records.append((sub.arn, sub.protocol, sub.endpoint, orjson.dumps({"Message": body}), now))


async def _found_elsewhere(svc: SnsService, arns: set[str]) -> bool:
    """Look up queues missing from the cache in storage (another node may have created them
    a moment ago, before its notice arrived); True if any was found."""
    found = False
    for arn in arns:
        found |= await svc.queues.find(arn) is not None
    return found


def _delivered(svc: SnsService, copies: _Copies) -> None:
    svc.queues.delivered([c.queue_id for c in copies.queue_copies])
    counters = svc.counters
    counters.delivered["sqs"] += copies.sqs_delivered
    for record in copies.records:
        counters.delivered[record[1]] += 1
    for failure in copies.failures:
        counters.failure(failure)
    if copies.outbox:
        svc.delivery.wake()


OPERATIONS = {"Publish": publish, "PublishBatch": publish_batch}
