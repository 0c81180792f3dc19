"""Console endpoints for topics: list, create, inspect with subscriptions and failures,
publish."""

from __future__ import annotations

from typing import Any

from postroom.console.operations import (
    LIST_PAGES_LIMIT,
    BadRequest,
    Operations,
    arn_parts,
    matches,
    message_attributes,
    page_of,
    text_arg,
    where,
)


async def _all_topics(ops: Operations, base_url: str, account: str, region: str) -> list[str]:
    arns: list[str] = []
    token = None
    for _ in range(LIST_PAGES_LIMIT):
        params = {"NextToken": token} if token else {}
        answer = await ops.call("sns", "ListTopics", params, base_url, account, region)
        arns += [t["TopicArn"] for t in answer.get("Topics", [])]
        token = answer.get("NextToken")
        if not token:
            break
    return arns


async def _subscriptions(ops: Operations, arn: str, base_url: str, account: str, region: str) -> list[dict[str, Any]]:
    subs: list[dict[str, Any]] = []
    token = None
    for _ in range(LIST_PAGES_LIMIT):
        params: dict[str, Any] = {"TopicArn": arn}
        if token:
            params["NextToken"] = token
        answer = await ops.call("sns", "ListSubscriptionsByTopic", params, base_url, account, region)
        subs += answer.get("Subscriptions", [])
        token = answer.get("NextToken")
        if not token:
            break
    return subs


async def list_topics(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = where(args)
    arns = [a for a in await _all_topics(ops, base_url, account, region) if matches(a.rsplit(":", 1)[-1], args)]
    arns.sort(key=lambda a: a.rsplit(":", 1)[-1])
    page, paging = page_of(arns, args)
    topics = []
    for arn in page:
        attributes = (await ops.call("sns", "GetTopicAttributes", {"TopicArn": arn}, base_url, account, region))
        values = attributes.get("Attributes", {})
        topics.append({
            "arn": arn, "name": arn.rsplit(":", 1)[-1],
            "confirmed": int(values.get("SubscriptionsConfirmed", 0)),
            "pending": int(values.get("SubscriptionsPending", 0)),
            "fifo": values.get("FifoTopic") == "true",
        })
    return {**paging, "topics": topics}


async def create_topic(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = where(args)
    name = text_arg(args, "name")
    params: dict[str, Any] = {"Name": name}
    if name.endswith(".fifo"):
        params["Attributes"] = {"FifoTopic": "true"}
    return await ops.call("sns", "CreateTopic", params, base_url, account, region)


async def get_topic(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sns is not None
    arn = text_arg(args, "arn")
    region, account, _ = arn_parts(arn, "sns")
    attributes = await ops.call("sns", "GetTopicAttributes", {"TopicArn": arn}, base_url, account, region)
    subscriptions = []
    for sub in await _subscriptions(ops, arn, base_url, account, region):
        entry = {
            "arn": sub["SubscriptionArn"], "protocol": sub["Protocol"], "endpoint": sub["Endpoint"],
            "status": "pending" if sub["SubscriptionArn"] == "PendingConfirmation" else "confirmed",
            "filter_policy": None, "raw": False,
        }
        if entry["status"] == "confirmed":
            got = await ops.call(
                "sns", "GetSubscriptionAttributes", {"SubscriptionArn": sub["SubscriptionArn"]}, base_url, account, region
            )
            values = got.get("Attributes", {})
            entry["filter_policy"] = values.get("FilterPolicy")
            entry["raw"] = values.get("RawMessageDelivery") == "true"
            if values.get("PendingConfirmation") == "true":
                entry["status"] = "pending"
        subscriptions.append(entry)
    return {
        "arn": arn, "attributes": attributes.get("Attributes", {}), "subscriptions": subscriptions,
        "failures": ops.apis.sns.recent_failures(arn),
    }


async def delete_topic(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    arn = text_arg(args, "arn")
    region, account, _ = arn_parts(arn, "sns")
    return await ops.call("sns", "DeleteTopic", {"TopicArn": arn}, base_url, account, region)


async def publish(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    arn = text_arg(args, "arn")
    region, account, _ = arn_parts(arn, "sns")
    message = args.get("message")
    if not isinstance(message, str):
        raise BadRequest("message is required.")
    params: dict[str, Any] = {"TopicArn": arn, "Message": message}
    if args.get("subject"):
        params["Subject"] = str(args["subject"])
    attributes = message_attributes(args)
    if attributes:
        params["MessageAttributes"] = attributes
    for arg, name in (("group_id", "MessageGroupId"), ("dedup_id", "MessageDeduplicationId")):
        if args.get(arg):
            params[name] = str(args[arg])
    return await ops.call("sns", "Publish", params, base_url, account, region)
