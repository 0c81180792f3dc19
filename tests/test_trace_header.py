"""X-Ray: an ``X-Amzn-Trace-Id`` request header becomes the ``AWSTraceHeader`` message system
attribute (SendMessage, SendMessageBatch, and SNS Publish to SQS subscribers), as AWS does;
an explicit ``AWSTraceHeader`` in the request wins."""

from __future__ import annotations

import pytest
from server import make_client
from sns_helpers import sns_client

pytest_plugins = ["sns_helpers"]

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
OTHER = "Root=1-00000000-000000000000000000000000;Sampled=0"


def traced(client, trace: str = TRACE):
    """``client`` with the X-Ray header on every request (as the X-Ray SDK adds it)."""
    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = trace
    client.meta.events.register("before-sign", add)
    return client


def received_trace(sqs, url: str) -> str | None:
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2,
                                   AttributeNames=["AWSTraceHeader"]).get("Messages", [])
    assert len(messages) == 1, messages
    return messages[0].get("Attributes", {}).get("AWSTraceHeader")


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_send_message_takes_the_header(endpoint, _query_model, make_queue, protocol):
    sqs = traced(make_client(endpoint, protocol))
    url = make_queue(client=sqs)
    sent = sqs.send_message(QueueUrl=url, MessageBody="traced")
    # The request carried no system attributes, so there is nothing to checksum.
    assert "MD5OfMessageSystemAttributes" not in sent
    assert received_trace(make_client(endpoint, protocol), url) == TRACE


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_send_message_batch_takes_the_header(endpoint, _query_model, make_queue, protocol):
    sqs = traced(make_client(endpoint, protocol))
    url = make_queue(client=sqs)
    answer = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "two",
         "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": OTHER}}},
    ])
    assert len(answer["Successful"]) == 2
    plain = make_client(endpoint, protocol)
    got = plain.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                AttributeNames=["AWSTraceHeader"])["Messages"]
    traces = {m["Body"]: m["Attributes"]["AWSTraceHeader"] for m in got}
    assert traces == {"one": TRACE, "two": OTHER}


def test_explicit_attribute_wins(endpoint, make_queue):
    sqs = traced(make_client(endpoint, "json"))
    url = make_queue(client=sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes={
        "AWSTraceHeader": {"DataType": "String", "StringValue": OTHER}})
    assert received_trace(sqs, url) == OTHER


def test_no_header_no_attribute(endpoint, make_queue):
    sqs = make_client(endpoint, "json")
    url = make_queue(client=sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert received_trace(sqs, url) is None


@pytest.mark.parametrize("batch", [False, True], ids=["publish", "publish-batch"])
def test_sns_publish_forwards_the_header(endpoint, queues, make_topic, make_sqs_queue, subscribe_queue, batch):
    topic = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(topic, queue, raw=True)
    sns = traced(sns_client(endpoint))
    if batch:
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "hi"}])
    else:
        sns.publish(TopicArn=topic, Message="hi")
    assert received_trace(queues, queue.url) == TRACE
