"""Where a settled asynchronous invocation goes: the on-success / on-failure destination
(SQS, SNS or another function) with AWS's invocation record, and the function's
dead-letter queue (SQS or SNS) with the original event and AWS's three attributes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from postroom.lambda_ import limits
from postroom.protocol.errors import AWSError
from postroom.sqs.api import OutgoingMessage
from postroom.storage.invocations import AsyncEvent

if TYPE_CHECKING:
    from postroom.lambda_.resolve import ResolvedFunction
    from postroom.lambda_.service import LambdaService

log = logging.getLogger("postroom.lambda.destinations")


@dataclass(frozen=True, slots=True)
class Outcome:
    condition: str  # "Success" | "RetriesExhausted" | "EventAgeExceeded"
    invoke_count: int
    response: dict[str, Any] | None  # payload, error, version, errorType of the last attempt


def _json_or_text(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def invocation_record(event: AsyncEvent, fn: ResolvedFunction, outcome: Outcome, now: int) -> dict[str, Any]:
    """AWS's destination record (``version`` 1.0)."""
    version = (outcome.response or {}).get("version") or fn.executed_version
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now % 1000:03d}Z",
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{fn.function_arn}:{version}",
            "condition": outcome.condition,
            "approximateInvokeCount": outcome.invoke_count,
        },
        "requestPayload": _json_or_text(event.payload),
    }
    if outcome.response is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": version}
        if outcome.response.get("error"):
            context["functionError"] = outcome.response["error"]
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(outcome.response.get("payload") or "null")
    return record


async def deliver_outcome(svc: LambdaService, event: AsyncEvent, fn: ResolvedFunction, outcome: Outcome) -> None:
    """Send the record to the destination the function's config names for this outcome, and
    a failed event to the dead-letter queue. A destination that fails is logged, not retried."""
    config = (fn.event_invoke_config or {}).get("DestinationConfig") or {}
    key = "OnSuccess" if outcome.condition == "Success" else "OnFailure"
    target = (config.get(key) or {}).get("Destination")
    now = svc.clock.now_ms()
    if target:
        body = orjson.dumps(invocation_record(event, fn, outcome, now)).decode()
        await _send(svc, target, body, {}, event)
    if outcome.condition != "Success" and fn.dead_letter_arn:
        error = outcome.response or {}
        message = (error.get("payload") or outcome.condition)[: limits.DLQ_ERROR_MESSAGE_BYTES]
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message},
        }
        await _send(svc, fn.dead_letter_arn, event.payload.decode("utf-8", "replace"), attributes, event)


async def _send(svc: LambdaService, target: str, body: str, attributes: dict[str, Any], event: AsyncEvent) -> None:
    service = target.split(":")[2] if target.count(":") >= 5 else ""
    apis = svc.apis
    try:
        if service == "sqs" and apis.sqs is not None:
            await apis.sqs.send(target, OutgoingMessage(body, attributes))
        elif service == "sns" and apis.sns is not None:
            await apis.sns.publish(target, body, attributes=attributes or None)
        elif service == "lambda":
            await svc.api.invoke_async(target, body.encode(), account=event.account, region=event.region)
        else:
            log.warning("destination %s of request %s is not a service Postroom serves", target, event.request_id)
    except AWSError as error:
        log.warning("could not deliver request %s to %s: %s", event.request_id, target, error)
