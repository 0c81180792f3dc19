"""SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from server import error_code, md5_hex, md5_of_message_attributes, query_code, receive_all


def entries(n, prefix="m"):
    return [{"Id": f"id{i}", "MessageBody": f"{prefix}{i}"} for i in range(n)]


def test_send_message_batch(sqs, queue_url):
    batch = entries(3)
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}
    batch[1]["MessageAttributes"] = attrs
    resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
    assert resp.get("Failed", []) == []
    ok = {e["Id"]: e for e in resp["Successful"]}
    assert set(ok) == {"id0", "id1", "id2"}
    for i in range(3):
        assert ok[f"id{i}"]["MD5OfMessageBody"] == md5_hex(f"m{i}")
        assert ok[f"id{i}"]["MessageId"]
    assert ok["id1"]["MD5OfMessageAttributes"] == md5_of_message_attributes(attrs)
    assert "MD5OfMessageAttributes" not in ok["id0"]
    msgs = receive_all(sqs, queue_url, 3, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in msgs) == ["m0", "m1", "m2"]
    by_body = {m["Body"]: m for m in msgs}
    assert by_body["m1"]["MessageId"] == ok["id1"]["MessageId"]
    assert by_body["m1"]["MessageAttributes"] == attrs


def test_send_batch_of_ten(sqs, queue_url):
    resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries(10))
    assert len(resp["Successful"]) == 10
    assert len({e["MessageId"] for e in resp["Successful"]}) == 10


def test_too_many_entries(sqs, queue_url):
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries(11))
    assert error_code(exc.value) == query_code("TooManyEntriesInBatchRequest")


def test_empty_batch(sqs, queue_url):
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[])
    assert error_code(exc.value) == query_code("EmptyBatchRequest")


def test_duplicate_ids(sqs, queue_url):
    batch = entries(3)
    batch[2]["Id"] = "id0"
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
    assert error_code(exc.value) == query_code("BatchEntryIdsNotDistinct")


@pytest.mark.parametrize("bad_id", ["has space", "bad!", "x" * 81, "dot.id"])
def test_invalid_batch_entry_id(sqs, queue_url, bad_id):
    batch = entries(2)
    batch[1]["Id"] = bad_id
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
    assert error_code(exc.value) == query_code("InvalidBatchEntryId")


def test_valid_batch_entry_ids(sqs, queue_url):
    batch = [{"Id": "A-z_0-9", "MessageBody": "a"}, {"Id": "y" * 80, "MessageBody": "b"}]
    resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
    assert {e["Id"] for e in resp["Successful"]} == {"A-z_0-9", "y" * 80}


def test_batch_request_too_long(sqs, queue_url):
    """The bodies together may not exceed 1 MiB."""
    batch = [{"Id": f"b{i}", "MessageBody": "x" * 300_000} for i in range(4)]
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
    assert error_code(exc.value) == query_code("BatchRequestTooLong")


def test_per_entry_failure(sqs, queue_url):
    """An invalid entry is reported in Failed; the others are sent."""
    batch = entries(3)
    batch[1]["DelaySeconds"] = 1800
    resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
    assert {e["Id"] for e in resp["Successful"]} == {"id0", "id2"}
    [failed] = resp["Failed"]
    assert failed["Id"] == "id1"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "InvalidParameterValue"
    assert failed.get("Message")
    msgs = receive_all(sqs, queue_url, 2)
    assert sorted(m["Body"] for m in msgs) == ["m0", "m2"]


def test_delete_message_batch(sqs, queue_url):
    sqs.send_message_batch(QueueUrl=queue_url, Entries=entries(4))
    msgs = receive_all(sqs, queue_url, 4, VisibilityTimeout=60)
    assert len(msgs) == 4
    batch = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
    batch.append({"Id": "bogus", "ReceiptHandle": "not-a-real-handle"})
    resp = sqs.delete_message_batch(QueueUrl=queue_url, Entries=batch)
    assert {e["Id"] for e in resp["Successful"]} == {"d0", "d1", "d2", "d3"}
    [failed] = resp["Failed"]
    assert failed["Id"] == "bogus"
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    assert failed["SenderFault"] is True
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_delete_batch_validation(sqs, queue_url):
    with pytest.raises(ClientError) as exc:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[])
    assert error_code(exc.value) == query_code("EmptyBatchRequest")
    eleven = [{"Id": f"d{i}", "ReceiptHandle": "h"} for i in range(11)]
    with pytest.raises(ClientError) as exc:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=eleven)
    assert error_code(exc.value) == query_code("TooManyEntriesInBatchRequest")
    dup = [{"Id": "same", "ReceiptHandle": "h1"}, {"Id": "same", "ReceiptHandle": "h2"}]
    with pytest.raises(ClientError) as exc:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=dup)
    assert error_code(exc.value) == query_code("BatchEntryIdsNotDistinct")
    bad = [{"Id": "bad id", "ReceiptHandle": "h1"}]
    with pytest.raises(ClientError) as exc:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=bad)
    assert error_code(exc.value) == query_code("InvalidBatchEntryId")


def test_change_message_visibility_batch(sqs, queue_url):
    sqs.send_message_batch(QueueUrl=queue_url, Entries=entries(2))
    msgs = receive_all(sqs, queue_url, 2, VisibilityTimeout=60)
    release, keep = msgs
    resp = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
        {"Id": "release", "ReceiptHandle": release["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "keep", "ReceiptHandle": keep["ReceiptHandle"], "VisibilityTimeout": 120},
        {"Id": "bogus", "ReceiptHandle": "not-a-real-handle", "VisibilityTimeout": 0},
    ])
    assert {e["Id"] for e in resp["Successful"]} == {"release", "keep"}
    [failed] = resp["Failed"]
    assert failed["Id"] == "bogus" and failed["Code"] == "ReceiptHandleIsInvalid"
    again = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [m["Body"] for m in again] == [release["Body"]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_visibility_batch_validation(sqs, queue_url):
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[])
    assert error_code(exc.value) == query_code("EmptyBatchRequest")
    eleven = [{"Id": f"c{i}", "ReceiptHandle": "h", "VisibilityTimeout": 1} for i in range(11)]
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=eleven)
    assert error_code(exc.value) == query_code("TooManyEntriesInBatchRequest")
    dup = [{"Id": "x", "ReceiptHandle": "h", "VisibilityTimeout": 1}] * 2
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=dup)
    assert error_code(exc.value) == query_code("BatchEntryIdsNotDistinct")
