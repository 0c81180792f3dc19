"""SnsService: the SNS operations, filter matching and fan-out state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from postroom.clock import Clock
from postroom.filters.policy import FilterPolicy, parse_filter_policy
from postroom.ids import new_id
from postroom.leases import Leases
from postroom.policy.evaluate import Caller, Decision, evaluate
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model
from postroom.service import RawRoute
from postroom.sns.api import SnsApi
from postroom.sns.delivery import HttpDelivery
from postroom.sns.envelope import Publication
from postroom.sns.errors import invalid_parameter, invalid_topic_arn, topic_not_found
from postroom.sns.names import parse_topic_arn
from postroom.sns.signing import CERT_PATH, Signer
from postroom.sns.stats import SnsCounters
from postroom.sqs.api import OutgoingMessage, QueueRef, SqsApi
from postroom.storage.base import QueueDelivery, SubscriptionRecord, TopicRecord
from postroom.storage.notifier import Notifier
from postroom.storage.sns_fifo import sequence_number
from postroom.storage.sns_mobile import SnsMobileStore
from postroom.storage.topics import TopicStore

if TYPE_CHECKING:
    from postroom.services import Apis

_NOT_FOUND = frozenset({"NotFound", "NotFoundException", "ResourceNotFound", "ResourceNotFoundException"})
Operation = Callable[["SnsService", dict[str, Any], RequestContext], Awaitable[dict[str, Any] | None]]


class SnsService:
    """Dispatches SNS operations; delivers to SQS in-process and to HTTP/S via the outbox."""

    name = "sns"

    def __init__(
        self, topics: TopicStore, queues: SqsApi, clock: Clock, data_dir: Path | None, mobile: SnsMobileStore,
        apis: Apis | None = None,
        enforce_queue_policies: bool = False, deny_private_targets: bool = False, leases: Leases | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        from postroom.sns import mobile as mobile_ops
        from postroom.sns import publish, sms, subscriptions
        from postroom.sns import topics as topic_ops

        self.model = load_service_model("sns")
        self.topics = topics
        self.mobile = mobile
        self.queues = queues
        self.apis = apis  # late lookup of services built after SNS (apis.lambda_)
        self.clock = clock
        # Shared-deployment options: SQS copies need the queue policy's permission, as on
        # AWS; HTTP/S subscriptions may reach public addresses only.
        self.enforce_queue_policies = enforce_queue_policies
        self.deny_private_targets = deny_private_targets
        self.signer = Signer(data_dir)
        self.delivery = HttpDelivery(self)
        # The outbox worker runs on one node; a publish on another wakes it with a notice.
        self._outbox = (leases or Leases.private(clock)).lease(
            "sns.outbox", self.delivery.start, self.delivery.stop, wake={"outbox": lambda key: self.delivery.wake()},
        )
        # Parsed filter policies per subscription, checked against the policy text on use,
        # so a subscription another node changed is parsed again; dropped once it is gone.
        self._filters: dict[str, tuple[str, FilterPolicy | None]] = {}
        if notifier is not None:
            notifier.on("subscriptions.refreshed", self._subscription_refreshed)
            notifier.on("*.refreshed", lambda key: self._subscription_refreshed(None))
        # Per FIFO topic: the last sequence number (less 10^19) this node gave or learnt was
        # stored; a hint only, storage holds the number every node numbers above.
        self.last_sequence: dict[str, int] = {}
        self.counters = SnsCounters()
        self.api = SnsApi(self)
        self.operations: dict[str, Operation] = {
            **topic_ops.OPERATIONS, **subscriptions.OPERATIONS, **publish.OPERATIONS,
            **mobile_ops.OPERATIONS, **sms.OPERATIONS,
        }

    async def start(self) -> None:
        await self.signer.start()
        await self._outbox.begin()

    def begin_shutdown(self) -> None:
        pass

    async def stop(self) -> None:
        await self._outbox.end()

    async def reset(self) -> None:
        await self._outbox.end()
        self.delivery.forget()
        self._filters.clear()

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        handler = self.operations.get(operation)
        if handler is None:
            raise invalid_parameter(f"Action {operation} is not supported by Postroom yet")
        ctx.operation = operation
        try:
            return await handler(self, params, ctx)
        except AWSError as error:
            # A topic or subscription another node created a moment ago may not be cached
            # here yet: look in the database once, and answer again if it is there.
            if error.type_name not in _NOT_FOUND or not await self._found_elsewhere(params):
                raise
        return await handler(self, params, ctx)

    async def _found_elsewhere(self, params: dict[str, Any]) -> bool:
        """Whether a resource the request names exists in storage though not in the cache."""
        for name in ("TopicArn", "TargetArn", "ResourceArn"):
            arn = params.get(name)
            if isinstance(arn, str) and arn and arn not in self.topics.topics:
                if await self.topics.find_topic(arn) is not None:
                    return True
        arn = params.get("SubscriptionArn")
        if isinstance(arn, str) and arn and arn not in self.topics.subscriptions:
            if await self.topics.find_subscription(arn) is not None:
                return True
        for name in ("PlatformApplicationArn", "EndpointArn", "TargetArn"):
            arn = params.get(name)
            if isinstance(arn, str) and arn and arn not in self.mobile.applications and arn not in self.mobile.endpoints:
                return await self.mobile.find(arn)
        return False

    def _subscription_refreshed(self, arn: str | None) -> None:
        for gone in [arn] if arn is not None else list(self._filters):
            if gone not in self.topics.subscriptions:
                self._filters.pop(gone, None)

    def http_routes(self) -> dict[str, RawRoute]:
        """Extra GET endpoints: the signing certificate and the record of would-be deliveries."""

        async def certificate(query: str, ctx: RequestContext) -> tuple[int, bytes, bytes]:
            return 200, b"application/x-pem-file", self.signer.certificate_pem()

        async def records(query: str, ctx: RequestContext) -> tuple[int, bytes, bytes]:
            # Recorded payloads are other people's messages: each caller sees its own
            # account's, an administrator (a key marked admin in the auth file) every one.
            account = None if ctx.admin else ctx.account
            return 200, b"application/json", orjson.dumps(await self.topics.records(account=account))

        async def opt_out(query: str, ctx: RequestContext) -> tuple[int, bytes, bytes]:
            # Stands in for a recipient's STOP reply: ?phoneNumber=+1555...[&account=...],
            # signed by that account (or an administrator).
            from postroom.sns import sms

            args = parse_qs(query)
            account = args.get("account", [ctx.account])[0]
            if account != ctx.account and not ctx.admin:
                return 403, b"text/plain", b"only the account itself (or an administrator) may opt out for it"
            try:
                await sms.opt_out(self, account, args.get("phoneNumber", [""])[0])
            except AWSError as error:
                return 400, b"text/plain", error.message.encode()
            return 200, b"application/json", b"{}"

        return {
            CERT_PATH: certificate, self.signer.cert_path(): certificate,
            "/_postroom/sns/records": records, "/_postroom/sns/opt-out": opt_out,
        }

    # -- helpers used by the operations ----------------------------------------------------

    def topic(self, arn: str | None, region: str | None = None, ctx: RequestContext | None = None) -> TopicRecord:
        """The topic ``arn`` names; with ``region`` (the caller's), a topic ARN of another
        region is an InvalidParameter, as on AWS; with ``ctx``, another account's caller
        must be allowed by the topic's policy."""
        parsed = parse_topic_arn(arn or "")
        if parsed is None or (region is not None and parsed[0] != region):
            raise invalid_topic_arn(arn or "")
        topic = self.topics.topics.get(arn)
        if topic is None:
            raise topic_not_found()
        if ctx is not None:
            self.check_access(topic, ctx)
        return topic

    def check_access(self, topic: TopicRecord, ctx: RequestContext) -> None:
        """AuthorizationError unless the caller owns ``topic`` or its policy allows the call."""
        if topic.account == ctx.account:
            return
        caller = Caller(account=ctx.account, context={"aws:principalaccount": ctx.account})
        action = f"SNS:{ctx.operation}"
        if evaluate(topic.attributes.get("Policy"), caller, action, topic.arn) is not Decision.ALLOW:
            raise self.model.error(
                "AuthorizationErrorException",
                f"User: arn:aws:iam::{ctx.account}:root is not authorized to perform: "
                f"{action} on resource: {topic.arn}",
            )

    def queue_allows(self, topic: TopicRecord, queue: QueueRef) -> bool:
        """With queue policies enforced, whether ``queue``'s policy lets SNS send this
        topic's messages (Principal sns.amazonaws.com, aws:SourceArn / aws:SourceAccount)."""
        if not self.enforce_queue_policies:
            return True
        caller = Caller(service="sns.amazonaws.com", context={
            "aws:sourcearn": topic.arn, "aws:sourceaccount": topic.account,
        })
        # Same-account queues too: on AWS the SNS service principal always needs the grant.
        decision = evaluate(self.queues.policy(queue), caller, "sqs:SendMessage", queue.arn)
        return decision is Decision.ALLOW

    def forget_filter(self, subscription_arn: str) -> None:
        self._filters.pop(subscription_arn, None)

    def matches(self, sub: SubscriptionRecord, pub: Publication) -> bool:
        text = sub.attributes.get("FilterPolicy")
        if not text:
            return True
        scope = sub.attributes.get("FilterPolicyScope", "MessageAttributes")
        cached = self._filters.get(sub.arn)
        if cached is None or cached[0] != text + scope:
            cached = (text + scope, parse_filter_policy(text, scope))
            self._filters[sub.arn] = cached
        policy = cached[1]
        assert policy is not None
        if scope == "MessageBody":
            return policy.matches_body(pub.message_for(sub.protocol))
        return policy.matches_attributes(pub.attributes)

    def number(self, topic_arn: str, pub: Publication, now: int) -> None:
        """Give a FIFO-topic publication its sequence number: above the topic's last one as
        far as this node knows (storage checks it against every node's; see publish_fifo),
        and time-based when the topic has been quiet, so numbers stay 20 digits and sparse."""
        offset = max(now * 1000, self.last_sequence.get(topic_arn, 0) + 1)
        self.last_sequence[topic_arn] = offset
        pub.sequence_number = sequence_number(offset)

    def dead_letter_copies(
        self, sub: SubscriptionRecord, body: str, pub: Publication | None, now: int, raw: bool = False,
    ) -> list[QueueDelivery]:
        """The copy for a subscription's dead-letter queue, if it has one that exists; a raw
        subscription's copy keeps the message attributes, as the queue would have had them."""
        policy = sub.attributes.get("RedrivePolicy")
        if not policy:
            return []
        queue = self.queues.queue(orjson.loads(policy).get("deadLetterTargetArn", ""))
        if queue is None:
            return []
        stand_in = pub or Publication(new_id(), body, None, None, {}, None, None, now)
        attributes = pub.attributes if raw and pub is not None else None
        return [self.queue_copy(queue, body, attributes, stand_in, "sns", now)]

    def queue_copy(
        self, queue: QueueRef, body: str, attributes: dict[str, dict[str, str]] | None,
        pub: Publication, sender: str, now: int,
    ) -> QueueDelivery:
        """The copy of a publication for one SQS queue (SNS attributes become SQS ones on
        raw delivery); the queue's FIFO rules apply to the group and deduplication ids."""
        sqs_attributes: dict[str, dict[str, str]] = {}
        for name, value in (attributes or {}).items():
            key = "BinaryValue" if value["Type"] == "Binary" else "StringValue"
            sqs_attributes[name] = {"DataType": value["Type"], key: value["Value"]}
        message = OutgoingMessage(
            body, sqs_attributes, pub.group_id, pub.dedup_id, sender, trace_header=pub.trace_header
        )
        return self.queues.delivery(queue, message, now)
