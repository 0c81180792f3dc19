"""SQS event source mapping pollers, in process: real queues (in-memory SQLite), a fake
function API. What AWS's "Using Lambda with Amazon SQS" promises: the event record, deletes
on success, retries through visibility and the DLQ, ReportBatchItemFailures, filters,
batching windows, MaximumConcurrency, FIFO order and throttling."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json

import pytest
from pollers_harness import (
    FUNCTION_ARN,
    REGION,
    Fail,
    FakeFunctions,
    Harness,
    Throttle,
    eventually,
    run,
)

from postroom.pollers import sqs as poller_module
from postroom.storage import mappings as states

pytestmark = pytest.mark.timeout(90)


async def ok(event):
    return None


def test_success_deletes_the_batch_and_the_event_is_awss():
    async def body():
        functions = FakeFunctions(ok)
        async with Harness(functions) as h:
            queue = await h.queue()
            attributes = {
                "Author": {"DataType": "String", "StringValue": "John"},
                "Raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            }
            message_id = await h.send(queue, '{"n": 1}', attributes=attributes)
            await h.map(queue)
            await eventually(lambda: functions.events)
            [record] = functions.events[0]["Records"]
            assert list(record) == [
                "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                "md5OfMessageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
            ]
            assert record["messageId"] == message_id
            assert record["body"] == '{"n": 1}'
            assert record["md5OfBody"] == hashlib.md5(b'{"n": 1}').hexdigest()
            assert record["eventSource"] == "aws:sqs"
            assert record["eventSourceARN"] == queue
            assert record["awsRegion"] == REGION
            assert list(record["attributes"]) == [
                "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
            ]
            assert record["attributes"]["ApproximateReceiveCount"] == "1"
            assert record["messageAttributes"] == {
                "Author": {"stringValue": "John", "stringListValues": [], "binaryListValues": [],
                           "dataType": "String"},
                "Raw": {"binaryValue": base64.b64encode(b"\x00\x01").decode(), "stringListValues": [],
                        "binaryListValues": [], "dataType": "Binary"},
            }
            assert len(record["md5OfMessageAttributes"]) == 32
            await eventually(lambda: _empty(h, queue))
            await asyncio.sleep(0.2)
            assert len(functions.events) == 1  # deleted: never delivered again

    run(body())


async def _empty(h: Harness, queue: str) -> bool:
    return await h.depth(queue) == (0, 0)


def test_error_leaves_the_batch_until_the_dlq_takes_it():
    async def body():
        calls = []

        async def failing(event):
            calls.append(event)
            raise Fail("boom")

        functions = FakeFunctions(failing, timeout_s=1)
        async with Harness(functions) as h:
            dlq = await h.queue()
            queue = await h.queue(visibility=1, dlq=dlq, max_receives=1)
            for i in range(3):
                await h.send(queue, f"m{i}")
            await h.map(queue)
            await eventually(lambda: calls)
            assert await h.depth(queue) == (0, 3)  # in flight, not deleted
            assert sorted(await h.drain(dlq, 3)) == ["m0", "m1", "m2"]
            assert sum(len(e["Records"]) for e in calls) == 3  # one receive each before the DLQ

    run(body())


def test_report_batch_item_failures_keeps_only_the_reported():
    async def body():
        seen: list[list[str]] = []

        async def partial(event):
            seen.append([r["body"] for r in event["Records"]])
            return {"batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]}

        functions = FakeFunctions(partial, timeout_s=1)
        async with Harness(functions) as h:
            dlq = await h.queue()
            queue = await h.queue(visibility=1, dlq=dlq, max_receives=1)
            for text in ("good1", "bad", "good2"):
                await h.send(queue, text)
            await h.map(queue, batch_size=10, response_types=["ReportBatchItemFailures"])
            assert await h.drain(dlq, 1) == ["bad"]
            assert sorted(b for batch in seen for b in batch) == ["bad", "good1", "good2"]
            assert await h.depth(queue) == (0, 0)

    run(body())


@pytest.mark.parametrize("answer,kept", [
    (b"not json", 2),
    ({"batchItemFailures": [{"itemIdentifier": "no-such-id"}]}, 2),
    ({"batchItemFailures": [{"foo": "notvalid"}]}, 2),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, 2),
    ({"batchItemFailures": []}, 0),
    ({"batchItemFailures": None}, 0),
    ({}, 0),
    (None, 0),
])
def test_malformed_item_failures_fail_the_whole_batch(answer, kept):
    async def body():
        async def handler(event):
            return answer

        functions = FakeFunctions(handler)
        async with Harness(functions) as h:
            queue = await h.queue()
            await h.send(queue, "a")
            await h.send(queue, "b")
            await h.map(queue, batch_size=10, response_types=["ReportBatchItemFailures"])
            await eventually(lambda: functions.events)
            await asyncio.sleep(0.1)
            assert await h.depth(queue) == (0, kept)

    run(body())


def test_filter_criteria_drop_messages_without_invoking():
    async def body():
        functions = FakeFunctions(ok)
        async with Harness(functions) as h:
            queue = await h.queue()
            patterns = [json.dumps({"body": {"kind": ["order"]}}), json.dumps({"body": ["plain text"]})]
            await h.map(queue, batch_size=1, filters=patterns)
            for text in ('{"kind": "order", "n": 1}', '{"kind": "refund"}', "plain text", "other text",
                         '{"kind": "order", "n": 2}'):
                await h.send(queue, text)
            await eventually(lambda: _empty(h, queue))
            await asyncio.sleep(0.1)
            assert sorted(functions.bodies()) == sorted(['{"kind": "order", "n": 1}', "plain text",
                                                         '{"kind": "order", "n": 2}'])

    run(body())


def test_batching_window_gathers_a_bigger_batch():
    async def body():
        functions = FakeFunctions(ok)
        async with Harness(functions) as h:
            queue = await h.queue()
            await h.map(queue, batch_size=50, window=1)
            await asyncio.sleep(0.1)
            for i in range(25):
                await h.send(queue, f"m{i}")
                await asyncio.sleep(0.01)
            await eventually(lambda: functions.events)
            await eventually(lambda: _empty(h, queue))
            assert [len(e["Records"]) for e in functions.events] == [25]

    run(body())


def test_full_batch_ends_the_window_early():
    async def body():
        functions = FakeFunctions(ok)
        async with Harness(functions) as h:
            queue = await h.queue()
            for i in range(20):
                await h.send(queue, f"m{i}")
            started = asyncio.get_running_loop().time()
            await h.map(queue, batch_size=20, window=30)
            await eventually(lambda: functions.events, timeout=5)
            assert asyncio.get_running_loop().time() - started < 5
            assert len(functions.events[0]["Records"]) == 20

    run(body())


@pytest.mark.parametrize("maximum,reserved,cap", [(2, None, 2), (None, 3, 3), (None, None, None)])
def test_concurrency_is_capped_and_scales_up(maximum, reserved, cap):
    async def body():
        async def slow(event):
            await asyncio.sleep(0.15)

        functions = FakeFunctions(slow, reserved=reserved)
        async with Harness(functions) as h:
            queue = await h.queue()
            for i in range(30):
                await h.send(queue, f"m{i}")
            await h.map(queue, batch_size=1, maximum_concurrency=maximum)
            await eventually(lambda: _empty(h, queue), timeout=20)
            if cap is not None:
                assert functions.max_active == cap  # got there, never more
            else:
                assert functions.max_active > 5  # scaled up past the five it starts with

    run(body())


def test_one_slow_mapping_never_delays_another():
    async def body():
        release = asyncio.Event()

        async def handler(event):
            if event["Records"][0]["body"].startswith("slow"):
                await release.wait()

        functions = FakeFunctions(handler)
        async with Harness(functions) as h:
            slow_queue, fast_queue = await h.queue(), await h.queue()
            await h.map(slow_queue, batch_size=1, maximum_concurrency=2)
            await h.map(fast_queue, batch_size=1, maximum_concurrency=2)
            for i in range(4):
                await h.send(slow_queue, f"slow{i}")
            for i in range(5):
                await h.send(fast_queue, f"fast{i}")
            await eventually(lambda: _empty(h, fast_queue))
            release.set()

    run(body())


def test_fifo_keeps_group_order_and_never_runs_a_group_twice_at_once():
    async def body():
        running: set[str] = set()
        order: dict[str, list[int]] = {}
        failed_once: set[str] = set()

        async def handler(event):
            groups = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
            assert not groups & running, "two batches of one group at once"
            running.update(groups)
            try:
                await asyncio.sleep(0.02)
                for record in event["Records"]:
                    group, n = record["body"].split(":")
                    if group == "b" and n == "3" and group not in failed_once:
                        failed_once.add(group)
                        raise Fail("b3 fails once")
                for record in event["Records"]:
                    group, n = record["body"].split(":")
                    order.setdefault(group, []).append(int(n))
            finally:
                running.difference_update(groups)

        functions = FakeFunctions(handler, timeout_s=1)
        async with Harness(functions) as h:
            queue = await h.queue(fifo=True, visibility=1)
            for n in range(8):
                for group in "abc":
                    await h.send(queue, f"{group}:{n}", group=group)
            await h.map(queue, batch_size=2, maximum_concurrency=5)
            await eventually(lambda: _empty(h, queue), timeout=20)
            assert order == {g: list(range(8)) for g in "abc"}
            assert failed_once == {"b"}

    run(body())


def test_fifo_partial_failure_keeps_the_rest_of_its_group():
    async def body():
        batches: list[list[str]] = []

        async def handler(event):
            batches.append([r["body"] for r in event["Records"]])
            if len(batches) == 1:  # report the second message; the third must not be deleted
                return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
            return {"batchItemFailures": []}

        functions = FakeFunctions(handler, timeout_s=1)
        async with Harness(functions) as h:
            queue = await h.queue(fifo=True, visibility=1)
            for n in range(3):
                await h.send(queue, f"g:{n}", group="g")
            await h.map(queue, batch_size=10, response_types=["ReportBatchItemFailures"])
            await eventually(lambda: _empty(h, queue), timeout=10)
            assert batches == [["g:0", "g:1", "g:2"], ["g:1", "g:2"]]

    run(body())


def test_throttled_batches_come_back_soon():
    async def body():
        throttled = []

        async def handler(event):
            if len(throttled) < 2:
                throttled.append(event)
                raise Throttle()

        functions = FakeFunctions(handler)
        async with Harness(functions) as h:
            queue = await h.queue(visibility=30)  # far longer than the test: released early
            await h.send(queue, "m")
            await h.map(queue, batch_size=1)
            await eventually(lambda: functions.events, timeout=5)
            assert functions.bodies() == ["m"]
            assert functions.events[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "3"

    run(body())


def test_missing_function_leaves_the_queue_alone(monkeypatch):
    monkeypatch.setattr(poller_module, "UNAVAILABLE_WAIT_S", 0.05)
    monkeypatch.setattr(poller_module, "FUNCTION_INFO_TTL_MS", 0)

    async def body():
        functions = FakeFunctions(ok, missing=True)
        async with Harness(functions) as h:
            queue = await h.queue()
            await h.send(queue, "m")
            await h.map(queue)
            await asyncio.sleep(0.3)
            assert await h.depth(queue) == (1, 0)  # never received
            functions.missing = False
            await eventually(lambda: functions.events)

    run(body())


def test_states_settle_and_disable_stops_polling():
    async def body():
        functions = FakeFunctions(ok)
        async with Harness(functions) as h:
            queue = await h.queue()
            mapping = await h.map(queue)
            await eventually(lambda: h.store.mappings.mappings[mapping.uuid].state == states.ENABLED)
            assert mapping.uuid in h.pollers.pollers
            # Saves are conditional on the revision read: change a copy of the stored record.
            mapping = dataclasses.replace(h.store.mappings.mappings[mapping.uuid], enabled=False,
                                          state=states.DISABLING)
            await h.store.mappings.save(mapping)
            h.pollers.refresh(mapping)
            await eventually(lambda: h.store.mappings.mappings[mapping.uuid].state == states.DISABLED)
            assert mapping.uuid not in h.pollers.pollers
            await h.send(queue, "m")
            await asyncio.sleep(0.3)
            assert functions.events == []
            mapping = dataclasses.replace(h.store.mappings.mappings[mapping.uuid], state=states.DELETING)
            await h.store.mappings.save(mapping)
            h.pollers.refresh(mapping)
            await eventually(lambda: mapping.uuid not in h.store.mappings.mappings)

    run(body())


def test_a_restart_resumes_stored_mappings(tmp_path):
    async def body():
        functions = FakeFunctions(ok)
        from postroom.pollers.sqs import MappingPollers
        from postroom.storage.sqlite import SqliteStore

        async with Harness(functions) as h:
            queue = await h.queue()
            mapping = await h.map(queue)
            await eventually(lambda: mapping.uuid in h.pollers.pollers)
            await h.pollers.stop()
            await h.send(queue, "after restart")
            # A new manager over the same store (as after a restart) picks the mapping up.
            h.pollers = MappingPollers(h.store.mappings, h.apis, h.clock)
            await h.pollers.start()
            await eventually(lambda: functions.events)
            assert functions.bodies() == ["after restart"]
        store = SqliteStore(tmp_path)
        await store.start()
        mapping = dataclasses.replace(mapping, state=states.UPDATING, revision=0)  # new to this store
        await store.mappings.save(mapping)
        await store.close()
        reopened = SqliteStore(tmp_path)
        await reopened.start()
        assert reopened.mappings.mappings[mapping.uuid] == mapping
        await reopened.close()

    run(body())


def test_function_arn_reaches_the_invocation():
    async def body():
        seen = []

        class Recording(FakeFunctions):
            async def invoke(self, function, payload, *, account, region):
                seen.append((function, account, region))
                return await super().invoke(function, payload, account=account, region=region)

        functions = Recording(ok)
        async with Harness(functions) as h:
            queue = await h.queue()
            await h.send(queue, "m")
            await h.map(queue)
            await eventually(lambda: seen)
            assert seen[0] == (FUNCTION_ARN, "000000000000", REGION)

    run(body())


def test_no_spinning_when_long_polls_end_early():
    async def body():
        async with Harness(FakeFunctions(ok)) as h:
            queue = await h.queue()
            calls = 0
            receive = h.sqs.api.receive

            async def counting(*args, **kwargs):
                nonlocal calls
                calls += 1
                return await receive(*args, **kwargs)

            h.sqs.api.receive = counting  # type: ignore[method-assign]
            await h.map(queue)
            await eventually(lambda: calls)
            h.sqs.begin_shutdown()  # from now on every long poll answers at once, empty
            await asyncio.sleep(1.2)
            assert calls <= 5

    run(body())
