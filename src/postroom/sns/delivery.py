"""HTTP/S delivery: works through the outbox, retrying per the DeliveryPolicy.

Rows are taken from the durable outbox, so pending deliveries and their retry times
survive a restart. AWS counts any answer from 200 to 4xx as a
delivery (its guide: only "a status code outside the range of 200-4xx" is a failed attempt),
so only 5xx and connection failures are retried on the policy's schedule; a copy that runs
out of retries goes to the subscription's dead-letter queue.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from postroom.ids import new_id
from postroom.protocol.context import RequestContext
from postroom.sns import lambda_delivery, limits
from postroom.sns.envelope import Publication, dumps, iso_timestamp
from postroom.sns.retry import healthy_retry_policy, retry_delay
from postroom.sns.stats import DeliveryFailure
from postroom.sns.targets import resolves_public
from postroom.storage.base import OutboxItem, SubscriptionRecord, TopicRecord
from postroom.storage.errors import log_round_failed

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

log = logging.getLogger("postroom.sns.delivery")

CONCURRENCY = 64
BATCH = 200
IDLE_WAIT_S = 30.0
REQUEST_TIMEOUT_S = 15.0
UNSUBSCRIBE = "unsubscribe"  # outbox kind of an UnsubscribeConfirmation


class HttpDelivery:
    """The outbox worker for HTTP/S subscriptions (and their confirmation requests)."""

    def __init__(self, svc: SnsService) -> None:
        self.svc = svc
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_progress: set[int] = set()
        # Running attempts, kept so they are not garbage-collected mid-flight and can be
        # cancelled at stop.
        self._attempts: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._last_send: dict[str, list[float]] = {}

    async def start(self) -> None:
        # Started again after a stop (a reset, or this node holds the outbox lease again):
        # attempts cancelled before they began never gave their row or slot back.
        self._in_progress.clear()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        # Real time on purpose: this bounds a network call to an endpoint outside the engine.
        self._client = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, follow_redirects=False)
        self._task = asyncio.create_task(self._loop(), name="sns-http-delivery")

    async def stop(self) -> None:
        running = [t for t in (self._task, *self._attempts) if t is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def forget(self) -> None:
        """Drop per-subscription state (after a reset; the worker is stopped)."""
        self._in_progress.clear()
        self._last_send.clear()

    def wake(self) -> None:
        self._wake.set()

    # -- building outbox items -----------------------------------------------------------

    def notification_item(
        self, sub: SubscriptionRecord, pub: Publication, body: str, raw: bool, topic: TopicRecord, now: int
    ) -> OutboxItem:
        headers = {
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": pub.message_id,
            "x-amz-sns-topic-arn": topic.arn,
            "x-amz-sns-subscription-arn": sub.arn,
            "content-type": _content_type(topic, sub),
            "user-agent": "Amazon Simple Notification Service Agent",
        }
        if raw:
            headers["x-amz-sns-rawdelivery"] = "true"
        payload = orjson.dumps({"url": sub.endpoint, "body": body, "headers": headers})
        return OutboxItem(sub.arn, "notification", payload, due_at=now, created_at=now)

    async def request_confirmation(self, sub: SubscriptionRecord, topic: TopicRecord, ctx: RequestContext) -> None:
        """Store a pending subscription with its SubscriptionConfirmation in one commit."""
        now = self.svc.clock.now_ms()
        doc: dict[str, Any] = {
            "Type": "SubscriptionConfirmation",
            "MessageId": new_id(),
            "Token": sub.token,
            "TopicArn": topic.arn,
            "Message": (
                f"You have chosen to subscribe to the topic {topic.arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": (
                f"{ctx.base_url}/?Action=ConfirmSubscription&TopicArn={quote(topic.arn, safe=':')}"
                f"&Token={sub.token}"
            ),
            "Timestamp": iso_timestamp(now),
        }
        version = topic.attributes.get("SignatureVersion", "1")
        doc["SignatureVersion"] = version
        doc["Signature"] = await self.svc.signer.sign_async(doc, version)
        doc["SigningCertURL"] = ctx.base_url + self.svc.signer.cert_path()
        if sub.protocol in ("http", "https"):
            headers = {
                "x-amz-sns-message-type": "SubscriptionConfirmation",
                "x-amz-sns-message-id": doc["MessageId"],
                "x-amz-sns-topic-arn": topic.arn,
                "content-type": "text/plain; charset=UTF-8",
                "user-agent": "Amazon Simple Notification Service Agent",
            }
            payload = orjson.dumps({"url": sub.endpoint, "body": dumps(doc), "headers": headers})
            item = OutboxItem(sub.arn, "confirmation", payload, due_at=now, created_at=now)
            await self.svc.topics.save_subscription(sub, outbox=[item])
            self.wake()
        else:  # email, email-json: the confirmation is recorded for the user to read
            await self.svc.topics.save_subscription(sub)
            await self.svc.topics.publish([], [], [(sub.arn, sub.protocol, sub.endpoint, orjson.dumps(doc), now)], now)

    async def unsubscribe_item(self, sub: SubscriptionRecord, ctx: RequestContext) -> OutboxItem:
        """The signed UnsubscribeConfirmation AWS sends to an HTTP/S endpoint whose confirmed
        subscription is deleted (queued in the deletion's commit)."""
        now = self.svc.clock.now_ms()
        token = secrets.token_hex(limits.TOKEN_BYTES)
        doc: dict[str, Any] = {
            "Type": "UnsubscribeConfirmation",
            "MessageId": new_id(),
            "Token": token,
            "TopicArn": sub.topic_arn,
            "Message": (
                f"You have chosen to deactivate subscription {sub.arn}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": (
                f"{ctx.base_url}/?Action=ConfirmSubscription&TopicArn={quote(sub.topic_arn, safe=':')}&Token={token}"
            ),
            "Timestamp": iso_timestamp(now),
        }
        topic = self.svc.topics.topics.get(sub.topic_arn)
        version = topic.attributes.get("SignatureVersion", "1") if topic is not None else "1"
        doc["SignatureVersion"] = version
        doc["Signature"] = await self.svc.signer.sign_async(doc, version)
        doc["SigningCertURL"] = ctx.base_url + self.svc.signer.cert_path()
        headers = {
            "x-amz-sns-message-type": "UnsubscribeConfirmation",
            "x-amz-sns-message-id": doc["MessageId"],
            "x-amz-sns-topic-arn": sub.topic_arn,
            "x-amz-sns-subscription-arn": sub.arn,
            "content-type": "text/plain; charset=UTF-8",
            "user-agent": "Amazon Simple Notification Service Agent",
        }
        payload = orjson.dumps({"url": sub.endpoint, "body": dumps(doc), "headers": headers})
        return OutboxItem(sub.arn, UNSUBSCRIBE, payload, due_at=now, created_at=now)

    # -- the worker ---------------------------------------------------------------------

    async def _loop(self) -> None:
        topics = self.svc.topics
        while True:
            try:
                self._wake.clear()
                now = self.svc.clock.now_ms()
                due_items = await topics.due_outbox(now, BATCH)
                items = [i for i in due_items if i.id not in self._in_progress]
                for item in items:
                    self._in_progress.add(item.id)
                    await self._slots.acquire()
                    task = asyncio.create_task(self._attempt(item), name="sns-http-attempt")
                    self._attempts.add(task)
                    task.add_done_callback(self._attempts.discard)
                if items:
                    continue
                if due_items:
                    # Everything due is being attempted: wait for an attempt to finish (it
                    # wakes the loop) rather than polling every few milliseconds.
                    timeout = IDLE_WAIT_S
                else:
                    due = await topics.next_outbox_due()
                    timeout = IDLE_WAIT_S if due is None else max((due - self.svc.clock.now_ms()) / 1000, 0.01)
                try:
                    await self.svc.clock.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log_round_failed(log, "delivery loop failed; retrying")
                await self.svc.clock.sleep(1)

    async def _attempt(self, item: OutboxItem) -> None:
        try:
            await self._deliver(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Whatever went wrong, it is one failed attempt under the default policy: the
            # row must never become due again at once (that was a hot loop).
            log.warning("delivery of outbox row %d failed: %r", item.id, exc)
            try:
                await self._settle_failure(item)
            except Exception:
                log_round_failed(log, "could not reschedule outbox row %d", item.id)
                await self.svc.clock.sleep(1)  # storage trouble: do not spin on the row
        finally:
            self._in_progress.discard(item.id)
            self._slots.release()
            self.wake()

    async def _settle_failure(self, item: OutboxItem) -> None:
        now = self.svc.clock.now_ms()
        delay = retry_delay(dict(limits.DEFAULT_HEALTHY_RETRY_POLICY), item.attempts + 1)
        if delay is None:
            log.info("giving up on outbox row %d after %d attempts", item.id, item.attempts + 1)
            await self.svc.topics.finish_outbox(item.id)
        else:
            await self.svc.topics.finish_outbox(item.id, retry_at=now + int(delay * 1000))

    async def _deliver(self, item: OutboxItem) -> None:
        svc = self.svc
        if item.kind == UNSUBSCRIBE:
            await self._deliver_unsubscribe(item)
            return
        sub = svc.topics.subscriptions.get(item.subscription_arn)
        if sub is None:  # unsubscribed since
            await svc.topics.finish_outbox(item.id)
            return
        if item.kind == lambda_delivery.KIND:
            await lambda_delivery.deliver(svc, item, sub)
            return
        topic = svc.topics.topics.get(sub.topic_arn)
        policy = healthy_retry_policy(
            topic.attributes.get("DeliveryPolicy") if topic else None, sub.attributes.get("DeliveryPolicy")
        )
        await self._throttle(sub.arn, policy.get("maxReceivesPerSecond"))
        payload = orjson.loads(item.payload)
        status = await self._post(payload)
        now = svc.clock.now_ms()
        if status is not None and 200 <= status < 500:
            await svc.topics.finish_outbox(item.id)
            if item.kind == "notification":
                svc.counters.delivered[sub.protocol] += 1
            return
        reason = f"HTTP {status}" if status is not None else "connection failed or timed out"
        svc.counters.failure(
            DeliveryFailure(now, sub.topic_arn, sub.arn, sub.protocol, sub.endpoint, f"{item.kind}: {reason}")
        )
        delay = retry_delay(policy, item.attempts + 1)
        if delay is not None:
            await svc.topics.finish_outbox(item.id, retry_at=now + int(delay * 1000))
            self.wake()
            return
        copies = []
        if item.kind == "notification":
            copies = svc.dead_letter_copies(sub, payload["body"], None, now)
        log.info("giving up on %s after %d attempts (status %s)", sub.endpoint, item.attempts + 1, status)
        await svc.topics.finish_outbox(item.id, dead_letter=copies, now=now)
        svc.queues.delivered([copy.queue_id for copy in copies])

    async def _deliver_unsubscribe(self, item: OutboxItem) -> None:
        """Its subscription is gone, and with it its policy: AWS's default one applies."""
        status = await self._post(orjson.loads(item.payload))
        if status is not None and 200 <= status < 500:
            await self.svc.topics.finish_outbox(item.id)
        else:
            await self._settle_failure(item)

    async def _post(self, payload: dict[str, Any]) -> int | None:
        assert self._client is not None
        if self.svc.deny_private_targets and not await resolves_public(payload["url"]):
            log.warning("not delivering to %s: private or unresolvable address", payload["url"])
            return None  # a failed attempt, as an unreachable endpoint
        try:
            response = await self._client.post(
                payload["url"], content=payload["body"].encode(), headers=payload["headers"]
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to reach the endpoint is a failed attempt
            # httpx raises more than HTTPError (InvalidURL, UnicodeError, ValueError, ...).
            log.debug("POST to %s failed: %r", payload.get("url"), exc)
            return None
        return response.status_code

    async def _throttle(self, key: str, per_second: int | None) -> None:
        """Keep deliveries to one subscription under maxReceivesPerSecond."""
        if not per_second:
            return
        while True:
            now = self.svc.clock.now_ms() / 1000
            recent = [t for t in self._last_send.get(key, []) if now - t < 1.0]
            if len(recent) < per_second:
                recent.append(now)
                self._last_send[key] = recent
                return
            self._last_send[key] = recent
            await self.svc.clock.sleep(1.0 - (now - recent[0]))


def _content_type(topic: TopicRecord, sub: SubscriptionRecord) -> str:
    for source in (sub.attributes.get("DeliveryPolicy"), topic.attributes.get("DeliveryPolicy")):
        if source:
            doc = orjson.loads(source)
            request = doc.get("requestPolicy") or doc.get("http", {}).get("defaultRequestPolicy") or {}
            if request.get("headerContentType"):
                return str(request["headerContentType"])
    return "text/plain; charset=UTF-8"
