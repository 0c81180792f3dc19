"""FIFO queues: group ordering, batch release order, deduplication (SPEC.md worked examples)."""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.exceptions import ClientError
from server import error_code, unique_name


@pytest.fixture
def fifo(make_queue):
    """Factory for FIFO queues: fifo(**attributes) -> url."""

    def make(**attributes):
        attrs = {"FifoQueue": "true", **{k: str(v) for k, v in attributes.items()}}
        return make_queue(name=unique_name("f") + ".fifo", attributes=attrs)

    return make


def send(sqs, url, body, group="g", dedup=None):
    return sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                            MessageDeduplicationId=dedup or body)


def receive(sqs, url, n=10, **kwargs):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, VisibilityTimeout=60,
                               AttributeNames=["All"], **kwargs).get("Messages", [])


def delete_all(sqs, url, msgs):
    for m in msgs:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def bodies(msgs):
    return [m["Body"] for m in msgs]


def test_fifo_attributes(sqs, fifo):
    url = fifo()
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["FifoQueue"] == "true"
    assert a["ContentBasedDeduplication"] == "false"
    assert a["DeduplicationScope"] == "queue"
    assert a["FifoThroughputLimit"] == "perQueue"


def test_fifo_name_needs_suffix(sqs):
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique_name("nosuffix"), Attributes={"FifoQueue": "true"})
    assert error_code(exc.value) == "InvalidParameterValue"


def test_group_id_required(sqs, fifo):
    url = fifo()
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert error_code(exc.value) == "MissingParameter"


def test_dedup_id_or_content_based_required(sqs, fifo):
    url = fifo()
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert error_code(exc.value) == "InvalidParameterValue"


def test_per_message_delay_not_allowed(sqs, fifo):
    url = fifo()
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                         MessageDeduplicationId="d", DelaySeconds=5)
    assert error_code(exc.value) == "InvalidParameterValue"


def test_send_returns_sequence_number_and_system_attributes(sqs, fifo):
    url = fifo()
    first = send(sqs, url, "a", dedup="d-a")
    second = send(sqs, url, "b", dedup="d-b")
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    msgs = receive(sqs, url)
    assert bodies(msgs) == ["a", "b"]
    a = msgs[0]["Attributes"]
    assert a["MessageGroupId"] == "g"
    assert a["MessageDeduplicationId"] == "d-a"
    assert a["SequenceNumber"] == first["SequenceNumber"]


def test_three_in_one_group_come_in_one_batch(sqs, fifo):
    url = fifo()
    for i in range(3):
        send(sqs, url, f"m{i}")
    assert bodies(receive(sqs, url)) == ["m0", "m1", "m2"]


def test_eleventh_waits_for_the_first_ten(sqs, fifo):
    url = fifo()
    for i in range(11):
        send(sqs, url, f"m{i:02d}")
    first = receive(sqs, url)
    assert bodies(first) == [f"m{i:02d}" for i in range(10)]
    assert receive(sqs, url) == [], "the group has messages in flight"
    delete_all(sqs, url, first)
    assert bodies(receive(sqs, url)) == ["m10"]


def test_two_groups_two_consumers(sqs, fifo):
    url = fifo()
    for i in range(11):
        send(sqs, url, f"A{i:02d}", group="A")
        send(sqs, url, f"B{i:02d}", group="B")
    one, two = receive(sqs, url), receive(sqs, url)
    got = sorted([bodies(one), bodies(two)])
    assert got == [[f"A{i:02d}" for i in range(10)], [f"B{i:02d}" for i in range(10)]]
    assert receive(sqs, url) == [], "both groups have messages in flight"
    a_batch = one if bodies(one)[0].startswith("A") else two
    delete_all(sqs, url, a_batch)
    assert bodies(receive(sqs, url)) == ["A10"]


def test_six_in_two_groups_come_in_one_batch(sqs, fifo):
    url = fifo()
    order = [("A", 0), ("B", 0), ("A", 1), ("B", 1), ("A", 2), ("B", 2)]
    for g, i in order:
        send(sqs, url, f"{g}{i}", group=g)
    got = bodies(receive(sqs, url))
    assert sorted(got) == sorted(f"{g}{i}" for g, i in order)
    assert [b for b in got if b[0] == "A"] == ["A0", "A1", "A2"]
    assert [b for b in got if b[0] == "B"] == ["B0", "B1", "B2"]


def test_order_kept_within_group_across_receives(sqs, fifo):
    url = fifo()
    for i in range(5):
        send(sqs, url, f"m{i}")
    seen = []
    for _ in range(5):
        msgs = receive(sqs, url, n=2)
        seen += bodies(msgs)
        delete_all(sqs, url, msgs)
    assert seen == [f"m{i}" for i in range(5)]


def test_released_message_blocks_its_group_in_order(sqs, fifo):
    """A message returned to the queue is delivered again before later ones of its group."""
    url = fifo()
    for i in range(3):
        send(sqs, url, f"m{i}")
    [first] = receive(sqs, url, n=1)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                  VisibilityTimeout=0)
    again = receive(sqs, url)
    assert bodies(again) == ["m0", "m1", "m2"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_deduplication_by_id(sqs, fifo):
    url = fifo()
    first = send(sqs, url, "once", dedup="same")
    dup = send(sqs, url, "once again", dedup="same")
    assert dup["MessageId"]
    msgs = receive(sqs, url)
    assert bodies(msgs) == ["once"]
    assert msgs[0]["MessageId"] == first["MessageId"]
    delete_all(sqs, url, msgs)
    send(sqs, url, "after delete", dedup="same")
    assert receive(sqs, url) == [], "deduplicated even after the first was deleted"


def test_content_based_deduplication(sqs, fifo):
    url = fifo(ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")
    msgs = receive(sqs, url)
    assert bodies(msgs) == ["same body", "other body"]
    assert msgs[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(
        b"same body").hexdigest()


def test_fifo_batch(sqs, fifo):
    url = fifo()
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"e{i}", "MessageBody": f"m{i}", "MessageGroupId": "g",
         "MessageDeduplicationId": f"d{i}"} for i in range(4)])
    assert len(resp["Successful"]) == 4
    assert all(e.get("SequenceNumber") for e in resp["Successful"])
    assert bodies(receive(sqs, url)) == ["m0", "m1", "m2", "m3"]


def test_fifo_dead_letter_queue_must_be_fifo(sqs, fifo, make_queue):
    standard = make_queue()
    arn = sqs.get_queue_attributes(QueueUrl=standard, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = fifo()
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": 2})})
    assert error_code(exc.value) in ("InvalidParameterValue", "InvalidAttributeValue")


def test_standard_queue_accepts_message_group_id(sqs, queue_url):
    """Standard queues take MessageGroupId too (fair queues)."""
    sqs.send_message(QueueUrl=queue_url, MessageBody="tenant", MessageGroupId="tenant-1")
    [msg] = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    assert msg["Body"] == "tenant"
