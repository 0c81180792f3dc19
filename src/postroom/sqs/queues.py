"""Queue operations: create, find, list, delete, attributes, tags, permissions, purge."""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

import orjson

from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError, invalid_parameter_value
from postroom.sqs import attributes, limits
from postroom.sqs.errors import (
    invalid_attribute_name,
    parameter_out_of_range,
    purge_in_progress,
    queue_deleted_recently,
    queue_does_not_exist,
    queue_name_exists,
)
from postroom.sqs.names import FIFO_SUFFIX, check_queue_name, queue_arn
from postroom.sqs.redrive import allows_source, check_redrive_allow_policy, parse_redrive_policy
from postroom.storage.base import QueueRecord

if TYPE_CHECKING:
    from postroom.sqs.service import SqsService

Result = dict[str, Any] | None
_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_PERMISSION_ACTIONS = frozenset({
    "*", "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
    "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue",
    "ListQueueTags", "ChangeMessageVisibilityBatch", "DeleteMessageBatch", "SendMessageBatch",
})


def _check_tags(tags: dict[str, Any]) -> dict[str, str]:
    if len(tags) > limits.MAX_TAGS:
        raise invalid_parameter_value(f"Too many tags added for queue. Maximum is {limits.MAX_TAGS}.")
    for key, value in tags.items():
        if not key or len(key) > limits.MAX_TAG_KEY or key.lower().startswith("aws:"):
            raise invalid_parameter_value(f"Tag key '{key}' is invalid.")
        if value is None or len(value) > limits.MAX_TAG_VALUE:
            raise invalid_parameter_value(f"Tag value for key '{key}' is invalid.")
    return {k: str(v) for k, v in tags.items()}


def _check_redrive(svc: SqsService, stored: dict[str, str], region: str, account: str, name: str) -> None:
    """Validate RedrivePolicy / RedriveAllowPolicy against the queues they name, and store
    the RedrivePolicy as AWS returns it (maxReceiveCount as a number)."""
    if stored.get("RedriveAllowPolicy"):
        check_redrive_allow_policy(stored["RedriveAllowPolicy"])
    value = stored.get("RedrivePolicy")
    if not value:
        return
    policy = parse_redrive_policy(value)
    target = svc.queue_by_arn(policy.dead_letter_target_arn)
    reason = None
    if target is None:
        reason = "Dead letter target does not exist."
    elif target.account != account:
        reason = "Dead letter target must be in the same account as the source queue."
    elif (target.attributes.get("FifoQueue") == "true") != name.endswith(FIFO_SUFFIX):
        reason = "Dead-letter queue must be the same type of queue as the source queue."
    elif not allows_source(target.attributes.get("RedriveAllowPolicy"), queue_arn(region, account, name)):
        reason = "Queue does not allow this source queue to use it as a dead-letter queue."
    if reason:
        raise invalid_parameter_value(f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")
    stored["RedrivePolicy"] = orjson.dumps(
        {"deadLetterTargetArn": policy.dead_letter_target_arn, "maxReceiveCount": policy.max_receive_count}
    ).decode()


async def create_queue(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    name = p["QueueName"]
    requested = dict(p.get("Attributes") or {})
    fifo_value = str(requested.get("FifoQueue", "false")).lower()
    fifo = fifo_value == "true"
    check_queue_name(name, fifo or name.endswith(FIFO_SUFFIX))
    if name.endswith(FIFO_SUFFIX) and not fifo:
        check_queue_name(name, False)  # '.fifo' names need FifoQueue=true
    stored = attributes.validate(requested, creating=True, fifo=fifo)
    attributes.check_throughput(stored)
    tags = _check_tags(p.get("tags") or {})
    # From the database, not the cache: another node may have deleted it a moment ago.
    existing = await svc.store.find_queue(ctx.account, ctx.region, name)
    if existing is not None:
        _check_same_attributes(existing, stored)
        return {"QueueUrl": svc.url(existing, ctx)}
    now = svc.clock.now_ms()
    deleted = await svc.store.sqs_state.deleted_at(ctx.account, ctx.region, name)  # by any node
    if deleted is not None and now - deleted < limits.RECREATE_AFTER_DELETE_S * 1000:
        raise queue_deleted_recently()
    _check_redrive(svc, stored, ctx.region, ctx.account, name)
    queue = await svc.store.create_queue(ctx.account, ctx.region, name, stored, tags, now)
    if queue.attributes != stored:
        _check_same_attributes(queue, stored)  # lost a race with an identical create
    return {"QueueUrl": svc.url(queue, ctx)}


def _check_same_attributes(existing: QueueRecord, requested: dict[str, str]) -> None:
    current = attributes.effective(existing.attributes)
    for key, value in requested.items():
        if current.get(key, "") != value:
            raise queue_name_exists(key)


async def get_queue_url(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    owner = p.get("QueueOwnerAWSAccountId") or ctx.account
    queue = svc.store.queue_by_name(owner, ctx.region, p["QueueName"])
    if queue is None:
        raise queue_does_not_exist()
    return {"QueueUrl": svc.url(queue, ctx)}


def _page(items: list[str], p: dict[str, Any], key: str) -> dict[str, Any]:
    """Page a sorted list of names with AWS's MaxResults / NextToken contract."""
    max_results = p.get("MaxResults")
    if max_results is not None and not 1 <= max_results <= limits.MAX_LIST_QUEUES:
        raise parameter_out_of_range("MaxResults", max_results, "MaxResults must be an integer between 1 and 1000.")
    start = 0
    token = p.get("NextToken")
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeError, ValueError):
            raise invalid_parameter_value("Invalid NextToken value.") from None
        start = next((i for i, item in enumerate(items) if item > after), len(items))
    limit = max_results or limits.MAX_LIST_QUEUES
    page = items[start : start + limit]
    out: dict[str, Any] = {key: page} if page else {}
    if max_results is not None and start + limit < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
    return out


async def list_queues(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    prefix = p.get("QueueNamePrefix") or ""
    queues = {q.name: q for q in svc.store.list_queues(ctx.account, ctx.region) if q.name.startswith(prefix)}
    out = _page(list(queues), p, "QueueUrls")
    if "QueueUrls" in out:
        out["QueueUrls"] = [svc.url(queues[n], ctx) for n in out["QueueUrls"]]
    return out


async def delete_queue(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    # The name's deletion time (the 60-second rule) commits with the delete itself.
    await svc.store.delete_queue(queue.id, now=svc.clock.now_ms())
    svc.counters.forget(queue.id)
    svc.forget_settings(queue.id)
    svc.in_flight.pop(queue.id, None)
    svc.signals.notify(queue.id)  # long polls on it return (empty) now
    return None


async def get_queue_attributes(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    names = p.get("AttributeNames") or []
    fifo = svc.settings(queue).fifo
    for name in names:
        # AWS knows FifoQueue only on FIFO queues ("Unknown Attribute FifoQueue." otherwise).
        if name != "All" and (name not in attributes.ALL_NAMES or (name == "FifoQueue" and not fifo)):
            raise invalid_attribute_name(name)
    wanted = set(attributes.ALL_NAMES) if "All" in names else set(names)
    if not wanted:
        return {}
    values = attributes.effective(queue.attributes)
    if wanted & {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"}:
        counts = await svc.store.counts(queue.id, svc.clock.now_ms())
        values["ApproximateNumberOfMessages"] = str(counts.visible)
        values["ApproximateNumberOfMessagesNotVisible"] = str(counts.not_visible)
        values["ApproximateNumberOfMessagesDelayed"] = str(counts.delayed)
    values["CreatedTimestamp"] = str(queue.created_at)
    values["LastModifiedTimestamp"] = str(queue.modified_at)
    values["QueueArn"] = svc.settings(queue).arn
    return {"Attributes": {k: v for k, v in values.items() if k in wanted}}


async def set_queue_attributes(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    fifo = svc.settings(queue).fifo
    changes = attributes.validate(p["Attributes"], creating=False, fifo=fifo)
    _check_redrive(svc, changes, queue.region, queue.account, queue.name)
    stored = dict(queue.attributes)
    stored.update(changes)
    for key in ("RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"):
        if stored.get(key) == "":
            del stored[key]  # an empty value removes the setting
    attributes.check_throughput(stored)
    await svc.store.update_queue(queue.id, attributes=stored, now=svc.clock.now_ms())
    svc.forget_settings(queue.id)
    if "DelaySeconds" in changes and fifo:
        # AWS's delay-queue guide: a FIFO queue's delay is retroactive (a standard queue's is not).
        await svc.store.redelay(queue.id, int(changes["DelaySeconds"]) * 1000)
        svc.signals.notify(queue.id)
    return None


async def purge_queue(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    # One purge per 60 s, on every node: checked and recorded in the purge's transaction.
    if not await svc.store.purge(queue.id, now=svc.clock.now_ms(), interval_ms=limits.PURGE_INTERVAL_S * 1000):
        raise purge_in_progress(queue.name)
    return None


async def tag_queue(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    tags = dict(queue.tags)
    tags.update(p["Tags"])
    await svc.store.update_queue(queue.id, tags=_check_tags(tags), now=svc.clock.now_ms())
    return None


async def untag_queue(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    tags = {k: v for k, v in queue.tags.items() if k not in set(p["TagKeys"])}
    await svc.store.update_queue(queue.id, tags=tags, now=svc.clock.now_ms())
    return None


async def list_queue_tags(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    return {"Tags": dict(queue.tags)} if queue.tags else {}


def _policy(queue: QueueRecord, arn: str) -> dict[str, Any]:
    current = queue.attributes.get("Policy")
    if current:
        return orjson.loads(current)
    # The policy AddPermission starts from, as AWS writes it (recorded answers: "2008-10-17").
    return {"Version": "2008-10-17", "Id": f"{arn}/SQSDefaultPolicy", "Statement": []}


async def add_permission(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    label, accounts, actions = p["Label"], p["AWSAccountIds"], p["Actions"]
    if not _LABEL.match(label):
        raise invalid_parameter_value(
            f"Value {label} for parameter Label is invalid. Reason: Can only include alphanumeric "
            "characters, hyphens, or underscores. 1 to 80 in length."
        )
    if not accounts or not all(_ACCOUNT_ID.match(a) for a in accounts):
        raise invalid_parameter_value("Value for parameter AWSAccountIds is invalid.")
    if not actions or len(actions) > 7 or not all(a in _PERMISSION_ACTIONS for a in actions):
        raise invalid_parameter_value("Value for parameter Actions is invalid.")
    arn = svc.settings(queue).arn
    policy = _policy(queue, arn)
    statements = policy.setdefault("Statement", [])
    if any(s.get("Sid") == label for s in statements):
        raise invalid_parameter_value(f"Value {label} for parameter Label is invalid. Reason: Already exists.")
    principals = [f"arn:aws:iam::{a}:root" for a in accounts]
    statements.append({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
        "Action": [f"SQS:{a}" for a in actions] if len(actions) > 1 else f"SQS:{actions[0]}",
        "Resource": arn,
    })
    await _store_policy(svc, queue, policy)
    return None


async def remove_permission(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    label = p["Label"]
    policy = _policy(queue, svc.settings(queue).arn)
    statements = policy.get("Statement", [])
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        raise invalid_parameter_value(
            f"Value {label} for parameter Label is invalid. Reason: can't find label."
        )
    policy["Statement"] = kept
    await _store_policy(svc, queue, policy if kept else None)
    return None


async def _store_policy(svc: SqsService, queue: QueueRecord, policy: dict[str, Any] | None) -> None:
    stored = dict(queue.attributes)
    if policy is None:
        stored.pop("Policy", None)
    else:
        stored["Policy"] = orjson.dumps(policy).decode()
    await svc.store.update_queue(queue.id, attributes=stored, now=svc.clock.now_ms())


async def list_dead_letter_source_queues(svc: SqsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    queue = svc.queue_for(p, ctx)
    arn = svc.settings(queue).arn
    # A dead-letter queue serves sources of its own account and region only (as on AWS).
    sources = {
        q.name: q for q in svc.store.list_queues(queue.account, queue.region) if svc.settings(q).redrive_arn == arn
    }
    out = _page(list(sources), p, "queueUrls")
    out["queueUrls"] = [svc.url(sources[n], ctx) for n in out.get("queueUrls", [])]
    return out


OPERATIONS = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "PurgeQueue": purge_queue,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
}

__all__ = ["OPERATIONS", "AWSError"]
