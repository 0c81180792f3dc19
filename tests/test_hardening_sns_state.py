"""Issue 11, defects 5 and 9: the signing key pair survives a bad write, and FIFO-topic
deduplication survives a restart."""

from __future__ import annotations

import json
import os
import stat

import pytest

pytest.register_assert_rewrite("sns_helpers")

from server import make_client, unique_name  # noqa: E402
from sns_helpers import drain, http_get, sns_client, topic_name, verify_signature  # noqa: E402

CERT_PATH = "/_postroom/sns/SimpleNotificationService.pem"


def _signed_message(srv) -> dict:
    """Publish through a topic to a queue (JSON envelope) and return the envelope."""
    sns, sqs = sns_client(srv.endpoint), make_client(srv.endpoint, "json")
    topic = sns.create_topic(Name=topic_name("signed"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique_name("signed"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="verify me")
    [message] = drain(sqs, url, 1)
    return json.loads(message["Body"])


def test_key_pair_is_written_at_start_and_private(private_server, tmp_path):
    data = tmp_path / "keys"
    private_server(data_dir=data)
    key, cert = data / "sns-signing-key.pem", data / "sns-signing-cert.pem"
    assert key.stat().st_size > 0 and cert.stat().st_size > 0  # no GET needed first
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not [p for p in os.listdir(data) if p.endswith(".tmp")]


@pytest.mark.parametrize("damage", ["empty-cert", "empty-key", "other-cert", "missing-cert"])
def test_unusable_key_pair_is_replaced_at_start(private_server, tmp_path, damage):
    data = tmp_path / "keys"
    srv = private_server(data_dir=data)
    key, cert = data / "sns-signing-key.pem", data / "sns-signing-cert.pem"
    original_cert = cert.read_bytes()
    srv.stop()
    if damage == "empty-cert":  # what a full disk left behind
        cert.write_bytes(b"")
    elif damage == "empty-key":
        key.write_bytes(b"")
    elif damage == "missing-cert":
        cert.unlink()
    else:  # a certificate of another key pair (a crash between the two writes)
        other = private_server(data_dir=tmp_path / "other")
        other.stop()
        cert.write_bytes((tmp_path / "other" / "sns-signing-cert.pem").read_bytes())
    srv.start()
    status, pem = http_get(srv.endpoint + CERT_PATH)
    assert status == 200 and pem.startswith(b"-----BEGIN CERTIFICATE-----")
    verify_signature(_signed_message(srv))
    assert cert.read_bytes() == pem != original_cert


def test_fifo_topic_deduplication_survives_a_restart(private_server, tmp_path):
    srv = private_server(data_dir=tmp_path / "dedup")
    sns, sqs = sns_client(srv.endpoint), make_client(srv.endpoint, "json")
    topic = sns.create_topic(Name=topic_name("dedup", fifo=True), Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName=unique_name("dedup"))["QueueUrl"]  # a standard queue
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=topic, Message="once", MessageGroupId="g", MessageDeduplicationId="d1")
    srv.kill()
    srv.start()
    sns, sqs = sns_client(srv.endpoint), make_client(srv.endpoint, "json")
    again = sns.publish(TopicArn=topic, Message="once", MessageGroupId="g", MessageDeduplicationId="d1")
    batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "once", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "b", "Message": "new", "MessageGroupId": "g", "MessageDeduplicationId": "d2"},
        {"Id": "c", "Message": "new", "MessageGroupId": "g", "MessageDeduplicationId": "d2"},
    ])
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    ids = {e["Id"]: e["MessageId"] for e in batch["Successful"]}
    assert ids["a"] == first["MessageId"] and ids["b"] == ids["c"] != first["MessageId"]
    bodies = sorted(m["Body"] for m in drain(sqs, url, 2))
    assert bodies == ["new", "once"]
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
