"""Event operations: PutLogEvents, GetLogEvents and FilterLogEvents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postroom.logs import errors, limits
from postroom.logs.patterns import FilterPatternError, compile_pattern
from postroom.logs.tokens import event_token, opaque_token, parse_event_token, parse_opaque_token
from postroom.protocol.context import RequestContext
from postroom.storage.logs import LogEvent, Position

if TYPE_CHECKING:
    from postroom.logs.service import LogsService


def _position(event: LogEvent) -> Position:
    return Position(event.timestamp, event.seq)


def _sequence_token(now: int, seq: int) -> str:
    return f"{now:020d}{seq:036d}"


def _event_id(event: LogEvent) -> str:
    return f"{event.timestamp:020d}{event.seq:036d}"


def _fit(events: list[LogEvent]) -> list[LogEvent]:
    """The leading events whose messages (26 bytes of overhead each) fit in one answer."""
    size = 0
    for i, event in enumerate(events):
        size += len(event.message.encode()) + limits.EVENT_OVERHEAD_BYTES
        if size > limits.MAX_RESPONSE_BYTES and i > 0:
            return events[:i]
    return events


async def put_log_events(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    group = svc.group(ctx, params["logGroupName"])
    stream = svc.stream(group, params["logStreamName"])
    events = [(e["timestamp"], e["message"]) for e in params["logEvents"]]
    for i in range(1, len(events)):
        if events[i][0] < events[i - 1][0]:
            raise errors.invalid_parameter(
                "Log events in a single PutLogEvents request must be in chronological order.")
    size = sum(len(m.encode()) + limits.EVENT_OVERHEAD_BYTES for _, m in events)
    if size > limits.MAX_BATCH_BYTES:
        raise errors.invalid_parameter(
            f"Upload too large: {size} bytes exceeds limit of {limits.MAX_BATCH_BYTES}")
    if events[-1][0] - events[0][0] > limits.MAX_BATCH_SPAN_MS:
        raise errors.invalid_parameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
    now = svc.clock.now_ms()
    # Events are in order, so each rejection is a run at one end: old ones first, new ones last.
    too_old = sum(1 for ts, _ in events if ts < now - limits.MAX_PAST_MS)
    expired = too_old
    if group.retention_days is not None:
        expired = max(too_old, sum(1 for ts, _ in events if ts < now - group.retention_days * limits.DAY_MS))
    too_new = next((i for i, (ts, _) in enumerate(events) if ts > now + limits.MAX_FUTURE_MS), len(events))
    accepted = events[expired:too_new] if too_new > expired else []
    if accepted and not await svc.store.append(stream, accepted, now):
        raise errors.stream_not_found()  # deleted while this request waited
    out: dict[str, Any] = {"nextSequenceToken": _sequence_token(now, stream.id)}
    rejected: dict[str, int] = {}
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old
    if expired > too_old:
        rejected["expiredLogEventEndIndex"] = expired
    if too_new < len(events):
        rejected["tooNewLogEventStartIndex"] = too_new
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


async def get_log_events(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    group = svc.group_of(ctx, params)
    stream = svc.stream(group, params["logStreamName"])
    limit = params.get("limit") or limits.DEFAULT_EVENTS_LIMIT
    start, end = params.get("startTime"), params.get("endTime")
    token = params.get("nextToken")
    bound: Position | None = None
    if token is not None:
        direction, bound = parse_event_token(token, stream.id)
        forward = direction == "f"
    else:
        forward = bool(params.get("startFromHead"))
    events = _fit(await svc.store.read_stream(stream.id, start, end, bound, forward, limit))
    if not forward:
        events.reverse()
    if events:
        forward_token = event_token("f", _position(events[-1]), stream.id)
        backward_token = event_token("b", _position(events[0]), stream.id)
    elif bound is not None:
        # Nothing more this way: AWS answers the token it was given.
        forward_token = event_token("f", bound if forward else Position(bound.timestamp, max(bound.seq - 1, 0)), stream.id)
        backward_token = event_token("b", Position(bound.timestamp, bound.seq + 1) if forward else bound, stream.id)
    else:
        edge = Position(start or 0, 0)
        forward_token = event_token("f", edge, stream.id)
        backward_token = event_token("b", edge, stream.id)
    return {
        "events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingested_at} for e in events],
        "nextForwardToken": forward_token,
        "nextBackwardToken": backward_token,
    }


async def filter_log_events(svc: LogsService, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    group = svc.group_of(ctx, params)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise errors.invalid_parameter(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
    try:
        matches = compile_pattern(params.get("filterPattern"))
    except FilterPatternError as exc:
        raise errors.invalid_parameter(f"Invalid filter pattern: {exc}") from None
    streams = svc.store.streams.get(group.id, {})
    if names is not None:
        scope = [streams[n] for n in dict.fromkeys(names) if n in streams]
    elif prefix is not None:
        scope = [s for s in streams.values() if s.name.startswith(prefix)]
    else:
        scope = list(streams.values())
    stream_ids = None if names is None and prefix is None else {s.id for s in scope}
    limit = params.get("limit") or limits.DEFAULT_EVENTS_LIMIT
    start, end = params.get("startTime"), params.get("endTime")
    end = None if end is None else end + 1  # FilterLogEvents' endTime is inclusive
    after: Position | None = None
    if params.get("nextToken") is not None:
        state = parse_opaque_token(params["nextToken"], "filter")
        if state.get("g") != group.id or not isinstance(state.get("p"), list) or len(state["p"]) != 2:
            raise errors.invalid_token()
        after = Position(int(state["p"][0]), int(state["p"][1]))
    found: list[LogEvent] = []
    size = 0
    scanned = 0
    more = False
    while scope and not more:
        want = min(limits.FILTER_SCAN_CHUNK, limits.FILTER_SCAN_BUDGET - scanned)
        step = await svc.store.scan_group(group.id, stream_ids, start, end, after, want)
        scanned += want
        for event in step.events:
            if not matches(event.message):
                continue
            size += len(event.message.encode()) + limits.EVENT_OVERHEAD_BYTES
            if found and size > limits.MAX_RESPONSE_BYTES:
                more = True
                break
            found.append(event)
            if len(found) >= limit:
                more = True
                break
        if more:
            after = _position(found[-1])  # resume right after the last event answered
        elif step.exhausted:
            break  # read to the end of the range
        else:
            after = step.last
            more = scanned >= limits.FILTER_SCAN_BUDGET
    by_id = svc.store.streams_by_id
    out: dict[str, Any] = {
        "events": [
            {"logStreamName": by_id[e.stream_id].name if e.stream_id in by_id else "",
             "timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingested_at,
             "eventId": _event_id(e)}
            for e in found
        ],
        "searchedLogStreams": [
            {"logStreamName": s.name, "searchedCompletely": not more} for s in scope
        ],
    }
    if more and after is not None:
        out["nextToken"] = opaque_token("filter", {"g": group.id, "p": [after.timestamp, after.seq]})
    return out


OPERATIONS = {
    "PutLogEvents": put_log_events,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}
