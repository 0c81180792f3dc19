"""Visibility timeout, ChangeMessageVisibility, queue and per-message delay."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from server import error_code, wait_until


def receive_one(sqs, url, **kwargs):
    msgs = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], **kwargs).get(
        "Messages", [])
    assert len(msgs) <= 1
    return msgs[0] if msgs else None


def counters(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def test_received_message_is_invisible_then_reappears(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="vis")
    first = receive_one(sqs, queue_url, VisibilityTimeout=2)
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert receive_one(sqs, queue_url) is None, "invisible while in flight"
    assert counters(sqs, queue_url)[:2] == (0, 1)
    again = wait_until(lambda: receive_one(sqs, queue_url, WaitTimeSeconds=1), timeout=15)
    assert again is not None, "message reappears after its visibility timeout"
    assert again["Body"] == "vis"
    assert again["MessageId"] == first["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    assert (again["Attributes"]["ApproximateFirstReceiveTimestamp"]
            == first["Attributes"]["ApproximateFirstReceiveTimestamp"])


def test_queue_visibility_timeout_is_default(manual_sqs, manual_server, make_queue):
    """(On the manual clock, with AWS's default of 30 s.)"""
    sqs = manual_sqs
    url = make_queue(client=sqs)
    sqs.send_message(QueueUrl=url, MessageBody="q-vis")
    assert receive_one(sqs, url) is not None
    manual_server.advance(29.9)
    assert receive_one(sqs, url) is None
    manual_server.advance(0.1)
    again = receive_one(sqs, url)
    assert again is not None and again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_visibility_to_zero_releases_at_once(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="release")
    msg = receive_one(sqs, queue_url, VisibilityTimeout=600)
    assert receive_one(sqs, queue_url) is None
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                  VisibilityTimeout=0)
    again = receive_one(sqs, queue_url)
    assert again is not None and again["Body"] == "release"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_visibility_extends(manual_sqs, manual_server, make_queue):
    """(On the manual clock: the subject is the new timeout, not seconds of waiting.)"""
    sqs = manual_sqs
    queue_url = make_queue(client=sqs)
    sqs.send_message(QueueUrl=queue_url, MessageBody="extend")
    msg = receive_one(sqs, queue_url, VisibilityTimeout=2)
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                  VisibilityTimeout=60)
    manual_server.advance(3)
    resp = sqs.receive_message(QueueUrl=queue_url)
    assert resp.get("Messages", []) == [], "still invisible after the original 2 s"
    assert counters(sqs, queue_url)[:2] == (0, 1)
    manual_server.advance(57)  # 60 s after the change
    assert receive_one(sqs, queue_url)["Body"] == "extend"


def test_receive_visibility_zero(sqs, queue_url):
    """VisibilityTimeout=0 on receive leaves the message visible at once."""
    sqs.send_message(QueueUrl=queue_url, MessageBody="zero")
    assert receive_one(sqs, queue_url, VisibilityTimeout=0) is not None
    again = receive_one(sqs, queue_url, VisibilityTimeout=0)
    assert again is not None and again["Attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize("timeout", [43201, -1])
def test_change_visibility_out_of_range(sqs, queue_url, timeout):
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    msg = receive_one(sqs, queue_url, VisibilityTimeout=60)
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                      VisibilityTimeout=timeout)
    assert error_code(exc.value) == "InvalidParameterValue"


def test_change_visibility_invalid_handle(sqs, queue_url):
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle="garbage",
                                      VisibilityTimeout=10)
    assert error_code(exc.value) == "ReceiptHandleIsInvalid"


def test_deleted_message_visibility_change_fails(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    msg = receive_one(sqs, queue_url, VisibilityTimeout=60)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                      VisibilityTimeout=10)
    assert error_code(exc.value) in ("InvalidParameterValue", "ReceiptHandleIsInvalid")


# --------------------------------------------------------------------------- delay


def test_queue_delay(manual_sqs, manual_server, make_queue):
    """(On the manual clock, with the longest delay, 15 minutes.)"""
    sqs = manual_sqs
    url = make_queue(attributes={"DelaySeconds": "900"}, client=sqs)
    sqs.send_message(QueueUrl=url, MessageBody="delayed")
    assert receive_one(sqs, url) is None, "not receivable during the delay"
    assert counters(sqs, url) == (0, 0, 1)
    manual_server.advance(899.9)
    assert receive_one(sqs, url) is None
    manual_server.advance(0.1)
    msg = receive_one(sqs, url)
    assert msg is not None and msg["Body"] == "delayed"


def test_per_message_delay(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="later", DelaySeconds=2)
    sqs.send_message(QueueUrl=queue_url, MessageBody="now")
    assert counters(sqs, queue_url) == (1, 0, 1)
    first = receive_one(sqs, queue_url, VisibilityTimeout=60)
    assert first["Body"] == "now"
    assert receive_one(sqs, queue_url) is None
    msg = wait_until(lambda: receive_one(sqs, queue_url, WaitTimeSeconds=1), timeout=15)
    assert msg is not None and msg["Body"] == "later"


def test_per_message_delay_overrides_queue_delay(sqs, make_queue):
    """An explicit DelaySeconds=0 wins over the queue's DelaySeconds."""
    url = make_queue(attributes={"DelaySeconds": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    msg = receive_one(sqs, url)
    assert msg is not None and msg["Body"] == "no delay"
    assert counters(sqs, url) == (0, 1, 1)


def test_batch_entry_delay(sqs, queue_url):
    sqs.send_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": "a", "MessageBody": "a", "DelaySeconds": 2},
        {"Id": "b", "MessageBody": "b"},
    ])
    assert counters(sqs, queue_url) == (1, 0, 1)
    msg = receive_one(sqs, queue_url, VisibilityTimeout=60)
    assert msg["Body"] == "b"
    later = wait_until(lambda: receive_one(sqs, queue_url, WaitTimeSeconds=1), timeout=15)
    assert later is not None and later["Body"] == "a"


def test_changing_queue_delay_affects_new_messages_only(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="before")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="after")
    msg = receive_one(sqs, url)
    assert msg is not None and msg["Body"] == "before"
    assert counters(sqs, url) == (0, 1, 1)


def test_total_visibility_capped_at_12_hours(sqs, queue_url):
    """Visibility may not extend past 12 h (43,200 s) after the ReceiveMessage request."""
    sqs.send_message(QueueUrl=queue_url, MessageBody="cap")
    msg = receive_one(sqs, queue_url, VisibilityTimeout=60)
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                  VisibilityTimeout=43000)
    time.sleep(1.5)
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                      VisibilityTimeout=43200)
    assert error_code(exc.value) == "InvalidParameterValue"
