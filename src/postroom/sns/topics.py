"""Topic operations: create, delete, list, attributes, tags, permissions."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from postroom.protocol.context import RequestContext
from postroom.sns import attributes, limits
from postroom.sns.errors import invalid_parameter, invalid_topic_arn, not_found, topic_not_found
from postroom.sns.names import check_topic_name, parse_topic_arn, topic_arn
from postroom.storage.base import TopicRecord

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

Result = dict[str, Any] | None
POLICY_ACTIONS = frozenset({
    "GetTopicAttributes", "SetTopicAttributes", "AddPermission", "RemovePermission", "DeleteTopic",
    "Subscribe", "ListSubscriptionsByTopic", "Publish", "Receive",
})


def _tags(tag_list: list[dict[str, Any]]) -> dict[str, str]:
    tags = {}
    for tag in tag_list:
        key, value = tag.get("Key"), tag.get("Value")
        if not key or len(key) > 128 or value is None or len(value) > 256:
            raise invalid_parameter("Tags Reason: invalid tag key or value")
        tags[key] = value
    return tags


async def create_topic(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    name = p["Name"]
    requested = dict(p.get("Attributes") or {})
    fifo = str(requested.get("FifoTopic", "false")).lower() == "true"
    check_topic_name(name, fifo)
    stored: dict[str, str] = {}
    for key, value in requested.items():
        if key not in attributes.TOPIC_SETTABLE and key not in attributes.TOPIC_CREATE_ONLY:
            raise invalid_parameter(f"Attributes Reason: Unknown attribute {key}")
        stored[key] = attributes.check_value(key, value)
    if stored.get("FifoTopic") == "false":
        del stored["FifoTopic"]
    if stored.get("ContentBasedDeduplication") == "true" and not fifo:
        raise invalid_parameter("Attributes Reason: ContentBasedDeduplication is only valid for FIFO topics")
    if p.get("DataProtectionPolicy"):
        stored["DataProtectionPolicy"] = attributes.check_value("DataProtectionPolicy", p["DataProtectionPolicy"])
    arn = topic_arn(ctx.region, ctx.account, name)
    existing = svc.topics.topics.get(arn)
    if existing is not None:
        for key, value in stored.items():
            if existing.attributes.get(key) != value:
                raise invalid_parameter("Attributes Reason: Topic already exists with different attributes")
        if p.get("Tags") and _tags(p["Tags"]) != existing.tags:
            raise invalid_parameter("Tags Reason: Topic already exists with different tags")
        return {"TopicArn": arn}
    tags = _tags(p.get("Tags") or [])
    await svc.topics.save_topic(TopicRecord(arn, ctx.account, ctx.region, name, stored, tags, svc.clock.now_ms()))
    return {"TopicArn": arn}


async def delete_topic(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    arn = p["TopicArn"]
    parsed = parse_topic_arn(arn)
    if parsed is None or parsed[0] != ctx.region:
        raise invalid_topic_arn(arn)
    topic = svc.topics.topics.get(arn)
    if topic is not None:
        svc.check_access(topic, ctx)
        await svc.topics.delete_topic(arn)
    return None  # deleting a topic that does not exist succeeds, as on AWS


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = 0
    if token:
        start = int(token) if token.isdigit() else -1
        if start < 0:
            raise invalid_parameter("NextToken")
    page = items[start : start + limits.LIST_PAGE]
    following = start + limits.LIST_PAGE
    return page, (str(following) if following < len(items) else None)


async def list_topics(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    arns = sorted(t.arn for t in svc.topics.topics.values() if t.account == ctx.account)
    page, token = _page(arns, p.get("NextToken"))
    out: dict[str, Any] = {"Topics": [{"TopicArn": arn} for arn in page]}
    if token:
        out["NextToken"] = token
    return out


async def get_topic_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    subs = [s for s in svc.topics.subscriptions.values() if s.topic_arn == topic.arn]
    values = {
        "TopicArn": topic.arn,
        "Owner": topic.account,
        "Policy": attributes.default_topic_policy(topic.arn, topic.account),
        "DisplayName": "",
        "SubscriptionsConfirmed": str(sum(1 for s in subs if s.confirmed)),
        "SubscriptionsPending": str(sum(1 for s in subs if not s.confirmed)),
        "SubscriptionsDeleted": "0",
        "EffectiveDeliveryPolicy": attributes.effective_delivery_policy(topic.attributes.get("DeliveryPolicy")),
    }
    if topic.attributes.get("FifoTopic") == "true":
        values.update({"FifoTopic": "true", "ContentBasedDeduplication": "false"})
    values.update({k: v for k, v in topic.attributes.items() if v != ""})
    return {"Attributes": values}


async def set_topic_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    name = p["AttributeName"]
    if name not in attributes.TOPIC_SETTABLE:
        raise invalid_parameter("AttributeName")
    value = attributes.check_value(name, p.get("AttributeValue") or "", reason="")
    if name == "ContentBasedDeduplication" and topic.attributes.get("FifoTopic") != "true":
        raise invalid_parameter("Attributes Reason: ContentBasedDeduplication is only valid for FIFO topics")
    stored = dict(topic.attributes)
    if value == "":
        stored.pop(name, None)
    else:
        stored[name] = value
    await svc.topics.save_topic(replace(topic, attributes=stored))
    return None


def _resource_topic(svc: SnsService, arn: str) -> TopicRecord:
    topic = svc.topics.topics.get(arn)
    if topic is None:
        raise svc.model.error("ResourceNotFoundException", "Resource does not exist")
    return topic


async def tag_resource(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = _resource_topic(svc, p["ResourceArn"])
    tags = {**topic.tags, **_tags(p["Tags"])}
    if len(tags) > limits.MAX_TAGS:
        raise svc.model.error("TagLimitExceededException", "Could not complete request: tag quota of per resource exceeded")
    await svc.topics.save_topic(replace(topic, tags=tags))
    return None


async def untag_resource(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = _resource_topic(svc, p["ResourceArn"])
    tags = {k: v for k, v in topic.tags.items() if k not in set(p["TagKeys"])}
    await svc.topics.save_topic(replace(topic, tags=tags))
    return None


async def list_tags_for_resource(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = _resource_topic(svc, p["ResourceArn"])
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(topic.tags.items())]}


def _policy(topic: TopicRecord) -> dict[str, Any]:
    return orjson.loads(topic.attributes.get("Policy") or attributes.default_topic_policy(topic.arn, topic.account))


async def add_permission(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    policy = _policy(topic)
    statements = policy.setdefault("Statement", [])
    if any(s.get("Sid") == p["Label"] for s in statements):
        raise invalid_parameter("Statement already exists")
    if any(action not in POLICY_ACTIONS for action in p["ActionName"]):
        raise invalid_parameter("Policy statement action out of service scope!")
    principals = [f"arn:aws:iam::{a}:root" for a in p["AWSAccountId"]]
    actions = [f"SNS:{a}" for a in p["ActionName"]]
    # AWS writes a single principal or action as a string, several as a list.
    statements.append({
        "Sid": p["Label"],
        "Effect": "Allow",
        "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
        "Action": actions[0] if len(actions) == 1 else actions,
        "Resource": topic.arn,
    })
    await svc.topics.save_topic(replace(topic, attributes={**topic.attributes, "Policy": orjson.dumps(policy).decode()}))
    return None


async def remove_permission(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["TopicArn"], ctx.region, ctx)
    policy = _policy(topic)
    kept = [s for s in policy.get("Statement", []) if s.get("Sid") != p["Label"]]
    if len(kept) == len(policy.get("Statement", [])):
        raise not_found("Statement does not exist")
    policy["Statement"] = kept
    await svc.topics.save_topic(replace(topic, attributes={**topic.attributes, "Policy": orjson.dumps(policy).decode()}))
    return None


async def put_data_protection_policy(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["ResourceArn"], ctx.region, ctx)
    value = attributes.check_value("DataProtectionPolicy", p["DataProtectionPolicy"], reason="")
    stored = dict(topic.attributes)
    if value:
        stored["DataProtectionPolicy"] = value
    else:
        stored.pop("DataProtectionPolicy", None)
    await svc.topics.save_topic(replace(topic, attributes=stored))
    return None


async def get_data_protection_policy(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    topic = svc.topic(p["ResourceArn"], ctx.region, ctx)
    return {"DataProtectionPolicy": topic.attributes.get("DataProtectionPolicy", "")}


OPERATIONS = {
    "PutDataProtectionPolicy": put_data_protection_policy,
    "GetDataProtectionPolicy": get_data_protection_policy,
    "CreateTopic": create_topic,
    "DeleteTopic": delete_topic,
    "ListTopics": list_topics,
    "GetTopicAttributes": get_topic_attributes,
    "SetTopicAttributes": set_topic_attributes,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
}

__all__ = ["OPERATIONS", "topic_not_found"]
