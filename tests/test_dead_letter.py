"""Dead-letter queues: RedrivePolicy, the move at maxReceiveCount, ListDeadLetterSourceQueues."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from server import error_code, receive_all, unique_name


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def redrive(dlq_arn, max_receive_count):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})


@pytest.mark.parametrize("count", [3, "3"], ids=["number", "string"])
def test_redrive_policy_roundtrip(sqs, make_queue, count):
    """maxReceiveCount may be sent as a number or a string; AWS returns a number."""
    dlq = make_queue("dlq")
    dlq_arn = arn_of(sqs, dlq)
    src = make_queue("src", attributes={"RedrivePolicy": redrive(dlq_arn, count)})
    got = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = json.loads(got["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dlq_arn
    assert policy["maxReceiveCount"] == 3


def test_message_moves_to_dlq_after_max_receive_count(sqs, make_queue):
    dlq = make_queue("dlq")
    src_name = unique_name("src")
    src = make_queue(name=src_name, attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq), 2)})
    src_arn = arn_of(sqs, src)
    attrs = {"trace": {"DataType": "String", "StringValue": "abc"}}
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes=attrs)

    for expected_count in ("1", "2"):
        [msg] = sqs.receive_message(QueueUrl=src, AttributeNames=["All"])["Messages"]
        assert msg["Body"] == "poison"
        assert msg["Attributes"]["ApproximateReceiveCount"] == expected_count
        sqs.change_message_visibility(QueueUrl=src, ReceiptHandle=msg["ReceiptHandle"],
                                      VisibilityTimeout=0)

    # The third receive would exceed maxReceiveCount: the message moves to the DLQ instead.
    resp = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1)
    assert resp.get("Messages", []) == []
    [moved] = receive_all(sqs, dlq, 1, MessageAttributeNames=["All"], AttributeNames=["All"])
    assert moved["Body"] == "poison"
    assert moved["MessageAttributes"] == attrs
    assert moved["MessageId"] == sent["MessageId"]
    src_attrs = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]
    assert src_attrs["ApproximateNumberOfMessages"] == "0"
    assert src_attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert moved["Attributes"].get("DeadLetterQueueSourceArn", src_arn) == src_arn


def test_dlq_move_after_visibility_expiry(manual_sqs, manual_server, make_queue):
    """(On the manual clock: the subject is the move, not the second of waiting.)"""
    sqs = manual_sqs
    dlq = make_queue("dlq", client=sqs)
    src = make_queue("src", attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq), 1),
                                        "VisibilityTimeout": "60"}, client=sqs)
    sqs.send_message(QueueUrl=src, MessageBody="expire me")
    [msg] = sqs.receive_message(QueueUrl=src)["Messages"]
    assert msg["Body"] == "expire me"
    manual_server.advance(59.9)
    assert sqs.receive_message(QueueUrl=src).get("Messages", []) == []  # still in flight
    assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []
    manual_server.advance(0.1)
    # No delete: after the timeout the next receive moves it rather than delivering it.
    resp = sqs.receive_message(QueueUrl=src)
    assert resp.get("Messages", []) == []
    moved = receive_all(sqs, dlq, 1)
    assert [m["Body"] for m in moved] == ["expire me"]


def test_list_dead_letter_source_queues(sqs, make_queue):
    dlq = make_queue("dlq")
    dlq_arn = arn_of(sqs, dlq)
    sources = {make_queue("src", attributes={"RedrivePolicy": redrive(dlq_arn, 5)})
               for _ in range(2)}
    unrelated = make_queue("plain")
    resp = sqs.list_dead_letter_source_queues(QueueUrl=dlq)
    assert set(resp["queueUrls"]) == sources
    assert unrelated not in resp["queueUrls"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=unrelated).get("queueUrls", []) == []


def test_list_dead_letter_source_queues_paging(sqs, make_queue):
    dlq = make_queue("dlq")
    dlq_arn = arn_of(sqs, dlq)
    sources = {make_queue("src", attributes={"RedrivePolicy": redrive(dlq_arn, 5)})
               for _ in range(3)}
    seen = []
    kwargs = {"QueueUrl": dlq, "MaxResults": 2}
    for _ in range(5):
        resp = sqs.list_dead_letter_source_queues(**kwargs)
        assert len(resp.get("queueUrls", [])) <= 2
        seen += resp.get("queueUrls", [])
        if not resp.get("NextToken"):
            break
        kwargs["NextToken"] = resp["NextToken"]
    assert sorted(seen) == sorted(sources)


def test_removing_redrive_policy(sqs, make_queue):
    dlq = make_queue("dlq")
    src = make_queue("src", attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq), 5)})
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
    got = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" not in got
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq).get("queueUrls", []) == []


@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_range(sqs, make_queue, count):
    dlq = make_queue("dlq")
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique_name("src"),
                         Attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq), count)})
    assert error_code(exc.value) in ("InvalidParameterValue", "InvalidAttributeValue")


def test_redrive_policy_must_be_json(sqs):
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique_name("src"), Attributes={"RedrivePolicy": "{nope"})
    assert error_code(exc.value) in ("InvalidParameterValue", "InvalidAttributeValue")
