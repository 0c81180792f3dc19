"""SendMessage, ReceiveMessage, DeleteMessage: bodies, digests, attributes, limits.

botocore does not verify SQS MD5 digests itself, so these tests compute them independently.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from server import error_code, md5_hex, md5_of_message_attributes, receive_all


def test_send_receive_roundtrip(sqs, queue_url):
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody="hello world")
    assert sent["MD5OfMessageBody"] == md5_hex("hello world")
    assert sent["MessageId"]
    assert "MD5OfMessageAttributes" not in sent
    resp = sqs.receive_message(QueueUrl=queue_url)
    [msg] = resp["Messages"]
    assert msg["Body"] == "hello world"
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["MD5OfBody"] == md5_hex("hello world")
    assert msg["ReceiptHandle"]
    assert "Attributes" not in msg
    assert "MessageAttributes" not in msg


def test_receive_from_empty_queue(sqs, queue_url):
    resp = sqs.receive_message(QueueUrl=queue_url)
    assert resp.get("Messages", []) == []


@pytest.mark.parametrize(
    "body",
    [
        "tab\tnewline\ncr\r end",
        "unicode: héllo wörld ✓ 日本語",
        "astral: \U0001F600\U00010000\U0010FFFF",
        "xml-ish <a href=\"x\">&amp;</a> ]]> '",
        "json {\"k\": [1, 2, {\"n\": null}]}",
        "edge \uE000\uFFFD\uD7FF",
        " leading and trailing spaces ",
        "x",
    ],
)
def test_body_characters_roundtrip(sqs, queue_url, body):
    """Every allowed character (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF)."""
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    [msg] = receive_all(sqs, queue_url, 1)
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == md5_hex(body)


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x0b", "\x1f", "\ufffe", "\uffff"])
def test_invalid_characters_rejected(sqs, queue_url, bad):
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue_url, MessageBody=f"before{bad}after")
    assert error_code(exc.value) == "InvalidMessageContents"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_empty_body_rejected(sqs, queue_url):
    """AWS: MissingParameter, "The request must contain the parameter MessageBody." """
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue_url, MessageBody="")
    assert error_code(exc.value) == "MissingParameter"


def test_max_size_body(sqs, queue_url):
    """A 1 MiB (1,048,576 byte) body is accepted; one byte more is not."""
    body = "a" * 1048576
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    [msg] = receive_all(sqs, queue_url, 1)
    assert len(msg["Body"]) == 1048576
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body + "a")
    assert error_code(exc.value) == "InvalidParameterValue"


def test_body_size_counts_bytes_not_characters(sqs, make_queue):
    url = make_queue(attributes={"MaximumMessageSize": "1024"})
    sqs.send_message(QueueUrl=url, MessageBody="é" * 512)  # 1024 bytes
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="é" * 513)  # 1026 bytes
    assert error_code(exc.value) == "InvalidParameterValue"


def test_queue_maximum_message_size(sqs, make_queue):
    url = make_queue(attributes={"MaximumMessageSize": "1024"})
    sqs.send_message(QueueUrl=url, MessageBody="b" * 1024)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="b" * 1025)
    assert error_code(exc.value) == "InvalidParameterValue"


def test_attributes_count_toward_message_size(sqs, make_queue):
    """MaximumMessageSize covers body plus attributes (names, types and values)."""
    url = make_queue(attributes={"MaximumMessageSize": "1024"})
    with pytest.raises(ClientError) as exc:
        sqs.send_message(
            QueueUrl=url, MessageBody="b" * 1000,
            MessageAttributes={"attr": {"DataType": "String", "StringValue": "v" * 100}},
        )
    assert error_code(exc.value) == "InvalidParameterValue"


ATTRIBUTES = {
    "str": {"DataType": "String", "StringValue": "hello ✓"},
    "num": {"DataType": "Number", "StringValue": "-12.5e3"},
    "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff binary"},
    "custom-str": {"DataType": "String.json", "StringValue": "{\"a\": 1}"},
    "custom.num": {"DataType": "Number.int", "StringValue": "42"},
    "custom_bin": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a"},
}


def test_message_attributes_roundtrip(sqs, queue_url):
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody="attrs",
                            MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageAttributes"] == md5_of_message_attributes(ATTRIBUTES)
    [msg] = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    got = msg["MessageAttributes"]
    assert set(got) == set(ATTRIBUTES)
    for name, attr in ATTRIBUTES.items():
        assert got[name]["DataType"] == attr["DataType"]
        if "BinaryValue" in attr:
            assert got[name]["BinaryValue"] == attr["BinaryValue"]
            assert "StringValue" not in got[name]
        else:
            assert got[name]["StringValue"] == attr["StringValue"]
            assert "BinaryValue" not in got[name]
    assert msg["MD5OfMessageAttributes"] == md5_of_message_attributes(ATTRIBUTES)
    assert msg["MD5OfBody"] == md5_hex("attrs")


def test_message_attribute_filters(sqs, queue_url):
    attrs = {
        "foo.a": {"DataType": "String", "StringValue": "1"},
        "foo.b": {"DataType": "String", "StringValue": "2"},
        "baz": {"DataType": "String", "StringValue": "3"},
        "bar": {"DataType": "Number", "StringValue": "4"},
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody="filters", MessageAttributes=attrs)

    def names(**kwargs):
        [msg] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0,
                                    **kwargs)["Messages"]
        got = msg.get("MessageAttributes", {})
        if got:
            assert msg["MD5OfMessageAttributes"] == md5_of_message_attributes(got)
        return set(got)

    assert names() == set()
    assert names(MessageAttributeNames=["All"]) == set(attrs)
    assert names(MessageAttributeNames=[".*"]) == set(attrs)
    assert names(MessageAttributeNames=["bar"]) == {"bar"}
    assert names(MessageAttributeNames=["bar", "baz", "absent"]) == {"bar", "baz"}
    assert names(MessageAttributeNames=["foo.*"]) == {"foo.a", "foo.b"}
    assert names(MessageAttributeNames=["absent"]) == set()


def test_too_many_message_attributes(sqs, queue_url):
    ten = {f"a{i}": {"DataType": "String", "StringValue": str(i)} for i in range(10)}
    sqs.send_message(QueueUrl=queue_url, MessageBody="ten", MessageAttributes=ten)
    eleven = dict(ten, a10={"DataType": "String", "StringValue": "10"})
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue_url, MessageBody="eleven", MessageAttributes=eleven)
    assert error_code(exc.value) == "InvalidParameterValue"


@pytest.mark.parametrize(
    "name,attr",
    [
        ("bad-type", {"DataType": "Integer", "StringValue": "1"}),
        ("not-a-number", {"DataType": "Number", "StringValue": "abc"}),
        ("AWS.reserved", {"DataType": "String", "StringValue": "x"}),
        ("bad name", {"DataType": "String", "StringValue": "x"}),
        (".leading-dot", {"DataType": "String", "StringValue": "x"}),
        ("double..dot", {"DataType": "String", "StringValue": "x"}),
        ("empty-string", {"DataType": "String", "StringValue": ""}),
        ("no-value", {"DataType": "String"}),
    ],
)
def test_invalid_message_attribute(sqs, queue_url, name, attr):
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue_url, MessageBody="x", MessageAttributes={name: attr})
    assert error_code(exc.value) == "InvalidParameterValue"


def test_system_attributes_all(sqs, queue_url):
    before = int(time.time() * 1000)
    sqs.send_message(QueueUrl=queue_url, MessageBody="sys")
    [msg] = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    after = int(time.time() * 1000)
    a = msg["Attributes"]
    assert a["SenderId"]
    assert a["ApproximateReceiveCount"] == "1"
    sent = int(a["SentTimestamp"])
    first = int(a["ApproximateFirstReceiveTimestamp"])
    assert before - 2000 <= sent <= after + 2000, "SentTimestamp is epoch milliseconds"
    assert sent <= first <= after + 2000
    for fifo_only in ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber"):
        assert fifo_only not in a


def test_system_attributes_specific(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="sys")
    [msg] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0,
                                AttributeNames=["SentTimestamp"])["Messages"]
    assert set(msg["Attributes"]) == {"SentTimestamp"}
    [msg] = sqs.receive_message(
        QueueUrl=queue_url, AttributeNames=["ApproximateReceiveCount", "SenderId"]
    )["Messages"]
    assert set(msg["Attributes"]) == {"ApproximateReceiveCount", "SenderId"}
    assert msg["Attributes"]["ApproximateReceiveCount"] == "2"


def test_message_system_attribute_names(json_sqs, make_queue):
    """The newer MessageSystemAttributeNames parameter (JSON-era model only)."""
    url = make_queue(client=json_sqs)
    json_sqs.send_message(QueueUrl=url, MessageBody="sys")
    [msg] = json_sqs.receive_message(QueueUrl=url, VisibilityTimeout=0,
                                     MessageSystemAttributeNames=["All"])["Messages"]
    assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
            "ApproximateFirstReceiveTimestamp"} <= set(msg["Attributes"])
    [msg] = json_sqs.receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert msg["Attributes"] == {"ApproximateReceiveCount": "2"}


def test_aws_trace_header(json_sqs, make_queue):
    url = make_queue(client=json_sqs)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    sent = json_sqs.send_message(QueueUrl=url, MessageBody="traced",
                                 MessageSystemAttributes=system)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_message_attributes(system)
    [msg] = json_sqs.receive_message(QueueUrl=url, AttributeNames=["AWSTraceHeader"])[
        "Messages"]
    assert msg["Attributes"] == {"AWSTraceHeader": trace}


def test_receive_max_number_of_messages(sqs, queue_url):
    for i in range(15):
        sqs.send_message(QueueUrl=queue_url, MessageBody=f"m{i:02d}")
    first = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    assert 1 <= len(first["Messages"]) <= 10
    rest = receive_all(sqs, queue_url, 15 - len(first["Messages"]), VisibilityTimeout=60)
    bodies = [m["Body"] for m in first["Messages"] + rest]
    assert sorted(bodies) == [f"m{i:02d}" for i in range(15)]
    ids = [m["MessageId"] for m in first["Messages"] + rest]
    assert len(set(ids)) == 15


def test_receive_returns_up_to_max(sqs, queue_url):
    for i in range(5):
        sqs.send_message(QueueUrl=queue_url, MessageBody=f"m{i}")
    one = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=60)
    assert len(one["Messages"]) == 1, "MaxNumberOfMessages defaults to 1"
    three = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=3, VisibilityTimeout=60)
    assert 1 <= len(three["Messages"]) <= 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"MaxNumberOfMessages": 0},
        {"MaxNumberOfMessages": 11},
        {"MaxNumberOfMessages": -1},
        {"WaitTimeSeconds": 21},
        {"WaitTimeSeconds": -1},
        {"VisibilityTimeout": 43201},
        {"VisibilityTimeout": -1},
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_receive_parameter_ranges(sqs, queue_url, kwargs):
    with pytest.raises(ClientError) as exc:
        sqs.receive_message(QueueUrl=queue_url, **kwargs)
    assert error_code(exc.value) == "InvalidParameterValue"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("delay", [-1, 901])
def test_send_delay_out_of_range(sqs, queue_url, delay):
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue_url, MessageBody="x", DelaySeconds=delay)
    assert error_code(exc.value) == "InvalidParameterValue"


def test_delete_message(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="delete me")
    [msg] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=60)["Messages"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    # Deleting again with the same handle is not an error.
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])


def test_deleted_message_never_comes_back(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="once")
    [msg] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=1)["Messages"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
    resp = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)
    assert resp.get("Messages", []) == []


@pytest.mark.parametrize("handle", ["garbage", "AQEB" + "x" * 100, "a b c"])
def test_delete_with_invalid_receipt_handle(sqs, queue_url, handle):
    with pytest.raises(ClientError) as exc:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    assert error_code(exc.value) == "ReceiptHandleIsInvalid"


def test_receipt_handle_of_other_queue(sqs, make_queue):
    a, b = make_queue(), make_queue()
    sqs.send_message(QueueUrl=a, MessageBody="in a")
    [msg] = sqs.receive_message(QueueUrl=a, VisibilityTimeout=60)["Messages"]
    with pytest.raises(ClientError) as exc:
        sqs.delete_message(QueueUrl=b, ReceiptHandle=msg["ReceiptHandle"])
    assert error_code(exc.value) in ("ReceiptHandleIsInvalid", "InvalidParameterValue")
    sqs.delete_message(QueueUrl=a, ReceiptHandle=msg["ReceiptHandle"])


def test_message_ids_unique_and_sender_id_stable(sqs, queue_url):
    ids = {sqs.send_message(QueueUrl=queue_url, MessageBody=str(i))["MessageId"]
           for i in range(5)}
    assert len(ids) == 5
    msgs = receive_all(sqs, queue_url, 5, AttributeNames=["SenderId"])
    assert {m["MessageId"] for m in msgs} == ids
    assert len({m["Attributes"]["SenderId"] for m in msgs}) == 1

