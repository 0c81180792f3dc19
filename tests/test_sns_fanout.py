"""SNS fan-out to SQS: envelope and raw delivery, filtering, FIFO topics, and a crash
between publish and HTTP delivery."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from server import receive_all, unique_name, wait_until
from sns_helpers import verify_signature
from test_sns_http_delivery import Webhook


def _clients(endpoint):
    kw = {"endpoint_url": endpoint, "region_name": "us-east-1",
          "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("sns", **kw), boto3.client("sqs", **kw)


@pytest.fixture
def clients(endpoint):
    return _clients(endpoint)


def _queue(sqs, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_fan_out_envelope_raw_and_filter(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name=unique_name("fan"))["TopicArn"]
    (env_url, env_arn), (raw_url, raw_arn), (rugby_url, rugby_arn) = (
        _queue(sqs, unique_name(n)) for n in ("env", "raw", "rugby")
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=rugby_arn,
                  Attributes={"FilterPolicy": json.dumps({"sport": ["rugby"]})})
    attributes = {
        "sport": {"DataType": "String", "StringValue": "rugby"},
        "score": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    message_id = sns.publish(TopicArn=topic, Message="try!", Subject="match",
                             MessageAttributes=attributes)["MessageId"]
    sns.publish(TopicArn=topic, Message="hole in one",
                MessageAttributes={"sport": {"DataType": "String", "StringValue": "golf"}})

    envelopes = [json.loads(m["Body"]) for m in receive_all(sqs, env_url, 2)]
    first = next(e for e in envelopes if e["MessageId"] == message_id)
    assert (first["Type"], first["TopicArn"], first["Subject"], first["Message"]) == (
        "Notification", topic, "match", "try!")
    assert first["MessageAttributes"]["sport"] == {"Type": "String", "Value": "rugby"}
    assert first["MessageAttributes"]["score"] == {"Type": "Number", "Value": "3"}
    assert first["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": "AAE="}
    assert first["UnsubscribeURL"].startswith("http")
    verify_signature(first)

    raw = receive_all(sqs, raw_url, 2, MessageAttributeNames=["All"])
    by_body = {m["Body"]: m for m in raw}
    assert set(by_body) == {"try!", "hole in one"}
    assert by_body["try!"]["MessageAttributes"]["sport"] == {"DataType": "String", "StringValue": "rugby"}
    assert by_body["try!"]["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"

    rugby = receive_all(sqs, rugby_url, 1)
    assert [json.loads(m["Body"])["Message"] for m in rugby] == ["try!"]
    time.sleep(0.5)
    assert "Messages" not in sqs.receive_message(QueueUrl=rugby_url, WaitTimeSeconds=1)


def test_fifo_topic_to_fifo_queues_keeps_group_order_and_deduplicates(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name=unique_name("ft") + ".fifo",
                             Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    url, arn = _queue(sqs, unique_name("fq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    for i in range(1, 5):
        sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g")
    again = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]
    assert int(first["SequenceNumber"]) > 0
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in got] == ["m0", "m1", "m2", "m3", "m4"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}


def test_acknowledged_publish_survives_kill_9_before_http_delivery(private_server, tmp_path):
    """The SQS copy commits with the publish; the HTTP copy waits in the outbox and is
    delivered after a kill -9 and restart."""
    data = tmp_path / "sns-data"
    server = private_server(data_dir=data)
    sns, sqs = _clients(server.endpoint)
    hook = Webhook()
    hook.codes = [500] * 1000  # the endpoint is "down" until after the crash
    topic = sns.create_topic(Name="crash")["TopicArn"]
    url, arn = _queue(sqs, "copies")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    slow = {"healthyRetryPolicy": {
        "numRetries": 20, "minDelayTarget": 1, "maxDelayTarget": 1, "numNoDelayRetries": 0,
        "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "linear"}}
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url, ReturnSubscriptionArn=True,
                        Attributes={"DeliveryPolicy": json.dumps(slow)})["SubscriptionArn"]
    hook.wait_for(1)
    confirmation = hook.requests[0][1]
    sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
    ids = [sns.publish(TopicArn=topic, Message=f"p{i}")["MessageId"] for i in range(20)]
    server.kill()
    hook.codes = []  # the endpoint recovers
    hook.requests.clear()
    server = private_server(data_dir=data, port=server.port)
    sns, sqs = _clients(server.endpoint)
    bodies = sorted(m["Body"] for m in receive_all(sqs, url, 20))
    assert bodies == sorted(f"p{i}" for i in range(20))
    # Wait for every id, not for 20 requests: attempts the hook accepted before the kill may
    # still be answered (and recorded) after it, so the count alone can be reached early.
    def delivered() -> set[str]:
        return {doc["MessageId"] for _, doc in list(hook.requests) if doc.get("Type") == "Notification"}

    wait_until(lambda: delivered() >= set(ids), timeout=30)
    assert delivered() == set(ids)
    assert sub in {s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
