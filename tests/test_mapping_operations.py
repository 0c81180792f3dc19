"""Create/Get/List/Update/DeleteEventSourceMapping in process: AWS's shapes, states and
validation messages (recorded AWS answers in LocalStack's snapshots and AWS's docs)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from pollers_harness import ACCOUNT, CTX, REGION, FakeFunctions, Harness, Info, eventually, run

from postroom.lambda_ import mappings
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model

pytestmark = pytest.mark.timeout(60)
MODEL = load_service_model("lambda")


async def ok(event):
    return None


class Functions(FakeFunctions):
    """Knows the functions ``worker`` (timeout 3 s) and ``slow`` (timeout 60 s)."""

    async def function(self, name: str, *, account: str, region: str, qualifier: str | None = None) -> Info:
        short = name.split(":")[-1]
        timeouts = {"worker": 3, "slow": 60}
        if short not in timeouts:
            raise MODEL.error("ResourceNotFoundException", f"Function not found: {name}")
        return Info(f"arn:aws:lambda:{region}:{account}:function:{short}", timeouts[short], None)


class Service:
    """The LambdaService surface the mapping operations use."""

    def __init__(self, h: Harness) -> None:
        self.model = MODEL
        self.store = SimpleNamespace(mappings=h.store.mappings)
        self.apis = h.apis
        self.api = h.functions
        self.pollers = h.pollers
        self.clock = h.clock

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        answer = await mappings.OPERATIONS[operation](self, params, CTX)
        assert answer is not None
        return answer


def scenario(body):
    async def main():
        async with Harness(Functions(ok)) as h:
            await body(h, Service(h))

    run(main())


async def expect(coro, code: str, message: str | None = None, status: int = 400) -> AWSError:
    with pytest.raises(AWSError) as caught:
        await coro
    assert caught.value.code == code, caught.value
    assert caught.value.status == status
    if message is not None:
        assert caught.value.message == message
    return caught.value


def test_create_answers_creating_then_enabled():
    async def body(h, svc):
        queue = await h.queue()
        created = await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue)
        uuid = created["UUID"]
        assert created == {
            "UUID": uuid, "BatchSize": 10, "MaximumBatchingWindowInSeconds": 0, "EventSourceArn": queue,
            "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker",
            "LastModified": created["LastModified"], "State": "Creating",
            "StateTransitionReason": "USER_INITIATED", "FunctionResponseTypes": [],
            "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}",
        }
        assert isinstance(created["LastModified"], float)
        got = await eventually(lambda: _state(svc, uuid, "Enabled"))
        assert got["UUID"] == uuid

    scenario(body)


async def _state(svc: Service, uuid: str, state: str) -> dict[str, Any] | None:
    got = await svc.call("GetEventSourceMapping", UUID=uuid)
    return got if got["State"] == state else None


def test_create_with_every_sqs_setting_and_disabled():
    async def body(h, svc):
        queue = await h.queue()
        pattern = json.dumps({"body": {"kind": ["order"]}})
        created = await svc.call(
            "CreateEventSourceMapping", FunctionName=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker",
            EventSourceArn=queue, BatchSize=100, MaximumBatchingWindowInSeconds=5, Enabled=False,
            FilterCriteria={"Filters": [{"Pattern": pattern}]}, ScalingConfig={"MaximumConcurrency": 2},
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        assert created["State"] == "Disabled"
        assert created["BatchSize"] == 100 and created["MaximumBatchingWindowInSeconds"] == 5
        assert created["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
        assert created["ScalingConfig"] == {"MaximumConcurrency": 2}
        assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert not h.pollers.pollers

    scenario(body)


@pytest.mark.parametrize("params,code,message", [
    ({"BatchSize": 0}, "ValidationException",
     "1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: "
     "Member must have value greater than or equal to 1"),
    ({"BatchSize": 10_001, "MaximumBatchingWindowInSeconds": 1}, "ValidationException",
     "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: "
     "Member must have value less than or equal to 10000"),
    ({"MaximumBatchingWindowInSeconds": 301}, "ValidationException", None),
    ({"ScalingConfig": {"MaximumConcurrency": 1}}, "ValidationException",
     "1 validation error detected: Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy "
     "constraint: Member must have value greater than or equal to 2"),
    ({"ScalingConfig": {"MaximumConcurrency": 1001}}, "ValidationException", None),
    ({"FunctionResponseTypes": ["Everything"]}, "ValidationException", None),
    ({"BatchSize": 11}, "InvalidParameterValueException",
     "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
    ({"FilterCriteria": {"Filters": [{"Pattern": "simple string"}]}}, "InvalidParameterValueException",
     "Invalid filter pattern definition."),
    ({"FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": "x"})}]}},
     "InvalidParameterValueException", "Invalid filter pattern definition."),
    ({"FilterCriteria": {"Filters": [{"Pattern": "{}"}] * 6}}, "InvalidParameterValueException", None),
    ({"StartingPosition": "LATEST"}, "InvalidParameterValueException", None),
])
def test_create_validation(params, code, message):
    async def body(h, svc):
        queue = await h.queue()
        await expect(
            svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue, **params),
            code, message,
        )
        assert not h.store.mappings.mappings

    scenario(body)


def test_fifo_rules():
    async def body(h, svc):
        queue = await h.queue(fifo=True)
        await expect(
            svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue,
                     MaximumBatchingWindowInSeconds=1),
            "InvalidParameterValueException", "Batching window is not supported for FIFO queues",
        )
        await expect(
            svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue, BatchSize=11),
            "InvalidParameterValueException", "Maximum batch size must be between 1 and 10 inclusive",
        )
        created = await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue,
                                 BatchSize=10)
        assert created["BatchSize"] == 10

    scenario(body)


def test_queue_and_function_must_exist_and_fit():
    async def body(h, svc):
        queue = await h.queue(visibility=30)
        await expect(
            svc.call("CreateEventSourceMapping", FunctionName="nobody", EventSourceArn=queue),
            "ResourceNotFoundException", status=404,
        )
        await expect(
            svc.call("CreateEventSourceMapping", FunctionName="worker",
                     EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue"),
            "InvalidParameterValueException",
            "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist or you do not have access to it.",
        )
        await expect(
            svc.call("CreateEventSourceMapping", FunctionName="slow", EventSourceArn=queue),
            "InvalidParameterValueException",
            "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds",
        )

    scenario(body)


def test_one_mapping_per_queue_and_function():
    async def body(h, svc):
        queue = await h.queue()
        first = await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue)
        error = await expect(
            svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue),
            "ResourceConflictException", status=409,
        )
        assert error.message == (
            f'An event source mapping with SQS arn (" {queue} ") and function (" worker ") already exists. '
            f"Please update or delete the existing mapping with UUID {first['UUID']}"
        )

    scenario(body)


def test_update_states_and_validation():
    async def body(h, svc):
        queue = await h.queue()
        uuid = (await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue))["UUID"]
        await eventually(lambda: _state(svc, uuid, "Enabled"))
        updated = await svc.call("UpdateEventSourceMapping", UUID=uuid, BatchSize=5)
        assert updated["State"] == "Updating" and updated["BatchSize"] == 5
        await eventually(lambda: _state(svc, uuid, "Enabled"))
        await expect(
            svc.call("UpdateEventSourceMapping", UUID=uuid, BatchSize=20),
            "InvalidParameterValueException",
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        )
        assert (await svc.call("UpdateEventSourceMapping", UUID=uuid, Enabled=False))["State"] == "Disabling"
        await eventually(lambda: _state(svc, uuid, "Disabled"))
        assert not h.pollers.pollers
        enabling = await svc.call("UpdateEventSourceMapping", UUID=uuid, Enabled=True,
                                  FilterCriteria={"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]})
        assert enabling["State"] == "Enabling" and enabling["FilterCriteria"]["Filters"]
        await eventually(lambda: _state(svc, uuid, "Enabled"))
        cleared = await svc.call("UpdateEventSourceMapping", UUID=uuid, FilterCriteria={})
        assert "FilterCriteria" not in cleared
        await expect(svc.call("UpdateEventSourceMapping", UUID="nope", BatchSize=1),
                     "ResourceNotFoundException", "The resource you requested does not exist.", 404)

    scenario(body)


def test_delete_then_gone():
    async def body(h, svc):
        queue = await h.queue()
        uuid = (await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue))["UUID"]
        deleted = await svc.call("DeleteEventSourceMapping", UUID=uuid)
        assert deleted["State"] == "Deleting"
        await eventually(lambda: uuid not in h.store.mappings.mappings)
        await expect(svc.call("GetEventSourceMapping", UUID=uuid), "ResourceNotFoundException", status=404)
        await expect(svc.call("DeleteEventSourceMapping", UUID=uuid), "ResourceNotFoundException", status=404)
        # The pair is free again.
        await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue)

    scenario(body)


def test_list_filters_and_pages():
    async def body(h, svc):
        queues = [await h.queue() for _ in range(3)]
        uuids = [
            (await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=q))["UUID"]
            for q in queues
        ]
        listed = await svc.call("ListEventSourceMappings")
        assert sorted(m["UUID"] for m in listed["EventSourceMappings"]) == sorted(uuids)
        assert "NextMarker" not in listed
        by_queue = await svc.call("ListEventSourceMappings", EventSourceArn=queues[1])
        assert [m["UUID"] for m in by_queue["EventSourceMappings"]] == [uuids[1]]
        by_function = await svc.call("ListEventSourceMappings", FunctionName="worker")
        assert len(by_function["EventSourceMappings"]) == 3
        seen, marker = [], None
        while True:
            page = await svc.call("ListEventSourceMappings", MaxItems=2, **({"Marker": marker} if marker else {}))
            seen += [m["UUID"] for m in page["EventSourceMappings"]]
            marker = page.get("NextMarker")
            if not marker:
                break
        assert sorted(seen) == sorted(uuids) and len(seen) == 3

    scenario(body)


@pytest.mark.parametrize("name,expected", [
    ("worker", ("worker", None)),
    ("worker:live", ("worker", "live")),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker", (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker", None)),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker:3", (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker", "3")),
    (f"{ACCOUNT}:function:worker:live", (f"{ACCOUNT}:function:worker", "live")),
])
def test_function_names(name, expected):
    assert mappings.split_function_name(name) == expected


def test_update_to_a_function_already_mapped_conflicts():
    async def body(h, svc):
        queue = await h.queue(visibility=60)
        await svc.call("CreateEventSourceMapping", FunctionName="worker", EventSourceArn=queue)
        other = await svc.call("CreateEventSourceMapping", FunctionName="slow", EventSourceArn=queue)
        await expect(svc.call("UpdateEventSourceMapping", UUID=other["UUID"], FunctionName="worker"),
                     "ResourceConflictException", status=409)
        same = await svc.call("UpdateEventSourceMapping", UUID=other["UUID"], FunctionName="slow")
        assert same["FunctionArn"].endswith(":function:slow")

    scenario(body)
