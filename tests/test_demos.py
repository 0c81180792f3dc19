"""The event-driven demos users build first, end to end against a real server: queues
feeding functions through event source mappings, failures ending in dead-letter queues,
partial batch failures, a topic fanning out to a queue and a function, FIFO order.

Each function appends what it did to a file named by an environment variable (functions are
local processes), so the tests can see who processed what, in which order and in which
execution environment."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import client, create_function, receive_bodies, zip_code
from server import unique_name

RECORDER = """
import json, os
def record(**fields):
    with open(os.environ["RESULTS"], "a") as out:
        out.write(json.dumps(fields) + "\\n")
"""

PRODUCER = RECORDER + """
import boto3
def handler(event, context):
    sqs = boto3.client("sqs")
    entries = []
    for i in range(10):
        order = {"id": i, "address": None if i == 7 else f"{i} Main St"}
        entries.append({"Id": str(i), "MessageBody": json.dumps(order)})
    sqs.send_message_batch(QueueUrl=event["queue"], Entries=entries)
    return {"sent": 10}
"""

PROCESSOR = RECORDER + """
def handler(event, context):
    orders = [json.loads(r["body"]) for r in event["Records"]]
    if any(o["address"] is None for o in orders):
        raise ValueError("order without an address")
    for o in orders:
        record(fn="process", id=o["id"], stream=context.log_stream_name)
"""

BAD_ORDERS = RECORDER + """
def handler(event, context):
    for r in event["Records"]:
        record(fn="bad", id=json.loads(r["body"])["id"])
"""

POWERTOOLS_PROCESSOR = RECORDER + """
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
processor = BatchProcessor(event_type=EventType.SQS)
write = record  # powertools passes the SQS record as ``record=``
def order(record):
    o = json.loads(record.body)
    if o["address"] is None:
        raise ValueError("order without an address")
    write(fn="process", id=o["id"])
def handler(event, context):
    return process_partial_response(event=event, record_handler=order, processor=processor, context=context)
"""


def wait_for_lines(path: Path, predicate, timeout: float = 40.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    lines: list[dict] = []
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if predicate(lines):
            return lines
        time.sleep(0.2)
    return lines


@pytest.fixture(scope="module")
def clients(endpoint):
    return client(endpoint), client(endpoint, "sqs"), client(endpoint, "sns"), client(endpoint, "logs")


def arn_of(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_with_dlq(sqs, visibility: int = 3) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=unique_name("orders-dlq"))["QueueUrl"]
    url = sqs.create_queue(QueueName=unique_name("orders"), Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": "1"}),
    })["QueueUrl"]
    return url, dlq


def powertools_layer(lam) -> str:
    import aws_lambda_powertools

    package = Path(aws_lambda_powertools.__file__).parent
    files = {"python/aws_lambda_powertools/" + p.relative_to(package).as_posix(): p.read_bytes()
             for p in package.rglob("*.py")}
    return lam.publish_layer_version(LayerName=unique_name("pt"), Content={"ZipFile": zip_code(files)})[
        "LayerVersionArn"]


def test_a_failed_batch_ends_in_the_dead_letter_queue_and_its_consumer(clients, tmp_path):
    lam, sqs, _, logs = clients
    results = tmp_path / "results.jsonl"
    env = {"Variables": {"RESULTS": str(results)}}
    url, dlq = queue_with_dlq(sqs)
    producer = create_function(lam, {"app.py": PRODUCER}, Environment=env)
    processor = create_function(lam, {"app.py": PROCESSOR}, Environment=env, Timeout=3)
    bad = create_function(lam, {"app.py": BAD_ORDERS}, Environment=env)
    lam.create_event_source_mapping(
        FunctionName=processor, EventSourceArn=arn_of(sqs, url), BatchSize=5,
        MaximumBatchingWindowInSeconds=1, ScalingConfig={"MaximumConcurrency": 2},
    )
    lam.create_event_source_mapping(FunctionName=bad, EventSourceArn=arn_of(sqs, dlq), BatchSize=10)
    lam.invoke(FunctionName=producer, Payload=json.dumps({"queue": url}).encode())
    lines = wait_for_lines(results, lambda ls: {x["id"] for x in ls} == set(range(10)))
    processed = {x["id"] for x in lines if x["fn"] == "process"}
    dead = {x["id"] for x in lines if x["fn"] == "bad"}
    assert 7 in dead and 7 not in processed
    assert processed | dead == set(range(10)) and not processed & dead
    assert len(dead) <= 5  # only the failed batch's messages
    streams = {x["stream"] for x in lines if x["fn"] == "process"}
    group = f"/aws/lambda/{processor}"
    described = wait_for_lines_logs(logs, group, streams)
    assert streams <= described and 1 <= len(described) <= 2  # one stream per environment, at most 2


def wait_for_lines_logs(logs, group: str, streams: set[str], timeout: float = 10.0) -> set[str]:
    deadline = time.monotonic() + timeout
    names: set[str] = set()
    while time.monotonic() < deadline:
        try:
            names = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
        except ClientError:  # the group appears with the first log line
            names = set()
        if streams <= names:
            break
        time.sleep(0.2)
    return names


def test_b_partial_batch_failures_send_only_the_bad_order_to_the_dlq(clients, tmp_path):
    lam, sqs, _, _ = clients
    results = tmp_path / "results.jsonl"
    env = {"Variables": {"RESULTS": str(results)}}
    url, dlq = queue_with_dlq(sqs)
    processor = create_function(lam, {"app.py": POWERTOOLS_PROCESSOR}, Environment=env, Timeout=3,
                                Layers=[powertools_layer(lam)])
    lam.create_event_source_mapping(
        FunctionName=processor, EventSourceArn=arn_of(sqs, url), BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": json.dumps({"id": i, "address": None if i == 7 else "x"})} for i in range(10)
    ])
    lines = wait_for_lines(results, lambda ls: len({x["id"] for x in ls}) >= 9)
    assert {x["id"] for x in lines} == set(range(10)) - {7}
    [dead] = receive_bodies(sqs, dlq, 1, timeout=20)
    assert json.loads(dead["Body"])["id"] == 7
    assert receive_bodies(sqs, dlq, 1, timeout=2) == []


def test_c_topic_fans_out_to_a_queue_and_a_filtered_function(clients, tmp_path):
    lam, sqs, sns, _ = clients
    results = tmp_path / "results.jsonl"
    fn = create_function(lam, {"app.py": RECORDER + (
        "def handler(event, context):\n"
        "    for r in event['Records']:\n"
        "        record(fn='notify', message=r['Sns']['Message'], source=r['EventSource'])\n")},
        Environment={"Variables": {"RESULTS": str(results)}})
    topic = sns.create_topic(Name=unique_name("events"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique_name("all-events"))["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn_of(sqs, url), Attributes={"RawMessageDelivery": "true"})
    fn_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn,
                  Attributes={"FilterPolicy": json.dumps({"kind": ["urgent"]})})
    sns.publish(TopicArn=topic, Message="routine", MessageAttributes={"kind": {"DataType": "String", "StringValue": "routine"}})
    sns.publish(TopicArn=topic, Message="urgent!", MessageAttributes={"kind": {"DataType": "String", "StringValue": "urgent"}})
    assert sorted(m["Body"] for m in receive_bodies(sqs, url, 2)) == ["routine", "urgent!"]
    wait_for_lines(results, lambda ls: len(ls) >= 1)
    time.sleep(1)  # nothing else may arrive: the routine message is filtered out
    lines = wait_for_lines(results, lambda ls: len(ls) >= 1)
    assert lines == [{"fn": "notify", "message": "urgent!", "source": "aws:sns"}]


def test_d_fifo_groups_keep_their_order_under_concurrency(clients, tmp_path):
    lam, sqs, _, _ = clients
    results = tmp_path / "results.jsonl"
    fn = create_function(lam, {"app.py": RECORDER + (
        "import time\n"
        "def handler(event, context):\n"
        "    for r in event['Records']:\n"
        "        body = json.loads(r['body'])\n"
        "        record(group=r['attributes']['MessageGroupId'], seq=body['seq'])\n"
        "        time.sleep(0.01)\n")},
        Environment={"Variables": {"RESULTS": str(results)}})
    url = sqs.create_queue(QueueName=unique_name("orders") + ".fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "10"})["QueueUrl"]
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn_of(sqs, url), BatchSize=3,
                                    ScalingConfig={"MaximumConcurrency": 5})
    for seq in range(10):
        for group in ("a", "b", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"seq": seq, "g": group}), MessageGroupId=group)
    lines = wait_for_lines(results, lambda ls: len(ls) >= 30)
    assert len(lines) == 30
    for group in ("a", "b", "c"):
        assert [x["seq"] for x in lines if x["group"] == group] == list(range(10))
