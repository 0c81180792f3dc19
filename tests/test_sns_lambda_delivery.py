"""SNS to Lambda in process: a publish hands the function the SNS event through
``invoke_async`` (from the durable outbox), retries server-side errors and sends copies
for deleted functions to the subscription's DLQ."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest
from pollers_harness import ACCOUNT, CTX, REGION, FakeFunctions, Harness, eventually, run

from postroom.protocol.errors import AWSError
from postroom.sns.service import SnsService

pytestmark = pytest.mark.timeout(60)
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:notify"


class AsyncFunctions:
    """LambdaApi.invoke_async: records events; ``errors`` are raised first, in order."""

    def __init__(self, errors: list[AWSError] | None = None) -> None:
        self.errors = list(errors or [])
        self.events: list[tuple[str, dict[str, Any], str, str]] = []
        self.attempts = 0

    async def invoke_async(self, function: str, payload: bytes, *, account: str, region: str) -> str:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        self.events.append((function, json.loads(payload), account, region))
        return "request-id"


def scenario(functions: AsyncFunctions, body):
    async def main():
        async with Harness(FakeFunctions(lambda e: asyncio.sleep(0))) as h:
            apis = SimpleNamespace(sqs=h.sqs.api, lambda_=functions)
            sns = SnsService(h.store.topics, h.sqs.api, h.clock, None, mobile=h.store.sns_mobile, apis=apis)
            await sns.start()
            try:
                await body(h, sns)
            finally:
                await sns.stop()

    run(main())


async def topic_with_function(sns: SnsService, **attributes: str) -> tuple[str, str]:
    topic = (await sns.call("CreateTopic", {"Name": "t"}, CTX))["TopicArn"]
    params: dict[str, Any] = {"TopicArn": topic, "Protocol": "lambda", "Endpoint": FUNCTION}
    if attributes:
        params["Attributes"] = attributes
    sub = (await sns.call("Subscribe", params, CTX))["SubscriptionArn"]
    return topic, sub


def test_publish_invokes_the_function_with_the_sns_event():
    functions = AsyncFunctions()

    async def body(h, sns):
        topic, sub = await topic_with_function(sns)
        message_id = (await sns.call("Publish", {
            "TopicArn": topic, "Message": "hello", "Subject": "greeting",
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "a"}},
        }, CTX))["MessageId"]
        await eventually(lambda: functions.events)
        function, event, account, region = functions.events[0]
        assert (function, account, region) == (FUNCTION, ACCOUNT, REGION)
        [record] = event["Records"]
        assert list(record) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
        assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
        assert record["EventSubscriptionArn"] == sub
        sns_part = record["Sns"]
        assert list(sns_part) == [
            "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
            "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes",
        ]
        assert sns_part["Type"] == "Notification" and sns_part["MessageId"] == message_id
        assert sns_part["TopicArn"] == topic and sns_part["Message"] == "hello"
        assert sns_part["Subject"] == "greeting"
        assert sns_part["MessageAttributes"] == {"kind": {"Type": "String", "Value": "a"}}
        assert unquote(sns_part["UnsubscribeUrl"]).endswith(f"Action=Unsubscribe&SubscriptionArn={sub}")
        assert sns_part["Timestamp"].endswith("Z") and sns_part["Signature"]
        # Without a subject or attributes AWS writes null and {}.
        await sns.call("Publish", {"TopicArn": topic, "Message": "bare"}, CTX)
        await eventually(lambda: len(functions.events) == 2)
        bare = functions.events[1][1]["Records"][0]["Sns"]
        assert bare["Subject"] is None and bare["MessageAttributes"] == {}
        assert await h.store.topics.next_outbox_due() is None  # handed over: outbox empty

    scenario(functions, body)


def test_filter_policy_and_message_structure_apply():
    functions = AsyncFunctions()

    async def body(h, sns):
        topic, _ = await topic_with_function(sns, FilterPolicy=json.dumps({"kind": ["keep"]}))
        for kind in ("drop", "keep"):
            await sns.call("Publish", {
                "TopicArn": topic, "MessageStructure": "json",
                "Message": json.dumps({"default": f"d-{kind}", "lambda": f"fn-{kind}"}),
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": kind}},
            }, CTX)
        await eventually(lambda: functions.events)
        await asyncio.sleep(0.1)
        assert [e["Records"][0]["Sns"]["Message"] for _, e, _, _ in functions.events] == ["fn-keep"]

    scenario(functions, body)


def test_server_errors_are_retried():
    throttled = AWSError("TooManyRequestsException", "Rate Exceeded.", status=429)
    functions = AsyncFunctions([throttled, throttled])

    async def body(h, sns):
        topic, _ = await topic_with_function(sns)
        await sns.call("Publish", {"TopicArn": topic, "Message": "again"}, CTX)
        await eventually(lambda: functions.events)
        assert functions.attempts == 3  # the first three retries come without delay

    scenario(functions, body)


def test_a_deleted_function_sends_the_copy_to_the_dlq():
    missing = AWSError("ResourceNotFoundException", f"Function not found: {FUNCTION}", status=404)
    functions = AsyncFunctions([missing])

    async def body(h, sns):
        dlq = await h.queue()
        topic, _ = await topic_with_function(sns, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq}))
        message_id = (await sns.call("Publish", {"TopicArn": topic, "Message": "lost"}, CTX))["MessageId"]
        [copy] = await h.drain(dlq, 1)
        envelope = json.loads(copy)
        assert envelope["Message"] == "lost" and envelope["MessageId"] == message_id
        assert functions.attempts == 1  # a client-side error is not retried
        assert functions.events == []

    scenario(functions, body)
