"""Subscription operations: subscribe, confirm, unsubscribe, list, attributes."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from postroom.filters.policy import FilterPolicyError, parse_filter_policy
from postroom.protocol.context import RequestContext
from postroom.sns import attributes, limits
from postroom.sns.errors import (
    invalid_parameter,
    invalid_parameter_bare,
    invalid_topic_arn,
    not_found,
)
from postroom.sns.names import check_endpoint, new_subscription_arn, parse_topic_arn
from postroom.sns.targets import is_public, literal_host
from postroom.sns.topics import _page
from postroom.sqs.api import parse_queue_arn
from postroom.storage.base import SubscriptionRecord

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

Result = dict[str, Any] | None
PENDING = "pending confirmation"
PRINCIPAL = "SubscriptionPrincipal"
_TOKEN = re.compile(r"^[0-9a-f]+$")


def _check_subscription_attributes(
    protocol: str, values: dict[str, Any], reason: str = attributes.MAP_REASON
) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if key not in attributes.SUBSCRIPTION_SETTABLE:
            raise invalid_parameter(f"Attributes Reason: Unknown attribute {key}" if reason else "AttributeName")
        out[key] = attributes.check_value(key, value, reason)
    if out.get("RawMessageDelivery") == "true" and protocol not in limits.RAW_DELIVERY_PROTOCOLS:
        raise invalid_parameter(
            f"{reason}Delivery protocol [{protocol}] does not support raw message delivery."
        )
    return out


def check_filter(stored: dict[str, str], *, subscribing: bool) -> None:
    """Validate the FilterPolicy in its scope, with AWS's message for each operation."""
    if stored.get("FilterPolicy"):
        try:
            parse_filter_policy(stored["FilterPolicy"], stored.get("FilterPolicyScope", "MessageAttributes"))
        except FilterPolicyError as exc:
            message = exc.subscribe_message() if subscribing else str(exc)
            raise invalid_parameter(message.removeprefix("Invalid parameter: ")) from None


def _check_redrive(
    svc: SnsService, stored: dict[str, str], fifo: bool, reason: str = attributes.MAP_REASON
) -> None:
    """``fifo``: the subscription joins a FIFO topic to a FIFO queue (its DLQ must be FIFO)."""
    if stored.get("RedrivePolicy"):
        target = orjson.loads(stored["RedrivePolicy"]).get("deadLetterTargetArn")
        if not isinstance(target, str) or parse_queue_arn(target) is None:
            raise invalid_parameter(f"{reason}RedrivePolicy: deadLetterTargetArn is an invalid arn")
        if fifo and not target.endswith(".fifo"):
            raise invalid_parameter(
                f"{reason}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic."
            )


def _fifo_pair(topic_arn: str, protocol: str, endpoint: str) -> bool:
    return topic_arn.endswith(".fifo") and protocol == "sqs" and endpoint.endswith(".fifo")


async def subscribe(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    protocol = p["Protocol"]
    if protocol not in limits.PROTOCOLS:
        raise invalid_parameter(f"Amazon SNS does not support this protocol string: {protocol}")
    endpoint = check_endpoint(protocol, p.get("Endpoint"))
    if protocol in ("http", "https") and svc.deny_private_targets:
        host = literal_host(endpoint)
        if host is not None and not is_public(host):
            raise invalid_parameter("Endpoint Reason: private and loopback addresses are not allowed on this server")
    if protocol == "sqs" and endpoint.endswith(".fifo") and topic.attributes.get("FifoTopic") != "true":
        raise invalid_parameter(
            "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics"
        )
    fifo_topic = topic.attributes.get("FifoTopic") == "true"
    if fifo_topic and protocol != "sqs":
        raise invalid_parameter(f"Invalid protocol type: {protocol}. FIFO topics only deliver to SQS queues")
    stored = _check_subscription_attributes(protocol, p.get("Attributes") or {})
    check_filter(stored, subscribing=True)
    _check_redrive(svc, stored, _fifo_pair(topic.arn, protocol, endpoint))
    if protocol == "firehose" and not stored.get("SubscriptionRoleArn"):
        raise invalid_parameter("Attributes Reason: SubscriptionRoleArn is required for firehose subscriptions")
    for existing in svc.topics.subscriptions.values():
        if (existing.topic_arn, existing.protocol, existing.endpoint) == (topic.arn, protocol, endpoint):
            if any(existing.attributes.get(k) != v for k, v in stored.items()):
                raise invalid_parameter("Attributes Reason: Subscription already exists with different attributes")
            show = existing.confirmed or p.get("ReturnSubscriptionArn")
            return {"SubscriptionArn": existing.arn if show else PENDING}
    confirmed = protocol in limits.CONFIRMED_AT_ONCE
    # Who subscribed, as AWS reports it (an IAM user named after the caller's access key);
    # kept among the attributes, which only Subscribe writes it to.
    principal = {PRINCIPAL: f"arn:aws:iam::{ctx.account}:user/{ctx.access_key}"}
    sub = SubscriptionRecord(
        arn=new_subscription_arn(topic.arn), topic_arn=topic.arn, owner=ctx.account, protocol=protocol,
        endpoint=endpoint, attributes={**stored, **principal}, confirmed=confirmed,
        token=None if confirmed else secrets.token_hex(limits.TOKEN_BYTES), created_at=svc.clock.now_ms(),
    )
    if confirmed:
        await svc.topics.save_subscription(sub)
    else:
        await svc.delivery.request_confirmation(sub, topic, ctx)
    show = confirmed or p.get("ReturnSubscriptionArn")
    return {"SubscriptionArn": sub.arn if show else PENDING}


async def confirm_subscription(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    """Often unsigned (a SubscribeURL). AWS checks the token's shape, then looks it up: an
    unknown token or topic alike is "Invalid parameter: Token"."""
    token = p["Token"]
    if not _TOKEN.match(token):
        raise invalid_parameter_bare("Invalid token")
    topic_arn = p["TopicArn"]
    if parse_topic_arn(topic_arn) is None:
        raise invalid_topic_arn(topic_arn)
    for sub in svc.topics.subscriptions.values():
        if sub.topic_arn == topic_arn and sub.token is not None and sub.token == token:
            if not sub.confirmed:
                await svc.topics.save_subscription(replace(sub, confirmed=True))
            return {"SubscriptionArn": sub.arn}
    raise invalid_parameter("Token")


async def unsubscribe(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    """Idempotent, as on AWS: a well-formed ARN of a subscription that is gone succeeds."""
    arn = p["SubscriptionArn"]
    _check_subscription_arn(arn)
    sub = svc.topics.subscriptions.get(arn)
    if sub is not None:
        outbox = []
        if sub.confirmed and sub.protocol in ("http", "https"):
            outbox.append(await svc.delivery.unsubscribe_item(sub, ctx))
        await svc.topics.delete_subscription(arn, outbox)
        svc.forget_filter(arn)
        if outbox:
            svc.delivery.wake()
    return None


def _describe(sub: SubscriptionRecord) -> dict[str, str]:
    return {
        # AWS lists pending subscriptions as "PendingConfirmation" (Subscribe says "pending confirmation").
        "SubscriptionArn": sub.arn if sub.confirmed else "PendingConfirmation",
        "Owner": sub.owner,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        "TopicArn": sub.topic_arn,
    }


def _listing(subs: list[SubscriptionRecord], token: str | None) -> dict[str, Any]:
    """One page of subscriptions, oldest first."""
    page, following = _page(sorted(subs, key=lambda s: (s.created_at, s.arn)), token)
    out: dict[str, Any] = {"Subscriptions": [_describe(s) for s in page]}
    if following:
        out["NextToken"] = following
    return out


async def list_subscriptions(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    subs = [s for s in svc.topics.subscriptions.values() if s.owner == ctx.account]
    return _listing(subs, p.get("NextToken"))


async def list_subscriptions_by_topic(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    subs = [s for s in svc.topics.subscriptions.values() if s.topic_arn == topic.arn]
    return _listing(subs, p.get("NextToken"))


def _check_subscription_arn(arn: str) -> None:
    """AWS's checks, in its order: the element count, then the subscription id."""
    parts = arn.split(":")
    if len(parts) < 6:
        raise invalid_parameter(f"SubscriptionArn Reason: An ARN must have at least 6 elements, not {len(parts)}")
    if len(parts) == 6:  # a topic's ARN, or one missing its subscription id
        raise invalid_parameter("SubscriptionId")


def _subscription(svc: SnsService, arn: str) -> SubscriptionRecord:
    _check_subscription_arn(arn)
    sub = svc.topics.subscriptions.get(arn)
    if sub is None:
        raise not_found("Subscription does not exist")
    return sub


async def get_subscription_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    sub = _subscription(svc, p["SubscriptionArn"])
    topic = svc.topics.topics.get(sub.topic_arn)
    values = {
        "SubscriptionArn": sub.arn,
        "TopicArn": sub.topic_arn,
        "Owner": sub.owner,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        "ConfirmationWasAuthenticated": "true" if sub.confirmed else "false",
        "PendingConfirmation": "false" if sub.confirmed else "true",
        "RawMessageDelivery": "false",
    }
    if sub.protocol in ("http", "https"):
        values["EffectiveDeliveryPolicy"] = attributes.effective_delivery_policy(
            sub.attributes.get("DeliveryPolicy") or (topic.attributes.get("DeliveryPolicy") if topic else None)
        )
    values[PRINCIPAL] = f"arn:aws:iam::{sub.owner}:root"  # subscriptions older than the stored principal
    values.update(sub.attributes)
    if "FilterPolicy" in sub.attributes:
        values.setdefault("FilterPolicyScope", "MessageAttributes")
    return {"Attributes": values}


async def set_subscription_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    sub = _subscription(svc, p["SubscriptionArn"])
    name = p["AttributeName"]
    value = p.get("AttributeValue") or ""
    changes = _check_subscription_attributes(sub.protocol, {name: value}, reason="")
    stored = {**sub.attributes, **changes}
    if value == "":
        stored.pop(name, None)
    check_filter(stored, subscribing=False)
    _check_redrive(svc, stored, _fifo_pair(sub.topic_arn, sub.protocol, sub.endpoint), reason="")
    await svc.topics.save_subscription(replace(sub, attributes=stored))
    svc.forget_filter(sub.arn)
    return None


OPERATIONS = {
    "Subscribe": subscribe,
    "ConfirmSubscription": confirm_subscription,
    "Unsubscribe": unsubscribe,
    "ListSubscriptions": list_subscriptions,
    "ListSubscriptionsByTopic": list_subscriptions_by_topic,
    "GetSubscriptionAttributes": get_subscription_attributes,
    "SetSubscriptionAttributes": set_subscription_attributes,
}
