"""Event source mappings for SQS queues: Create/Get/List/Update/DeleteEventSourceMapping.

Changes answer 202 with the transitional state (Creating, Updating, Enabling, Disabling,
Deleting) as AWS does; the mapping pollers then act on the change and settle the state
(``svc.pollers.refresh``). Validation follows AWS's rules and messages for SQS sources.

Several nodes may change one mapping at once: a save is conditional on the revision read.
When another node's pollers only settled the state meanwhile, the change is redone on what
is stored; when another change (an update, a delete) came in between, the answer is AWS's
for a mapping busy with another change: ResourceInUseException.
"""

from __future__ import annotations

import dataclasses
import uuid as uuids
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from postroom.pollers.filtering import (
    MAX_FILTERS,
    MAX_PATTERN_CHARS,
    InvalidPattern,
    compile_patterns,
)
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.sqs.names import parse_queue_arn
from postroom.storage import mappings as states
from postroom.storage.errors import DuplicateRecord, StaleRecord
from postroom.storage.mappings import MappingRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

Result = dict[str, Any] | None

DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 10_000
MAX_FIFO_BATCH_SIZE = 10
MAX_BATCHING_WINDOW_S = 300
CONCURRENCY_RANGE = (2, 1000)
DEFAULT_LIST_ITEMS = 100
MAX_LIST_ITEMS = 10_000
RESPONSE_TYPES = ("ReportBatchItemFailures",)
# Settings of other kinds of event sources (streams, Kafka, MQ, DocumentDB) and features
# Postroom does not offer for queues: refused rather than silently ignored.
UNSUPPORTED = (
    "ParallelizationFactor", "StartingPosition", "StartingPositionTimestamp", "DestinationConfig",
    "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "MaximumRetryAttempts", "Tags",
    "TumblingWindowInSeconds", "Topics", "Queues", "SourceAccessConfigurations",
    "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig", "DocumentDBEventSourceConfig", "KMSKeyArn", "MetricsConfig",
    "LoggingConfig", "ProvisionedPollerConfig",
)
# Tries of a change whose write another node's pollers made stale (each reads it again).
STALE_ATTEMPTS = 8
_NO_QUEUE = (
    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
    "SQS Error Message: The specified queue does not exist or you do not have access to it."
)


# -- errors -----------------------------------------------------------------------------


def _invalid(svc: LambdaService, message: str) -> AWSError:
    return svc.model.error("InvalidParameterValueException", message)


def _validation(path: str, value: Any, rule: str) -> AWSError:
    # AWS's front-end constraint check; not a modelled error shape.
    return AWSError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {rule}",
    )


def _not_found(svc: LambdaService) -> AWSError:
    return svc.model.error("ResourceNotFoundException", "The resource you requested does not exist.")


def _in_use(svc: LambdaService, action: str) -> AWSError:
    # AWS's answer to a change of a mapping that another change is still being applied to.
    return svc.model.error(
        "ResourceInUseException", f"Cannot {action} the event source mapping because it is in use."
    )


def _check_range(path: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if value < low:
        raise _validation(path, value, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _validation(path, value, f"Member must have value less than or equal to {high}")


# -- reading parameters --------------------------------------------------------------


def split_function_name(name: str) -> tuple[str, str | None]:
    """A FunctionName (name, ARN or partial ARN, each with an optional qualifier) as the
    unqualified function and its qualifier."""
    parts = name.split(":")
    if name.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    if len(parts) == 4 and parts[1] == "function":  # 123456789012:function:name:qualifier
        return ":".join(parts[:3]), parts[3]
    if len(parts) == 2:  # name:qualifier
        return parts[0], parts[1]
    return name, None


async def _function_arn(svc: LambdaService, name: str, ctx: RequestContext) -> str:
    """The ARN a mapping shows for FunctionName (ResourceNotFoundException if it is missing)."""
    base, qualifier = split_function_name(name)
    info = await svc.api.function(base, account=ctx.account, region=ctx.region, qualifier=qualifier)
    return info.function_arn + (f":{qualifier}" if qualifier else "")


def _check_shapes(svc: LambdaService, p: dict[str, Any]) -> None:
    for name in UNSUPPORTED:
        if p.get(name) is not None:
            raise _invalid(svc, f"{name} is not supported by Postroom for Amazon SQS event sources.")
    _check_range("batchSize", p.get("BatchSize"), 1, MAX_BATCH_SIZE)
    _check_range("maximumBatchingWindowInSeconds", p.get("MaximumBatchingWindowInSeconds"), 0, MAX_BATCHING_WINDOW_S)
    scaling = p.get("ScalingConfig") or {}
    _check_range("scalingConfig.maximumConcurrency", scaling.get("MaximumConcurrency"), *CONCURRENCY_RANGE)
    types = p.get("FunctionResponseTypes")
    if types is not None:
        if len(types) > 1:
            raise _validation("functionResponseTypes", types, "Member must have length less than or equal to 1")
        for value in types:
            if value not in RESPONSE_TYPES:
                raise _validation(
                    "functionResponseTypes", f"[{value}]",
                    "Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]",
                )


def _filters(svc: LambdaService, criteria: dict[str, Any] | None) -> list[str]:
    filters = (criteria or {}).get("Filters") or []
    patterns = [f.get("Pattern") for f in filters]
    if len(patterns) > MAX_FILTERS:
        raise _invalid(svc, f"The number of filters exceeds the limit of {MAX_FILTERS}.")
    for text in patterns:
        if isinstance(text, str) and len(text) > MAX_PATTERN_CHARS:
            raise _validation(
                "filterCriteria.filters.member.pattern", text,
                f"Member must have length less than or equal to {MAX_PATTERN_CHARS}",
            )
    try:
        compile_patterns(patterns)
    except InvalidPattern:
        raise _invalid(svc, "Invalid filter pattern definition.") from None
    return [str(text) for text in patterns]


async def _check_source(svc: LambdaService, m: MappingRecord, ctx: RequestContext) -> None:
    """Rules that involve the queue and the function (AWS checks them on every change)."""
    assert svc.apis.sqs is not None
    queue = await svc.apis.sqs.find(m.source_arn)  # storage too: another node's new queue
    if queue is None:
        raise _invalid(svc, _NO_QUEUE)
    if queue.fifo:
        if m.batching_window_s > 0:
            raise _invalid(svc, "Batching window is not supported for FIFO queues")
        if m.batch_size > MAX_FIFO_BATCH_SIZE:
            raise _invalid(svc, f"Maximum batch size must be between 1 and {MAX_FIFO_BATCH_SIZE} inclusive")
    elif m.batch_size > 10 and m.batching_window_s == 0:
        raise _invalid(
            svc, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    base, qualifier = split_function_name(m.function_arn)
    info = await svc.api.function(base, account=ctx.account, region=ctx.region, qualifier=qualifier)
    if queue.visibility_timeout < info.timeout_s:
        raise _invalid(
            svc,
            f"Queue visibility timeout: {queue.visibility_timeout} seconds is less than Function timeout: "
            f"{info.timeout_s} seconds",
        )


def _conflict(svc: LambdaService, m: MappingRecord, existing: str) -> AWSError:
    """One mapping per queue and function (as named: an alias is a function of its own);
    the store checks it as it saves, so it holds across nodes."""
    return svc.model.error(
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {m.source_arn} ") and function (" '
        f'{m.function_arn.split(":")[6]} ") already exists. Please update or delete the existing '
        f"mapping with UUID {existing}",
    )


def _mapping_arn(m: MappingRecord) -> str:
    return f"arn:aws:lambda:{m.region}:{m.account}:event-source-mapping:{m.uuid}"


def describe(m: MappingRecord) -> dict[str, Any]:
    """EventSourceMappingConfiguration as AWS answers it for an SQS source."""
    out: dict[str, Any] = {
        "UUID": m.uuid,
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.batching_window_s,
        "EventSourceArn": m.source_arn,
        "FunctionArn": m.function_arn,
        "LastModified": m.last_modified_ms / 1000,
        "State": m.state,
        "StateTransitionReason": m.state_reason,
        "FunctionResponseTypes": list(m.response_types),
        "EventSourceMappingArn": _mapping_arn(m),
    }
    if m.filters:
        out["FilterCriteria"] = {"Filters": [{"Pattern": text} for text in m.filters]}
    if m.maximum_concurrency is not None:
        out["ScalingConfig"] = {"MaximumConcurrency": m.maximum_concurrency}
    return out


async def _find(svc: LambdaService, uuid: str | None, ctx: RequestContext) -> MappingRecord:
    store = svc.store.mappings
    mapping = store.mappings.get(uuid or "")
    if mapping is None and uuid:
        # Another node may have created it a moment ago, before its notice arrived.
        mapping = await store.reload(uuid)
    if mapping is None or (mapping.account, mapping.region) != (ctx.account, ctx.region):
        raise _not_found(svc)
    return mapping


async def _read_again(svc: LambdaService, read: MappingRecord, action: str) -> MappingRecord:
    """The mapping as stored now, after a save over ``read`` found it changed elsewhere: to
    redo the change on, if only the pollers settled its state meanwhile (or, for a delete,
    if another node deleted it too); else the mapping is busy with another change
    (ResourceInUseException), or gone (ResourceNotFoundException)."""
    fresh = await svc.store.mappings.reload(read.uuid)
    if fresh is None:
        raise _not_found(svc)
    if action == "delete" and fresh.state == states.DELETING:
        return fresh
    settled_only = fresh.state not in states.TRANSITIONAL and fresh == dataclasses.replace(
        read, state=fresh.state, revision=fresh.revision
    )
    if not settled_only:
        raise _in_use(svc, action)
    return fresh


# -- operations -------------------------------------------------------------------------


async def create_event_source_mapping(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    async with svc.pollers.changes:
        return await _create(svc, p, ctx)


async def _create(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    source = p.get("EventSourceArn")
    if not source:
        raise _invalid(svc, "Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
    if parse_queue_arn(source) is None:
        raise _invalid(svc, f"Event source {source} is not supported by Postroom: only Amazon SQS queues are.")
    _check_shapes(svc, p)
    function_arn = await _function_arn(svc, p["FunctionName"], ctx)
    enabled = p.get("Enabled") is not False
    scaling = p.get("ScalingConfig") or {}
    mapping = MappingRecord(
        uuid=str(uuids.uuid4()), account=ctx.account, region=ctx.region, function_arn=function_arn,
        source_arn=source, batch_size=p.get("BatchSize") or DEFAULT_BATCH_SIZE,
        batching_window_s=p.get("MaximumBatchingWindowInSeconds") or 0, enabled=enabled,
        state=states.CREATING if enabled else states.DISABLED, last_modified_ms=svc.clock.now_ms(),
        filters=_filters(svc, p.get("FilterCriteria")), response_types=list(p.get("FunctionResponseTypes") or []),
        maximum_concurrency=scaling.get("MaximumConcurrency"),
    )
    await _check_source(svc, mapping, ctx)
    try:
        await svc.store.mappings.save(mapping, unique=True)
    except DuplicateRecord as duplicate:
        raise _conflict(svc, mapping, duplicate.existing) from None
    answer = describe(mapping)
    svc.pollers.refresh(mapping)
    return answer


async def get_event_source_mapping(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return describe(await _find(svc, p.get("UUID"), ctx))


async def list_event_source_mappings(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    limit = p.get("MaxItems")
    _check_range("maxItems", limit, 1, MAX_LIST_ITEMS)
    source = p.get("EventSourceArn")
    function_arn = await _function_arn(svc, p["FunctionName"], ctx) if p.get("FunctionName") else None
    found = sorted(
        (
            m for m in svc.store.mappings.mappings.values()
            if (m.account, m.region) == (ctx.account, ctx.region)
            and (source is None or m.source_arn == source)
            and (function_arn is None or m.function_arn == function_arn)
        ),
        key=lambda m: m.uuid,
    )
    marker = p.get("Marker")
    if marker:
        found = [m for m in found if m.uuid >= marker]
    limit = limit or DEFAULT_LIST_ITEMS
    out: dict[str, Any] = {"EventSourceMappings": [describe(m) for m in found[:limit]]}
    if len(found) > limit:
        out["NextMarker"] = found[limit].uuid
    return out


async def update_event_source_mapping(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    async with svc.pollers.changes:
        return await _update(svc, p, ctx)


async def _update(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    current = await _find(svc, p.get("UUID"), ctx)
    _check_shapes(svc, p)

    async def change(mapping: MappingRecord) -> MappingRecord | None:
        if mapping.state == states.DELETING:
            raise _in_use(svc, "update")
        return await _updated(svc, mapping, p, ctx)

    return await _save_changed(svc, current, change, "update")


async def _save_changed(
    svc: LambdaService, current: MappingRecord,
    change: Callable[[MappingRecord], Awaitable[MappingRecord | None]], verb: str,
) -> dict[str, Any]:
    """Save ``change(current)`` (None: nothing to change, answer ``current``) unless the
    stored mapping changed since it was read; then read it again and redo the change on it
    (``_read_again`` answers in use when another node's change came first)."""
    for _ in range(STALE_ATTEMPTS):
        mapping = await change(current)
        if mapping is None:
            return describe(current)
        try:
            await svc.store.mappings.save(mapping, unique=mapping.function_arn != current.function_arn)
        except StaleRecord:
            current = await _read_again(svc, current, verb)
            continue
        except DuplicateRecord as duplicate:
            raise _conflict(svc, mapping, duplicate.existing) from None
        answer = describe(mapping)
        svc.pollers.refresh(mapping)
        return answer
    raise _in_use(svc, verb)


async def _updated(svc: LambdaService, current: MappingRecord, p: dict[str, Any], ctx: RequestContext) -> MappingRecord:
    """``current`` with the update ``p`` applied (a copy), checked as AWS checks it."""
    mapping = dataclasses.replace(current, filters=list(current.filters), response_types=list(current.response_types))
    if p.get("FunctionName"):
        mapping.function_arn = await _function_arn(svc, p["FunctionName"], ctx)
    if p.get("BatchSize") is not None:
        mapping.batch_size = p["BatchSize"]
    if p.get("MaximumBatchingWindowInSeconds") is not None:
        mapping.batching_window_s = p["MaximumBatchingWindowInSeconds"]
    if p.get("FilterCriteria") is not None:
        mapping.filters = _filters(svc, p["FilterCriteria"])
    if p.get("FunctionResponseTypes") is not None:
        mapping.response_types = list(p["FunctionResponseTypes"])
    if p.get("ScalingConfig") is not None:
        mapping.maximum_concurrency = p["ScalingConfig"].get("MaximumConcurrency")
    await _check_source(svc, mapping, ctx)
    enabled = current.enabled if p.get("Enabled") is None else bool(p["Enabled"])
    if enabled != current.enabled:
        mapping.state = states.ENABLING if enabled else states.DISABLING
    else:
        mapping.state = states.UPDATING if enabled else states.DISABLED
    mapping.enabled = enabled
    mapping.last_modified_ms = svc.clock.now_ms()
    return mapping


async def delete_event_source_mapping(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> Result:
    async with svc.pollers.changes:
        return await _delete(svc, p, ctx)


async def _delete(svc: LambdaService, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    current = await _find(svc, p.get("UUID"), ctx)

    async def change(mapping: MappingRecord) -> MappingRecord | None:
        if mapping.state == states.DELETING:
            return None  # deleted already (here or elsewhere): nothing to change
        return dataclasses.replace(mapping, state=states.DELETING)

    return await _save_changed(svc, current, change, "delete")


OPERATIONS = {
    "CreateEventSourceMapping": create_event_source_mapping,
    "GetEventSourceMapping": get_event_source_mapping,
    "ListEventSourceMappings": list_event_source_mappings,
    "UpdateEventSourceMapping": update_event_source_mapping,
    "DeleteEventSourceMapping": delete_event_source_mapping,
}
