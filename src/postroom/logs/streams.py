"""Log stream operations: create, delete, describe."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.logs import errors, limits
from postroom.logs.names import stream_arn
from postroom.logs.tokens import opaque_token, parse_opaque_token
from postroom.protocol.context import RequestContext
from postroom.storage.logs import LogGroupRecord, LogStreamRecord

if TYPE_CHECKING:
    from postroom.logs.service import LogsService


def describe_stream(group: LogGroupRecord, stream: LogStreamRecord) -> dict[str, Any]:
    """A stream as DescribeLogStreams reports it (storedBytes is always 0, as AWS has
    reported it since 2019)."""
    out: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.created_at,
        "arn": stream_arn(group.region, group.account, group.name, stream.name),
        "storedBytes": 0,
    }
    if stream.first_event_at is not None:
        out["firstEventTimestamp"] = stream.first_event_at
        out["lastEventTimestamp"] = stream.last_event_at
    if stream.last_ingestion_at is not None:
        out["lastIngestionTime"] = stream.last_ingestion_at
        out["uploadSequenceToken"] = f"{stream.last_ingestion_at:056d}"
    return out


async def create_log_stream(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    group = svc.group(ctx, params["logGroupName"])
    name = params["logStreamName"]
    if svc.store.stream(group, name) is not None:
        raise errors.stream_exists()
    if await svc.store.create_stream(group, name, svc.clock.now_ms()) is None:
        if svc.store.stream(group, name) is not None:
            raise errors.stream_exists()
        raise errors.group_not_found()


async def delete_log_stream(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> None:
    group = svc.group(ctx, params["logGroupName"])
    await svc.store.delete_stream(group, svc.stream(group, params["logStreamName"]))


async def describe_log_streams(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    group = svc.group_of(ctx, params)
    prefix = params.get("logStreamNamePrefix")
    order_by = params.get("orderBy") or "LogStreamName"
    if order_by == "LastEventTime" and prefix is not None:
        raise errors.invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(params.get("descending"))
    limit = params.get("limit") or limits.DEFAULT_DESCRIBE_LIMIT
    streams = [s for s in svc.store.streams.get(group.id, {}).values()
               if prefix is None or s.name.startswith(prefix)]

    def key(stream: LogStreamRecord) -> tuple:
        if order_by == "LastEventTime":
            return (stream.last_event_at or 0, stream.name)
        return (stream.name,)

    streams.sort(key=key, reverse=descending)
    start = 0
    if params.get("nextToken") is not None:
        state = parse_opaque_token(params["nextToken"], "streams")
        if state.get("g") != group.id or state.get("o") != [order_by, descending]:
            raise errors.invalid_token()
        after = tuple(state.get("after") or ())
        # Resume after the last key answered, so streams added meanwhile are not skipped.
        start = next((i for i, s in enumerate(streams)
                      if (key(s) < after if descending else key(s) > after)), len(streams))
    page = streams[start:start + limit]
    out: dict[str, Any] = {"logStreams": [describe_stream(group, s) for s in page]}
    if start + limit < len(streams):
        out["nextToken"] = opaque_token(
            "streams", {"g": group.id, "o": [order_by, descending], "after": list(key(page[-1]))})
    return out


OPERATIONS = {
    "CreateLogStream": create_log_stream,
    "DeleteLogStream": delete_log_stream,
    "DescribeLogStreams": describe_log_streams,
}
