"""Console endpoints for queues: list, create, inspect, send, peek, purge, redrive."""

from __future__ import annotations

from typing import Any

from postroom.console.operations import (
    BadRequest,
    Operations,
    arn_parts,
    int_arg,
    matches,
    message_attributes,
    page_of,
    text_arg,
    where,
)
from postroom.protocol.errors import AWSError


async def list_queues(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sqs is not None
    account, region = where(args)
    stats = [
        s for s in await ops.apis.sqs.queue_stats()
        if s.account == account and s.region == region and matches(s.name, args)
    ]
    stats.sort(key=lambda s: (s.name, s.account, s.region))
    page, paging = page_of(stats, args)
    return {**paging, "queues": page}


async def create_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = where(args)
    attributes = args.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BadRequest("attributes must be an object.")
    params: dict[str, Any] = {"QueueName": text_arg(args, "name")}
    if attributes:
        params["Attributes"] = {str(k): str(v) for k, v in attributes.items()}
    return await ops.call("sqs", "CreateQueue", params, base_url, account, region)


def _queue_call(ops: Operations, args: dict[str, Any], base_url: str) -> tuple[str, str, str]:
    region, account, name = arn_parts(text_arg(args, "arn"), "sqs")
    return f"{base_url}/queue/{region}/{account}/{name}", account, region


async def get_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sqs is not None
    arn = text_arg(args, "arn")
    url, account, region = _queue_call(ops, args, base_url)
    # GetQueueAttributes first: a missing queue answers as the API does.
    attributes = await ops.call(
        "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}, base_url, account, region
    )
    found = await ops.apis.sqs.queue_stats([arn])
    if not found:  # deleted in between
        raise AWSError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.", status=400)
    sources = await ops.call("sqs", "ListDeadLetterSourceQueues", {"QueueUrl": url}, base_url, account, region)
    tasks = await ops.call("sqs", "ListMessageMoveTasks", {"SourceArn": arn, "MaxResults": 10}, base_url, account, region)
    return {
        "stats": found[0], "url": url, "attributes": attributes.get("Attributes", {}),
        "dead_letter_sources": [u.rsplit("/", 1)[-1] for u in sources.get("queueUrls", [])],
        "move_tasks": tasks.get("Results", []),
    }


async def delete_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    url, account, region = _queue_call(ops, args, base_url)
    return await ops.call("sqs", "DeleteQueue", {"QueueUrl": url}, base_url, account, region)


async def send_message(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    url, account, region = _queue_call(ops, args, base_url)
    body = args.get("body")
    if not isinstance(body, str):
        raise BadRequest("body is required.")
    params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
    attributes = message_attributes(args)
    if attributes:
        params["MessageAttributes"] = attributes
    for arg, name in (("group_id", "MessageGroupId"), ("dedup_id", "MessageDeduplicationId")):
        if args.get(arg):
            params[name] = str(args[arg])
    if args.get("delay_seconds") not in (None, ""):
        params["DelaySeconds"] = int_arg(args, "delay_seconds", 0, -1, 10**6)
    return await ops.call("sqs", "SendMessage", params, base_url, account, region)


async def peek_messages(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sqs is not None
    limit = int_arg(args, "limit", 10, 1, 100)
    return {"messages": await ops.apis.sqs.peek(text_arg(args, "arn"), limit)}


async def purge_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    url, account, region = _queue_call(ops, args, base_url)
    return await ops.call("sqs", "PurgeQueue", {"QueueUrl": url}, base_url, account, region)


async def start_redrive(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    arn = text_arg(args, "arn")
    region, account, _ = arn_parts(arn, "sqs")
    params: dict[str, Any] = {"SourceArn": arn}
    if args.get("destination_arn"):
        params["DestinationArn"] = str(args["destination_arn"])
    if args.get("rate") not in (None, ""):
        params["MaxNumberOfMessagesPerSecond"] = int_arg(args, "rate", 1, -1, 10**6)
    return await ops.call("sqs", "StartMessageMoveTask", params, base_url, account, region)


async def cancel_redrive(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = where(args)
    return await ops.call(
        "sqs", "CancelMessageMoveTask", {"TaskHandle": text_arg(args, "task_handle")}, base_url, account, region
    )
