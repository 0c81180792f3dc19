"""Delivery to Lambda subscriptions: the SNS event handed to the function asynchronously.

A publish commits one outbox row per function subscription, in the same transaction as
its other copies; the outbox worker then calls the function's ``invoke_async`` (which
stores the event durably and answers at once) and removes the row. A crash in between
repeats the handoff (at least once), never loses it.

Retries follow SNS's policy for AWS-managed endpoints (3 immediate, 2 after 1 s, 10 backing
off from 1 s to 20 s, then every 20 s: 100,015 attempts). A function that no longer exists
is a client-side error: no retries, the copy goes to the subscription's dead-letter queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from postroom.protocol.errors import AWSError
from postroom.sns.envelope import Publication, notification
from postroom.sns.retry import retry_delay
from postroom.storage.base import OutboxItem, SubscriptionRecord, TopicRecord

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

KIND = "lambda"
MANAGED_ENDPOINT_RETRY_POLICY: dict[str, Any] = {
    "numRetries": 100_015,
    "numNoDelayRetries": 3,
    "numMinDelayRetries": 2,
    "numMaxDelayRetries": 100_000,
    "minDelayTarget": 1,
    "maxDelayTarget": 20,
    "backoffFunction": "exponential",
}
CLIENT_ERRORS = frozenset({"ResourceNotFoundException"})


def _account_region(function_arn: str) -> tuple[str, str]:
    parts = function_arn.split(":")
    return (parts[4], parts[3]) if len(parts) >= 7 else ("", "")


def lambda_event(doc: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event a function gets, from the subscription's Notification envelope (AWS spells
    two keys differently here and always writes Subject and MessageAttributes)."""
    sns = {
        "Type": doc["Type"], "MessageId": doc["MessageId"], "TopicArn": doc["TopicArn"],
        "Subject": doc.get("Subject"), "Message": doc["Message"], "Timestamp": doc["Timestamp"],
        "SignatureVersion": doc.get("SignatureVersion"), "Signature": doc.get("Signature"),
        "SigningCertUrl": doc.get("SigningCertURL"), "UnsubscribeUrl": doc["UnsubscribeURL"],
        "MessageAttributes": doc.get("MessageAttributes", {}),
    }
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn, "Sns": sns,
    }]}


def lambda_item(
    svc: SnsService, sub: SubscriptionRecord, pub: Publication, topic: TopicRecord, base_url: str, now: int
) -> tuple[OutboxItem, str]:
    """The outbox row for one function subscription, and the envelope (for a DLQ copy)."""
    version = topic.attributes.get("SignatureVersion", "1")
    doc = notification(
        pub, topic.arn, sub.arn, "lambda", base_url, version, svc.signer.sign, svc.signer.cert_path()
    )
    envelope = orjson.dumps(doc).decode()
    payload = orjson.dumps({
        "function": sub.endpoint, "event": orjson.dumps(lambda_event(doc, sub.arn)).decode(),
        "envelope": envelope,
    })
    return OutboxItem(sub.arn, KIND, payload, due_at=now, created_at=now), envelope


async def deliver(svc: SnsService, item: OutboxItem, sub: SubscriptionRecord) -> None:
    """One attempt: hand the event over, or schedule the next try, or give up to the DLQ."""
    payload = orjson.loads(item.payload)
    functions = svc.apis.lambda_ if svc.apis is not None else None
    error: AWSError | None = None
    if functions is None:
        error = AWSError("ServiceUnavailable", "Lambda is not running", status=503, sender=False)
    else:
        account, region = _account_region(payload["function"])
        try:
            await functions.invoke_async(
                payload["function"], payload["event"].encode(), account=account, region=region
            )
        except AWSError as raised:
            error = raised
    if error is None:
        await svc.topics.finish_outbox(item.id)
        return
    now = svc.clock.now_ms()
    delay = None if error.code in CLIENT_ERRORS else retry_delay(MANAGED_ENDPOINT_RETRY_POLICY, item.attempts + 1)
    if delay is not None:
        await svc.topics.finish_outbox(item.id, retry_at=now + int(delay * 1000))
        svc.delivery.wake()
        return
    copies = svc.dead_letter_copies(sub, payload["envelope"], None, now)
    await svc.topics.finish_outbox(item.id, dead_letter=copies, now=now)
    svc.queues.delivered({copy.queue_id for copy in copies})
