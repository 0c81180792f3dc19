"""/metrics: Prometheus text built from the services' counters, with bounded label sets."""

from __future__ import annotations

import json
import urllib.request

import pytest
from lambda_helpers import client as lambda_client
from lambda_helpers import create_function
from prometheus_client.parser import text_string_to_metric_families
from server import make_client, unique_name


def scrape(endpoint: str) -> dict[str, dict[tuple, float]]:
    """Samples by name: {sample name: {sorted label items: value}}."""
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/plain")
        text = resp.read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def queue_labels(name: str) -> tuple:
    return (("account", "000000000000"), ("queue", name), ("region", "us-east-1"))


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory):
    from server import ServerProcess

    proc = ServerProcess(tmp_path_factory.mktemp("metrics"), in_memory=True).start()
    yield proc
    proc.stop()


def test_queue_depth_and_activity(metrics_server):
    endpoint = metrics_server.endpoint
    sqs = make_client(endpoint, "json")
    dlq_name, name = unique_name("dlq"), unique_name("work")
    dlq = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}),
    })["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(4)])
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=0)["Messages"]
    assert len(got) == 3
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    # The two released messages were received once already: this receive moves them to the DLQ.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]

    m = scrape(endpoint)
    labels = queue_labels(name)
    assert m["postroom_sqs_messages_sent_total"][labels] == 5
    assert m["postroom_sqs_messages_received_total"][labels] == 3 + len(again)
    assert m["postroom_sqs_messages_deleted_total"][labels] == 1
    assert m["postroom_sqs_messages_moved_to_dlq_total"][labels] == 2
    assert m["postroom_sqs_messages_in_flight"][labels] == len(again) == 1
    assert m["postroom_sqs_messages_delayed"][labels] == 1
    assert m["postroom_sqs_messages_visible"][labels] == 0
    assert m["postroom_sqs_messages_visible"][queue_labels(dlq_name)] == 2
    assert m["postroom_sqs_oldest_message_age_seconds"][labels] >= 0
    assert m["postroom_sqs_oldest_message_age_seconds"][queue_labels(dlq_name)] >= 0

    # A deleted queue's series go with it: label sets stay bounded by the live queues.
    sqs.delete_queue(QueueUrl=url)
    assert labels not in scrape(endpoint)["postroom_sqs_messages_sent_total"]


def test_sns_publishes_deliveries_and_failures(metrics_server):
    endpoint = metrics_server.endpoint
    sqs = make_client(endpoint, "json")
    sns = lambda_client(endpoint, "sns")
    before = scrape(endpoint)
    topic = sns.create_topic(Name=unique_name("topic"))["TopicArn"]
    name = unique_name("sub")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    gone = sqs.create_queue(QueueName=unique_name("gone"))["QueueUrl"]
    gone_arn = sqs.get_queue_attributes(QueueUrl=gone, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=gone_arn)
    sqs.delete_queue(QueueUrl=gone)
    sns.publish(TopicArn=topic, Message="one")
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "a", "Message": "two"}, {"Id": "b", "Message": "three"}])

    after = scrape(endpoint)

    def delta(sample: str, labels: tuple = ()) -> float:
        return after[sample].get(labels, 0) - before.get(sample, {}).get(labels, 0)

    assert delta("postroom_sns_messages_published_total") == 3
    assert delta("postroom_sns_deliveries_total", (("protocol", "sqs"),)) == 3
    assert delta("postroom_sns_delivery_failures_total", (("protocol", "sqs"),)) == 3
    # SNS copies count as messages sent to the queue, as AWS's NumberOfMessagesSent does.
    assert after["postroom_sqs_messages_sent_total"][queue_labels(name)] == 3


def test_function_invocations_errors_and_duration(metrics_server):
    endpoint = metrics_server.endpoint
    lam = lambda_client(endpoint)
    name = create_function(lam, {"app.py": (
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('asked to fail')\n"
        "    return {'ok': True}\n"
    )})
    lam.invoke(FunctionName=name, Payload=b"{}")
    lam.invoke(FunctionName=name, Payload=b"{}")
    assert lam.invoke(FunctionName=name, Payload=b'{"fail": true}').get("FunctionError") == "Unhandled"

    m = scrape(endpoint)
    labels = (("account", "000000000000"), ("function", name), ("region", "us-east-1"))
    assert m["postroom_lambda_invocations_total"][labels] == 3
    assert m["postroom_lambda_errors_total"][labels] == 1
    assert m["postroom_lambda_throttles_total"][labels] == 0
    assert m["postroom_lambda_duration_seconds_count"][labels] == 3
    assert m["postroom_lambda_duration_seconds_bucket"][tuple(sorted((*labels, ("le", "+Inf"))))] == 3
    assert m["postroom_lambda_duration_seconds_sum"][labels] > 0


def test_storage_commit_histograms(metrics_server):
    m = scrape(metrics_server.endpoint)
    count = m["postroom_storage_commit_seconds_count"][()]
    assert count > 0
    assert m["postroom_storage_commit_seconds_bucket"][(("le", "+Inf"),)] == count
    assert m["postroom_storage_commit_operations_count"][()] == count
    # Every transaction holds at least one operation.
    assert m["postroom_storage_commit_operations_sum"][()] >= count


def test_fifo_topic_duplicates_are_not_counted_twice(metrics_server):
    endpoint = metrics_server.endpoint
    sqs = make_client(endpoint, "json")
    sns = lambda_client(endpoint, "sns")
    name = unique_name("ordered") + ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    topic = sns.create_topic(Name=unique_name("ordered") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:000000000000:{name}")
    before = scrape(endpoint)
    for _ in range(2):  # the second is a duplicate within the deduplication window
        sns.publish(TopicArn=topic, Message="once", MessageGroupId="g", MessageDeduplicationId="d1")
    after = scrape(endpoint)
    published = "postroom_sns_messages_published_total"
    delivered = "postroom_sns_deliveries_total"
    assert after[published][()] - before.get(published, {}).get((), 0) == 1
    assert after[delivered][(("protocol", "sqs"),)] - before.get(delivered, {}).get((("protocol", "sqs"),), 0) == 1
    assert after["postroom_sqs_messages_sent_total"][queue_labels(name)] == 1
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 1


BACKGROUND_WORK = (
    "lambda.async", "lambda.pollers", "logs.retention", "sns.outbox", "sqs.move-tasks", "sqs.retention",
)


def test_every_background_loop_runs_under_its_lease_on_a_single_node(metrics_server):
    work = scrape(metrics_server.endpoint)["postroom_background_work"]
    assert work == {(("name", name),): 1.0 for name in BACKGROUND_WORK}
