"""SNS Publish and PublishBatch: targets, subject, message attributes, MessageStructure=json,
size limit, batch errors and FIFO topics (group ids, deduplication)."""

from __future__ import annotations

import base64
import json

import pytest

pytest.register_assert_rewrite("sns_helpers")

from botocore.exceptions import ClientError  # noqa: E402
from server import error_code  # noqa: E402
from sns_helpers import bodies, drain, expect_error, get_records  # noqa: E402

pytest_plugins = ["sns_helpers"]
pytestmark = pytest.mark.timeout(120)

MAX = 262_144  # 256 KiB: message plus attributes



def envelopes(messages: list[dict]) -> list[dict]:
    return [json.loads(m["Body"]) for m in messages]


# --------------------------------------------------------------------------- publish


def test_publish_by_topic_arn_and_target_arn(sns, queues, make_topic, make_sqs_queue,
                                             subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(topic, queue)
    by_topic = sns.publish(TopicArn=topic, Message="via TopicArn")["MessageId"]
    by_target = sns.publish(TargetArn=topic, Message="via TargetArn")["MessageId"]
    assert by_topic != by_target
    got = {e["MessageId"]: e["Message"] for e in envelopes(drain(queues, queue.url, 2))}
    assert got == {by_topic: "via TopicArn", by_target: "via TargetArn"}


def test_publish_without_a_target_is_rejected(sns_unvalidated):
    expect_error("InvalidParameter", sns_unvalidated.publish, Message="nowhere")


def test_publish_subject(sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(topic, queue)
    sns.publish(TopicArn=topic, Message="with subject", Subject="Hello: world (1)")
    sns.publish(TopicArn=topic, Message="without subject")
    docs = {e["Message"]: e for e in envelopes(drain(queues, queue.url, 2))}
    assert docs["with subject"]["Subject"] == "Hello: world (1)"
    assert "Subject" not in docs["without subject"] or docs["without subject"]["Subject"] is None


@pytest.mark.parametrize("subject", [
    "x" * 101,              # at most 100 characters
    "line one\nline two",   # no line breaks
    "",                     # not empty
])
def test_invalid_subject_is_rejected(sns, make_topic, subject):
    expect_error("InvalidParameter", sns.publish, TopicArn=make_topic(), Message="m",
                 Subject=subject)


def test_empty_message_is_rejected(sns, make_topic):
    expect_error("InvalidParameter", sns.publish, TopicArn=make_topic(), Message="")


def test_message_attributes_in_the_envelope(sns, queues, make_topic, make_sqs_queue,
                                            subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(topic, queue)
    sns.publish(TopicArn=topic, Message="attrs", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "blue"},
        "price": {"DataType": "Number", "StringValue": "12.50"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01binary\xff"},
        "tags": {"DataType": "String.Array", "StringValue": '["a", "b", 3]'},
    })
    [msg] = drain(queues, queue.url, 1)
    doc = json.loads(msg["Body"])
    attrs = doc["MessageAttributes"]
    assert attrs["color"] == {"Type": "String", "Value": "blue"}
    assert attrs["price"] == {"Type": "Number", "Value": "12.50"}
    assert attrs["blob"]["Type"] == "Binary"
    assert base64.b64decode(attrs["blob"]["Value"]) == b"\x00\x01binary\xff"
    assert attrs["tags"]["Type"] == "String.Array"
    assert json.loads(attrs["tags"]["Value"]) == ["a", "b", 3]
    # Without raw delivery the attributes travel in the envelope only.
    assert not msg.get("MessageAttributes")


@pytest.mark.parametrize("attributes", [
    {"n": {"DataType": "Number", "StringValue": "twelve"}},
    {"s": {"DataType": "String", "StringValue": ""}},
    {"t": {"DataType": "Unicorn", "StringValue": "x"}},
    {"a": {"DataType": "String.Array", "StringValue": "not an array"}},
    {"bad name!": {"DataType": "String", "StringValue": "x"}},
])
def test_invalid_message_attributes_are_rejected(sns, make_topic, attributes):
    # AWS answers these with ParameterValueInvalid (InvalidParameterValueException).
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=make_topic(), Message="m", MessageAttributes=attributes)
    assert error_code(e.value) in ("ParameterValueInvalid", "InvalidParameter"), e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_message_structure_json(endpoint, sns, queues, make_topic, make_sqs_queue,
                                subscribe_queue):
    topic = make_topic()
    envelope_queue, raw_queue = make_sqs_queue("env"), make_sqs_queue("raw")
    subscribe_queue(topic, envelope_queue)
    subscribe_queue(topic, raw_queue, raw=True)
    sms_arn = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550124")["SubscriptionArn"]
    structure = {"default": "for everyone", "sqs": "for queues", "sms": "for phones"}
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps(structure))
    assert envelopes(drain(queues, envelope_queue.url, 1))[0]["Message"] == "for queues"
    assert bodies(drain(queues, raw_queue.url, 1)) == ["for queues"]
    records = [r for r in get_records(endpoint) if r["subscriptionArn"] == sms_arn]
    assert len(records) == 1
    assert "for phones" in json.dumps(records[0]["message"])
    assert "for queues" not in json.dumps(records[0]["message"])

    # Only "default": every protocol gets it.
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "all"}))
    assert envelopes(drain(queues, envelope_queue.url, 1))[0]["Message"] == "all"
    assert bodies(drain(queues, raw_queue.url, 1)) == ["all"]


@pytest.mark.parametrize("message", [
    json.dumps({"sqs": "no default here"}),
    "not json at all",
    json.dumps(["default"]),
])
def test_message_structure_json_needs_a_default(sns, make_topic, message):
    expect_error("InvalidParameter", sns.publish, TopicArn=make_topic(),
                 MessageStructure="json", Message=message)


def test_message_size_limit(sns, make_topic):
    topic = make_topic()
    assert sns.publish(TopicArn=topic, Message="a" * MAX)["MessageId"]
    expect_error("InvalidParameter", sns.publish, TopicArn=topic, Message="a" * (MAX + 1))
    # Multi-byte characters count as bytes.
    expect_error("InvalidParameter", sns.publish, TopicArn=topic,
                 Message="é" * (MAX // 2 + 1))
    # Attributes count toward the limit.
    attrs = {"pad": {"DataType": "String", "StringValue": "x" * 100}}
    expect_error("InvalidParameter", sns.publish, TopicArn=topic, Message="a" * (MAX - 50),
                 MessageAttributes=attrs)


def test_large_message_is_delivered_whole(sns, queues, make_topic, make_sqs_queue,
                                          subscribe_queue):
    topic = make_topic()
    raw, wrapped = make_sqs_queue("raw"), make_sqs_queue("env")
    subscribe_queue(topic, raw, raw=True)
    subscribe_queue(topic, wrapped)
    message = "z" * (MAX - 10)
    sns.publish(TopicArn=topic, Message=message)
    assert bodies(drain(queues, raw.url, 1)) == [message]
    assert envelopes(drain(queues, wrapped.url, 1))[0]["Message"] == message


# --------------------------------------------------------------------------- batches


def test_publish_batch(sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(topic, queue)
    entries = [{"Id": f"e-{i}", "Message": f"batch message {i}"} for i in range(10)]
    entries[3]["Subject"] = "third"
    entries[4]["MessageAttributes"] = {"k": {"DataType": "String", "StringValue": "v"}}
    resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    assert resp.get("Failed", []) == []
    ids = {s["Id"]: s["MessageId"] for s in resp["Successful"]}
    assert set(ids) == {e["Id"] for e in entries}
    assert len(set(ids.values())) == 10
    got = {e["MessageId"]: e for e in envelopes(drain(queues, queue.url, 10))}
    assert set(got) == set(ids.values())
    assert got[ids["e-3"]]["Subject"] == "third"
    assert got[ids["e-4"]]["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert got[ids["e-7"]]["Message"] == "batch message 7"


def test_publish_batch_fails_whole_request_on_a_bad_entry(sns, queues, make_topic, make_sqs_queue,
                                                           subscribe_queue):
    """AWS (recorded answers) rejects the whole batch for one invalid entry; nothing is sent."""
    topic = make_topic()
    queue = make_sqs_queue()
    subscribe_queue(topic, queue, raw=True)
    for bad in ({"Id": "no-default", "Message": json.dumps({"sqs": "x"}), "MessageStructure": "json"},
                {"Id": "long-subject", "Message": "m", "Subject": "s" * 101}):
        with pytest.raises(ClientError) as e:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
                {"Id": "good-1", "Message": "one"}, bad, {"Id": "good-2", "Message": "two"}])
        assert error_code(e.value) == "InvalidParameter"
    resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "good-1", "Message": "one"}, {"Id": "good-2", "Message": "two"}])
    assert sorted(s["Id"] for s in resp["Successful"]) == ["good-1", "good-2"]
    assert resp["Failed"] == []
    assert sorted(bodies(drain(queues, queue.url, 2))) == ["one", "two"]


def test_publish_batch_request_errors(sns_unvalidated, make_topic):
    sns = sns_unvalidated
    topic = make_topic()
    expect_error("EmptyBatchRequest", sns.publish_batch, TopicArn=topic,
                 PublishBatchRequestEntries=[])
    expect_error("TooManyEntriesInBatchRequest", sns.publish_batch, TopicArn=topic,
                 PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)])
    expect_error("BatchEntryIdsNotDistinct", sns.publish_batch, TopicArn=topic,
                 PublishBatchRequestEntries=[{"Id": "same", "Message": "a"},
                                             {"Id": "same", "Message": "b"}])
    for bad in ("has space", "x" * 81, "dot.ted", ""):
        expect_error("InvalidBatchEntryId", sns.publish_batch, TopicArn=topic,
                     PublishBatchRequestEntries=[{"Id": bad, "Message": "a"}])
    expect_error("BatchRequestTooLong", sns.publish_batch, TopicArn=topic,
                 PublishBatchRequestEntries=[{"Id": str(i), "Message": "m" * 30_000}
                                             for i in range(10)])
    expect_error("NotFound", sns.publish_batch, TopicArn=topic + "-missing",
                 PublishBatchRequestEntries=[{"Id": "a", "Message": "a"}])


# --------------------------------------------------------------------------- FIFO topics


def test_fifo_publish_needs_group_and_deduplication(sns, make_topic):
    topic = make_topic(fifo=True)
    expect_error("InvalidParameter", sns.publish, TopicArn=topic, Message="m",
                 MessageDeduplicationId="d1")
    expect_error("InvalidParameter", sns.publish, TopicArn=topic, Message="m",
                 MessageGroupId="g")
    resp = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g",
                       MessageDeduplicationId="d1")
    assert resp["MessageId"] and resp["SequenceNumber"]
    standard = make_topic()
    expect_error("InvalidParameter", sns.publish, TopicArn=standard, Message="m",
                 MessageDeduplicationId="d1")


def test_fifo_duplicates_return_the_original_id_and_are_delivered_once(
        sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    topic = make_topic(fifo=True)
    queue = make_sqs_queue(fifo=True)
    subscribe_queue(topic, queue, raw=True)
    first = sns.publish(TopicArn=topic, Message="first", MessageGroupId="g",
                        MessageDeduplicationId="dup")
    again = sns.publish(TopicArn=topic, Message="first (again)", MessageGroupId="g",
                        MessageDeduplicationId="dup")
    assert again["MessageId"] == first["MessageId"]
    other = sns.publish(TopicArn=topic, Message="second", MessageGroupId="g",
                        MessageDeduplicationId="other")
    assert other["MessageId"] != first["MessageId"]
    assert int(other["SequenceNumber"]) > int(first["SequenceNumber"])
    assert bodies(drain(queues, queue.url, 2)) == ["first", "second"]


def test_fifo_content_based_deduplication(sns, queues, make_topic, make_sqs_queue,
                                          subscribe_queue):
    topic = make_topic(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    queue = make_sqs_queue(fifo=True)
    subscribe_queue(topic, queue, raw=True)
    a = sns.publish(TopicArn=topic, Message="same body", MessageGroupId="g1")
    b = sns.publish(TopicArn=topic, Message="same body", MessageGroupId="g2")
    c = sns.publish(TopicArn=topic, Message="other body", MessageGroupId="g1")
    assert a["MessageId"] == b["MessageId"]
    assert c["MessageId"] != a["MessageId"]
    assert sorted(bodies(drain(queues, queue.url, 2))) == ["other body", "same body"]


def test_fifo_publish_batch(sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    topic = make_topic(fifo=True)
    queue = make_sqs_queue(fifo=True)
    subscribe_queue(topic, queue, raw=True)
    entries = [{"Id": f"m{i}", "Message": f"msg {i}", "MessageGroupId": "g",
                "MessageDeduplicationId": f"d{i}"} for i in range(5)]
    with pytest.raises(ClientError) as e:  # one entry without a group: the whole batch fails
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries + [
            {"Id": "no-group", "Message": "x", "MessageDeduplicationId": "dx"}])
    assert e.value.response["Error"]["Message"] == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    ok = sorted(resp["Successful"], key=lambda s: s["Id"])
    assert [s["Id"] for s in ok] == [f"m{i}" for i in range(5)]
    numbers = [int(s["SequenceNumber"]) for s in ok]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5
    got = drain(queues, queue.url, 5)
    assert bodies(got) == [f"msg {i}" for i in range(5)]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
