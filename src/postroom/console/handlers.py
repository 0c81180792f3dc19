"""The console's JSON API: one function per endpoint, each acting through public
operations (``Operations.call``) or the services' typed internal APIs."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from postroom.clock import Clock
from postroom.ids import new_id
from postroom.protocol.context import DEFAULT_ACCOUNT, DEFAULT_REGION, RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.validate import check_required
from postroom.service import Service

if TYPE_CHECKING:
    from postroom.services import Apis

PER_PAGE = 50
MAX_PER_PAGE = 200
LIST_PAGES_LIMIT = 1000  # pages of a List* operation read for one console listing
LOG_EVENTS = 50  # log events shown on a function's page


class BadRequest(Exception):
    """The console sent something malformed (answered 400)."""


class Operations:
    """What the endpoints act through."""

    def __init__(self, services: Mapping[str, Service], apis: Apis, clock: Clock) -> None:
        self.services = services
        self.apis = apis
        self.clock = clock

    async def call(
        self, service: str, operation: str, params: dict[str, Any], base_url: str,
        account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION,
    ) -> dict[str, Any]:
        """Run a public operation as a signed request from ``account`` in ``region`` would."""
        svc = self.services.get(service)
        if svc is None or operation not in svc.model.operations:
            raise AWSError("ServiceUnavailable", f"{service} {operation} is not served by this server.", status=501)
        check_required(svc.model, operation, params)
        ctx = RequestContext(account, region, "console", base_url, new_id(), service)
        return await svc.call(operation, params, ctx) or {}


Endpoint = Callable[[Operations, dict[str, Any], str], Awaitable[Any]]

# -- helpers ----------------------------------------------------------------------------------


def _text(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} is required.")
    return value


def _int(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a whole number.") from None
    return max(low, min(number, high))


def _page(items: list[Any], args: dict[str, Any]) -> tuple[list[Any], dict[str, int]]:
    per_page = _int(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE)
    pages = max(1, -(-len(items) // per_page))
    page = _int(args, "page", 1, 1, pages)
    start = (page - 1) * per_page
    return items[start : start + per_page], {"page": page, "pages": pages, "per_page": per_page, "total": len(items)}


def _arn_parts(arn: str, service: str) -> tuple[str, str, str]:
    """(region, account, resource) of an ARN of ``service``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        raise BadRequest(f"{arn!r} is not an {service} ARN.")
    return parts[3], parts[4], parts[5]


def _where(args: dict[str, Any]) -> tuple[str, str]:
    return str(args.get("account") or DEFAULT_ACCOUNT), str(args.get("region") or DEFAULT_REGION)


def _matches(name: str, args: dict[str, Any]) -> bool:
    search = str(args.get("search") or "").lower()
    return search in name.lower()


def _message_attributes(args: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``[{name, type, value}]`` from the console form, in wire form."""
    rows = args.get("attributes") or []
    if not isinstance(rows, list):
        raise BadRequest("attributes must be a list.")
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if not isinstance(row, dict) or not row.get("name"):
            raise BadRequest("Each attribute needs a name.")
        data_type = str(row.get("type") or "String")
        out[str(row["name"])] = {"DataType": data_type, "StringValue": str(row.get("value", ""))}
    return out


# -- queues -------------------------------------------------------------------------------------


async def list_queues(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sqs is not None
    account, region = _where(args)
    stats = [
        s for s in await ops.apis.sqs.queue_stats()
        if s.account == account and s.region == region and _matches(s.name, args)
    ]
    stats.sort(key=lambda s: (s.name, s.account, s.region))
    page, paging = _page(stats, args)
    return {**paging, "queues": page}


async def create_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = _where(args)
    attributes = args.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BadRequest("attributes must be an object.")
    params: dict[str, Any] = {"QueueName": _text(args, "name")}
    if attributes:
        params["Attributes"] = {str(k): str(v) for k, v in attributes.items()}
    return await ops.call("sqs", "CreateQueue", params, base_url, account, region)


def _queue_call(ops: Operations, args: dict[str, Any], base_url: str) -> tuple[str, str, str]:
    region, account, name = _arn_parts(_text(args, "arn"), "sqs")
    return f"{base_url}/{account}/{name}", account, region


async def get_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sqs is not None
    arn = _text(args, "arn")
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
    attributes = _message_attributes(args)
    if attributes:
        params["MessageAttributes"] = attributes
    for arg, name in (("group_id", "MessageGroupId"), ("dedup_id", "MessageDeduplicationId")):
        if args.get(arg):
            params[name] = str(args[arg])
    if args.get("delay_seconds") not in (None, ""):
        params["DelaySeconds"] = _int(args, "delay_seconds", 0, -1, 10**6)
    return await ops.call("sqs", "SendMessage", params, base_url, account, region)


async def peek_messages(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sqs is not None
    limit = _int(args, "limit", 10, 1, 100)
    return {"messages": await ops.apis.sqs.peek(_text(args, "arn"), limit)}


async def purge_queue(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    url, account, region = _queue_call(ops, args, base_url)
    return await ops.call("sqs", "PurgeQueue", {"QueueUrl": url}, base_url, account, region)


async def start_redrive(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    arn = _text(args, "arn")
    region, account, _ = _arn_parts(arn, "sqs")
    params: dict[str, Any] = {"SourceArn": arn}
    if args.get("destination_arn"):
        params["DestinationArn"] = str(args["destination_arn"])
    if args.get("rate") not in (None, ""):
        params["MaxNumberOfMessagesPerSecond"] = _int(args, "rate", 1, -1, 10**6)
    return await ops.call("sqs", "StartMessageMoveTask", params, base_url, account, region)


async def cancel_redrive(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = _where(args)
    return await ops.call(
        "sqs", "CancelMessageMoveTask", {"TaskHandle": _text(args, "task_handle")}, base_url, account, region
    )


# -- topics -------------------------------------------------------------------------------------


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
    account, region = _where(args)
    arns = [a for a in await _all_topics(ops, base_url, account, region) if _matches(a.rsplit(":", 1)[-1], args)]
    arns.sort(key=lambda a: a.rsplit(":", 1)[-1])
    page, paging = _page(arns, args)
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
    account, region = _where(args)
    name = _text(args, "name")
    params: dict[str, Any] = {"Name": name}
    if name.endswith(".fifo"):
        params["Attributes"] = {"FifoTopic": "true"}
    return await ops.call("sns", "CreateTopic", params, base_url, account, region)


async def get_topic(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    assert ops.apis.sns is not None
    arn = _text(args, "arn")
    region, account, _ = _arn_parts(arn, "sns")
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
    arn = _text(args, "arn")
    region, account, _ = _arn_parts(arn, "sns")
    return await ops.call("sns", "DeleteTopic", {"TopicArn": arn}, base_url, account, region)


async def publish(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    arn = _text(args, "arn")
    region, account, _ = _arn_parts(arn, "sns")
    message = args.get("message")
    if not isinstance(message, str):
        raise BadRequest("message is required.")
    params: dict[str, Any] = {"TopicArn": arn, "Message": message}
    if args.get("subject"):
        params["Subject"] = str(args["subject"])
    attributes = _message_attributes(args)
    if attributes:
        params["MessageAttributes"] = attributes
    for arg, name in (("group_id", "MessageGroupId"), ("dedup_id", "MessageDeduplicationId")):
        if args.get(arg):
            params[name] = str(args[arg])
    return await ops.call("sns", "Publish", params, base_url, account, region)


# -- functions ------------------------------------------------------------------------------------


async def list_functions(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = _where(args)
    functions: list[dict[str, Any]] = []
    marker = None
    for _ in range(LIST_PAGES_LIMIT):
        params = {"Marker": marker} if marker else {}
        answer = await ops.call("lambda", "ListFunctions", params, base_url, account, region)
        functions += answer.get("Functions", [])
        marker = answer.get("NextMarker")
        if not marker:
            break
    stats = {s.function_arn: s for s in ops.apis.lambda_.stats()} if ops.apis.lambda_ else {}
    rows = []
    for fn in sorted(functions, key=lambda f: f["FunctionName"]):
        if not _matches(fn["FunctionName"], args):
            continue
        s = stats.get(fn["FunctionArn"])
        rows.append({
            "name": fn["FunctionName"], "arn": fn["FunctionArn"], "runtime": fn.get("Runtime"),
            "handler": fn.get("Handler"), "memory": fn.get("MemorySize"), "timeout": fn.get("Timeout"),
            "state": fn.get("State"), "invocations": s.invocations if s else 0, "errors": s.errors if s else 0,
            "throttles": s.throttles if s else 0,
        })
    page, paging = _page(rows, args)
    return {**paging, "functions": page}


async def get_function(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = _where(args)
    name = _text(args, "name")
    answer = await ops.call("lambda", "GetFunction", {"FunctionName": name}, base_url, account, region)
    config = answer.get("Configuration", {})
    recent = ops.apis.lambda_.recent_invocations(config.get("FunctionArn", "")) if ops.apis.lambda_ else []
    mappings: dict[str, Any]
    try:
        listed = await ops.call(
            "lambda", "ListEventSourceMappings", {"FunctionName": name}, base_url, account, region
        )
        mappings = {"items": listed.get("EventSourceMappings", [])}
    except AWSError as error:  # served by a later release, or refused
        mappings = {"items": [], "unavailable": error.message}
    return {
        "configuration": config, "recent": recent, "event_source_mappings": mappings,
        "logs": await _latest_log_events(ops, name, base_url, account, region),
    }


async def _latest_log_events(
    ops: Operations, name: str, base_url: str, account: str, region: str
) -> dict[str, Any]:
    """The newest events of the function's newest log stream (``/aws/lambda/<name>``)."""
    group = f"/aws/lambda/{name}"
    try:
        streams = await ops.call("logs", "DescribeLogStreams", {
            "logGroupName": group, "orderBy": "LastEventTime", "descending": True, "limit": 1,
        }, base_url, account, region)
        found = streams.get("logStreams", [])
        if not found:
            return {"group": group, "stream": None, "events": []}
        stream = found[0]["logStreamName"]
        events = await ops.call("logs", "GetLogEvents", {
            "logGroupName": group, "logStreamName": stream, "limit": LOG_EVENTS, "startFromHead": False,
        }, base_url, account, region)
    except AWSError as error:
        if error.code == "ResourceNotFoundException":  # never invoked: no group yet
            return {"group": group, "stream": None, "events": []}
        return {"group": group, "stream": None, "events": [], "unavailable": error.message}
    return {
        "group": group, "stream": stream,
        "events": [{"at": e["timestamp"], "message": e["message"]} for e in events.get("events", [])],
    }


async def invoke(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = _where(args)
    payload = args.get("payload", "")
    if not isinstance(payload, str):
        raise BadRequest("payload must be text (JSON).")
    answer = await ops.call(
        "lambda", "Invoke",
        {"FunctionName": _text(args, "name"), "Payload": payload.encode(), "LogType": "Tail"},
        base_url, account, region,
    )
    log = answer.get("LogResult")
    return {
        "status": answer.get("StatusCode"), "function_error": answer.get("FunctionError"),
        "executed_version": answer.get("ExecutedVersion"),
        "payload": bytes(answer.get("Payload") or b"").decode("utf-8", "replace"),
        "log": base64.b64decode(log).decode("utf-8", "replace") if log else "",
    }


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "queues"): list_queues,
    ("POST", "queues"): create_queue,
    ("GET", "queue"): get_queue,
    ("POST", "queue/delete"): delete_queue,
    ("POST", "queue/send"): send_message,
    ("GET", "queue/peek"): peek_messages,
    ("POST", "queue/purge"): purge_queue,
    ("POST", "queue/redrive"): start_redrive,
    ("POST", "queue/redrive/cancel"): cancel_redrive,
    ("GET", "topics"): list_topics,
    ("POST", "topics"): create_topic,
    ("GET", "topic"): get_topic,
    ("POST", "topic/delete"): delete_topic,
    ("POST", "topic/publish"): publish,
    ("GET", "functions"): list_functions,
    ("GET", "function"): get_function,
    ("POST", "function/invoke"): invoke,
}
