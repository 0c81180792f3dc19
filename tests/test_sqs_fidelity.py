"""SQS semantics as AWS has them (issue 10), over both wire protocols."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from server import error_code, signed_request, unique_name


def _error(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value


def _fifo(make_queue, **attributes):
    return make_queue(name=unique_name("fid") + ".fifo", attributes={"FifoQueue": "true", **attributes})


def test_missing_queue_message_per_protocol(sqs, protocol):
    e = _error(sqs.get_queue_url, QueueName=unique_name("missing"))
    expected = "The specified queue does not exist."
    if protocol == "query":
        expected = "The specified queue does not exist for this wsdl version."
    assert e.response["Error"]["Message"] == expected


def test_fifo_queue_attribute_rules(sqs, make_queue):
    e = _error(sqs.create_queue, QueueName=unique_name("std"), Attributes={"FifoQueue": "false"})
    assert error_code(e) == "InvalidAttributeName"
    standard = make_queue()
    e = _error(sqs.set_queue_attributes, QueueUrl=standard, Attributes={"FifoQueue": "true"})
    assert error_code(e) == "InvalidAttributeName"
    e = _error(sqs.get_queue_attributes, QueueUrl=standard, AttributeNames=["FifoQueue"])
    assert (error_code(e), e.response["Error"]["Message"]) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.")
    fifo = _fifo(make_queue)
    sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "true"})
    e = _error(sqs.set_queue_attributes, QueueUrl=fifo, Attributes={"FifoQueue": "false"})
    assert (error_code(e), e.response["Error"]["Message"]) == (
        "InvalidAttributeValue", "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")
    attributes = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true" and attributes["SqsManagedSseEnabled"] == "true"


def test_fifo_delete_with_expired_receipt_fails(sqs, make_queue):
    url = _fifo(make_queue, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    time.sleep(1.2)
    e = _error(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert error_code(e) == "InvalidParameterValue"
    assert "The receipt handle has expired" in e.response["Error"]["Message"]
    batch = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "x", "ReceiptHandle": message["ReceiptHandle"]}])
    assert [f["Code"] for f in batch["Failed"]] == ["InvalidParameterValue"]
    [again] = sqs.receive_message(QueueUrl=url)["Messages"]  # still there
    assert again["Body"] == "a"
    # The first receipt stays expired once a later receive holds the message.
    e = _error(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert error_code(e) == "InvalidParameterValue"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])  # already gone: success


def test_fifo_delete_wakes_long_poll(sqs, make_queue):
    url = _fifo(make_queue, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="second", MessageGroupId="g")
    [head] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    got: dict = {}

    def poll():
        started = time.monotonic()
        got["messages"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
        got["took"] = time.monotonic() - started

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=head["ReceiptHandle"])
    waiter.join(15)
    assert [m["Body"] for m in got["messages"]] == ["second"]
    assert got["took"] < 5


def test_fifo_per_message_zero_delay_takes_queue_delay(sqs, make_queue):
    url = _fifo(make_queue, ContentBasedDeduplication="true", DelaySeconds="2")
    sqs.send_message(QueueUrl=url, MessageBody="late", MessageGroupId="g", DelaySeconds=0)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]["Body"] == "late"


def test_purge_clears_deduplication(sqs, make_queue):
    url = _fifo(make_queue)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="x again", MessageGroupId="g", MessageDeduplicationId="d")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"][0]["Body"] == "x again"


def test_fifo_batch_missing_ids_fail_whole_request(sqs, make_queue):
    url = _fifo(make_queue)
    e = _error(sqs.send_message_batch, QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
        {"Id": "b", "MessageBody": "b", "MessageDeduplicationId": "2"},
    ])
    assert (error_code(e), e.response["Error"]["Message"]) == (
        "InvalidParameterValue", "The request must contain the parameter MessageGroupId.")
    e = _error(sqs.send_message_batch, QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
        {"Id": "b", "MessageBody": "b", "MessageGroupId": "g"},
    ])
    assert error_code(e) == "InvalidParameterValue"
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_batch_limit_is_the_request_limit_not_maximum_message_size(sqs, make_queue):
    url = make_queue(attributes={"MaximumMessageSize": "1024"})
    entries = [{"Id": str(i), "MessageBody": "x" * 1000} for i in range(3)]  # 3,000 bytes in all
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(answer["Successful"]) == 3
    too_big = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "big", "MessageBody": "x" * 1100}])
    assert [f["Id"] for f in too_big["Failed"]] == ["big"]


def test_queue_url_may_be_a_bare_queue_name(sqs, make_queue):
    name = unique_name("bare")
    url = make_queue(name=name)
    sqs.send_message(QueueUrl=name, MessageBody="by name")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert message["Body"] == "by name"


def test_fifo_queue_delay_is_retroactive_standard_is_not(sqs, make_queue):
    fifo = _fifo(make_queue, ContentBasedDeduplication="true", DelaySeconds="60")
    standard = make_queue(attributes={"DelaySeconds": "60"})
    sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g")
    sqs.send_message(QueueUrl=standard, MessageBody="s")
    for url in (fifo, standard):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
    assert sqs.receive_message(QueueUrl=fifo, WaitTimeSeconds=2)["Messages"][0]["Body"] == "f"
    assert sqs.receive_message(QueueUrl=standard, WaitTimeSeconds=1).get("Messages", []) == []


def test_visibility_change_after_expiry_or_zero_visibility_receive(sqs, queue_url):
    """AWS (recorded answer): the latest receipt still changes the visibility of a message
    whose timeout ended; a receipt replaced by a later receive no longer does."""
    sqs.send_message(QueueUrl=queue_url, MessageBody="m")
    [message] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"]
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                  VisibilityTimeout=1)
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages", []) == []  # hidden again
    [again] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=1, WaitTimeSeconds=5,
                                  AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    e = _error(sqs.change_message_visibility, QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
               VisibilityTimeout=30)
    assert error_code(e) == "InvalidParameterValue"
    time.sleep(1.2)
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=30)
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages", []) == []


def test_message_attribute_name_patterns(sqs, queue_url):
    attributes = {name: {"DataType": "String", "StringValue": name}
                  for name in ("order.id", "order.total", "trace", "empty")}
    sqs.send_message(QueueUrl=queue_url, MessageBody="m", MessageAttributes=attributes)
    cases = {("All",): set(attributes), (".*",): set(attributes), ("order.*",): {"order.id", "order.total"},
             ("trace", "missing"): {"trace"}, ("missing",): set()}
    for names, expected in cases.items():
        [message] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0,
                                        MessageAttributeNames=list(names))["Messages"]
        assert set(message.get("MessageAttributes", {})) == expected, names
        assert ("MD5OfMessageAttributes" in message) == bool(expected)
    e = _error(sqs.send_message, QueueUrl=queue_url, MessageBody="m",
               MessageAttributes={"ErrorDetails": {"DataType": "String", "StringValue": ""}})
    assert (error_code(e), e.response["Error"]["Message"]) == (
        "InvalidParameterValue", "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.")
    e = _error(sqs.send_message, QueueUrl=queue_url, MessageBody="m",
               MessageAttributes={"naïve": {"DataType": "String", "StringValue": "x"}})
    assert error_code(e) == "InvalidParameterValue"


def test_policy_and_kms_attributes_kept_as_given(sqs, make_queue):
    policy = '{"Version":"2012-10-17","Statement":[]}'
    url = make_queue(attributes={"Policy": policy, "KmsMasterKeyId": "alias/aws/sqs",
                                 "KmsDataKeyReusePeriodSeconds": "600"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert got["Policy"] == policy
    assert got["KmsDataKeyReusePeriodSeconds"] == "600"
    assert got["SqsManagedSseEnabled"] == "false"


def test_query_error_document_keeps_detail(endpoint):
    """Captured AWS SQS query errors carry an empty <Detail/> (SNS's do not)."""
    body = f"Action=GetQueueUrl&Version=2012-11-05&QueueName={unique_name('missing')}"
    request = signed_request(endpoint + "/", method="POST", data=body.encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    xml = e.value.read().decode()
    assert "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in xml
    assert "<Message>The specified queue does not exist for this wsdl version.</Message>" in xml
    assert "</Message><Detail/></Error>" in xml


def test_recorded_attribute_error_texts(sqs, queue_url):
    e = _error(sqs.set_queue_attributes, QueueUrl=queue_url,
               Attributes={"KmsMasterKeyId": "testKeyId", "SqsManagedSseEnabled": "true"})
    assert (error_code(e), e.response["Error"]["Message"]) == (
        "InvalidAttributeName",
        "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.")
    policy = '{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}'
    e = _error(sqs.set_queue_attributes, QueueUrl=queue_url, Attributes={"RedrivePolicy": policy})
    assert (error_code(e), e.response["Error"]["Message"]) == (
        "InvalidParameterValue",
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn.")


def test_permission_policy_shape_and_texts(sqs, make_queue):
    url = make_queue()
    sqs.add_permission(QueueUrl=url, Label="crossaccountpermission", AWSAccountIds=["111111111111"],
                       Actions=["ReceiveMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Version"] == "2008-10-17" and policy["Id"].endswith("/SQSDefaultPolicy")
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert policy["Statement"][0]["Action"] == "SQS:ReceiveMessage"
    e = _error(sqs.remove_permission, QueueUrl=url, Label="nope")
    assert e.response["Error"]["Message"] == "Value nope for parameter Label is invalid. Reason: can't find label."


def test_purge_in_progress_names_the_queue(sqs, make_queue):
    name = unique_name("purge")
    url = make_queue(name=name)
    sqs.purge_queue(QueueUrl=url)
    e = _error(sqs.purge_queue, QueueUrl=url)
    assert e.response["Error"]["Message"] == f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
