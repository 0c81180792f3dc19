"""Queues and topics invoking real functions on a real server: SQS event source mappings
(success deletes, errors reach the DLQ, ReportBatchItemFailures, filters, the batching
window, FIFO group order, restarts) and SNS lambda subscriptions.

The handlers report what they saw by sending it to a results queue, so every assertion is
about what the function really received."""

from __future__ import annotations

import json
import time

import pytest
from lambda_helpers import client, create_function, receive_bodies
from server import unique_name, wait_until

pytestmark = pytest.mark.timeout(120)

# Reports every batch to the queue named by $OUT; fails on bodies starting with "bad"
# (all of the batch, or with MODE=partial only those, through batchItemFailures).
WORKER = """
import json, os
import boto3
sqs = boto3.client("sqs")
def handler(event, context):
    records = event["Records"]
    sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(
        {"bodies": [r["body"] for r in records], "records": records}))
    bad = [r["messageId"] for r in records if r.get("body", "").startswith("bad")]
    if os.environ.get("MODE") == "partial":
        return {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}
    if bad:
        raise ValueError("bad order")
    return {}
"""


@pytest.fixture(scope="module")
def lam(endpoint):
    return client(endpoint)


@pytest.fixture(scope="module")
def sqs(endpoint):
    return client(endpoint, "sqs")


def make_queue(sqs, *, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    name = unique_name("esm") + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def worker(lam, out_url: str, **env: str) -> str:
    return create_function(lam, {"app.py": WORKER}, Timeout=2,
                           Environment={"Variables": {"OUT": out_url, **env}})


def reports(sqs, out_url: str, expected: int, timeout: float = 30) -> list[dict]:
    return [json.loads(m["Body"]) for m in receive_bodies(sqs, out_url, expected, timeout)]


def wait_state(lam, uuid: str, state: str) -> dict:
    return wait_until(lambda: (m := lam.get_event_source_mapping(UUID=uuid))["State"] == state and m,
                      timeout=10)


def test_batch_success_deletes_and_a_failed_batch_reaches_the_dlq(lam, sqs):
    out_url, _ = make_queue(sqs)
    dlq_url, dlq_arn = make_queue(sqs)
    url, arn = make_queue(sqs, VisibilityTimeout="2", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    name = worker(lam, out_url)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"good{i}")
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10)
    assert created["State"] == "Creating"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    wait_state(lam, created["UUID"], "Enabled")
    [first] = reports(sqs, out_url, 1)
    assert sorted(first["bodies"]) == ["good0", "good1", "good2"]
    record = first["records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    # A batch holding a bad order fails as a whole: every message of it reaches the DLQ.
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "good-late"}, {"Id": "b", "MessageBody": "bad-order"}])
    dead = sorted(m["Body"] for m in receive_bodies(sqs, dlq_url, 2, timeout=30))
    got = reports(sqs, out_url, 1)
    assert got and "bad-order" in got[0]["bodies"]
    assert set(dead) <= {"good-late", "bad-order"} and "bad-order" in dead
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_report_batch_item_failures_sends_only_the_bad_one_to_the_dlq(lam, sqs):
    out_url, _ = make_queue(sqs)
    dlq_url, dlq_arn = make_queue(sqs)
    url, arn = make_queue(sqs, VisibilityTimeout="2", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    name = worker(lam, out_url, MODE="partial")
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": body} for i, body in enumerate(["ok1", "bad2", "ok3", "ok4"])])
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    dead = receive_bodies(sqs, dlq_url, 1, timeout=30)
    assert [m["Body"] for m in dead] == ["bad2"]
    time.sleep(0.5)
    assert receive_bodies(sqs, dlq_url, 1, timeout=1) == []
    seen = sorted(b for r in reports(sqs, out_url, 1) for b in r["bodies"])
    assert seen == ["bad2", "ok1", "ok3", "ok4"]


def test_filter_criteria_drop_without_invoking(lam, sqs):
    out_url, _ = make_queue(sqs)
    url, arn = make_queue(sqs)
    name = worker(lam, out_url)
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, BatchSize=1,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]})
    for body in ({"kind": "refund"}, {"kind": "order", "n": 1}, "not json"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body) if isinstance(body, dict) else body)
    got = reports(sqs, out_url, 1)
    assert [json.loads(b) for r in got for b in r["bodies"]] == [{"kind": "order", "n": 1}]
    wait_until(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0", timeout=10)
    assert reports(sqs, out_url, 1, timeout=1) == []


def test_batching_window_gathers_one_batch(lam, sqs):
    out_url, _ = make_queue(sqs)
    url, arn = make_queue(sqs)
    name = worker(lam, out_url)
    uuid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=100,
                                           MaximumBatchingWindowInSeconds=2)["UUID"]
    wait_state(lam, uuid, "Enabled")
    for start in range(0, 30, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])
        time.sleep(0.2)
    got = reports(sqs, out_url, 1)
    assert len(got) == 1 and len(got[0]["bodies"]) == 30


def test_fifo_three_groups_keep_their_order(lam, sqs):
    out_url, _ = make_queue(sqs)
    url, arn = make_queue(sqs, fifo=True, ContentBasedDeduplication="true", VisibilityTimeout="5")
    name = worker(lam, out_url)
    for n in range(6):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": g, "MessageBody": f"{g}:{n}", "MessageGroupId": g} for g in "abc"])
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=2,
                                    ScalingConfig={"MaximumConcurrency": 5})
    got = reports(sqs, out_url, 9)
    order: dict[str, list[int]] = {}
    for report in got:
        for record in report["records"]:
            group, n = record["body"].split(":")
            assert record["attributes"]["MessageGroupId"] == group
            order.setdefault(group, []).append(int(n))
    assert order == {g: list(range(6)) for g in "abc"}


def test_mapping_api_round_trip(lam, sqs):
    _, arn = make_queue(sqs)
    out_url, _ = make_queue(sqs)
    name = worker(lam, out_url)
    uuid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, Enabled=False)["UUID"]
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Disabled" and got["FunctionArn"].endswith(f":function:{name}")
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    wait_state(lam, uuid, "Enabled")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=uuid, BatchSize=50)
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    wait_until(lambda: not lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"],
               timeout=10)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=uuid)


SNS_WORKER = """
import json, os
import boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
"""


def test_topic_invokes_a_subscribed_function(lam, sqs, endpoint):
    sns = client(endpoint, "sns")
    out_url, _ = make_queue(sqs)
    name = create_function(lam, {"app.py": SNS_WORKER}, Environment={"Variables": {"OUT": out_url}})
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    message_id = sns.publish(TopicArn=topic, Message="hello", Subject="hi", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})["MessageId"]
    [got] = [json.loads(m["Body"]) for m in receive_bodies(sqs, out_url, 1, timeout=30)]
    [record] = got["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == sub
    assert record["Sns"]["MessageId"] == message_id and record["Sns"]["Message"] == "hello"
    assert record["Sns"]["Subject"] == "hi" and record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert record["Sns"]["SigningCertUrl"] and record["Sns"]["UnsubscribeUrl"]


def test_topic_to_a_missing_function_goes_to_the_subscription_dlq(sqs, endpoint):
    sns = client(endpoint, "sns")
    dlq_url, dlq_arn = make_queue(sqs)
    topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda",
                  Endpoint="arn:aws:lambda:us-east-1:000000000000:function:no-such-function",
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    sns.publish(TopicArn=topic, Message="nobody home")
    [dead] = receive_bodies(sqs, dlq_url, 1, timeout=20)
    assert json.loads(dead["Body"])["Message"] == "nobody home"


def test_mappings_survive_a_restart_and_kill_9(private_server):
    server = private_server()
    lam, sqs = client(server.endpoint), client(server.endpoint, "sqs")
    out_url, _ = make_queue(sqs)
    url, arn = make_queue(sqs, VisibilityTimeout="3")
    slow = WORKER.replace("records = event", "import time; time.sleep(float(os.environ.get('SLEEP', 0)))\n"
                                            "    records = event")
    name = create_function(lam, {"app.py": slow}, Timeout=3,
                           Environment={"Variables": {"OUT": out_url, "SLEEP": "1.5"}})
    uuid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)["UUID"]
    wait_state(lam, uuid, "Enabled")
    sqs.send_message(QueueUrl=url, MessageBody="mid-batch")
    # The handler is asleep with the message in flight: kill the server.
    wait_until(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessagesNotVisible"] == "1", timeout=10)
    server.kill()
    server.start()
    lam, sqs = client(server.endpoint), client(server.endpoint, "sqs")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    bodies = [b for r in reports(sqs, out_url, 1, timeout=30) for b in r["bodies"]]
    assert bodies == ["mid-batch"]
    wait_until(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessagesNotVisible"] == "0", timeout=15)
