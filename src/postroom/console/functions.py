"""Console endpoints for functions: list, inspect (recent runs, log events, event source
mappings), invoke with the log tail."""

from __future__ import annotations

import base64
from typing import Any

from postroom.console.operations import (
    LIST_PAGES_LIMIT,
    BadRequest,
    Operations,
    matches,
    page_of,
    text_arg,
    where,
)
from postroom.protocol.errors import AWSError

LOG_EVENTS = 50  # log events shown on a function's page


async def list_functions(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = where(args)
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
        if not matches(fn["FunctionName"], args):
            continue
        s = stats.get(fn["FunctionArn"])
        rows.append({
            "name": fn["FunctionName"], "arn": fn["FunctionArn"], "runtime": fn.get("Runtime"),
            "handler": fn.get("Handler"), "memory": fn.get("MemorySize"), "timeout": fn.get("Timeout"),
            "state": fn.get("State"), "invocations": s.invocations if s else 0, "errors": s.errors if s else 0,
            "throttles": s.throttles if s else 0,
        })
    page, paging = page_of(rows, args)
    return {**paging, "functions": page}


async def get_function(ops: Operations, args: dict[str, Any], base_url: str) -> dict[str, Any]:
    account, region = where(args)
    name = text_arg(args, "name")
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
    account, region = where(args)
    payload = args.get("payload", "")
    if not isinstance(payload, str):
        raise BadRequest("payload must be text (JSON).")
    answer = await ops.call(
        "lambda", "Invoke",
        {"FunctionName": text_arg(args, "name"), "Payload": payload.encode(), "LogType": "Tail"},
        base_url, account, region,
    )
    log = answer.get("LogResult")
    return {
        "status": answer.get("StatusCode"), "function_error": answer.get("FunctionError"),
        "executed_version": answer.get("ExecutedVersion"),
        "payload": bytes(answer.get("Payload") or b"").decode("utf-8", "replace"),
        "log": base64.b64decode(log).decode("utf-8", "replace") if log else "",
    }
