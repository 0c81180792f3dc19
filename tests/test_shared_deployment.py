"""Options for shared deployments: ``--sns-queue-policies`` (SNS copies to SQS need the
queue policy's grant, checked on Principal, aws:SourceArn and aws:SourceAccount, as on AWS)
and ``--deny-private-targets`` (HTTP/S subscriptions reach public addresses only)."""

from __future__ import annotations

import json
import time

import pytest

pytest.register_assert_rewrite("sns_helpers")

from server import ServerProcess, make_client, unique_name  # noqa: E402
from sns_helpers import HttpEndpoint, sns_client  # noqa: E402

from postroom.sns.targets import is_public  # noqa: E402


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("shared-deploy"), args=[
        "--sns-queue-policies", "--deny-private-targets"]).start()
    yield proc
    proc.stop()


def _queue(sqs, name: str | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or unique_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _sns_policy(queue_arn: str, condition: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": condition}]})


def _bodies(sqs, url: str, wait: int = 1) -> list[str]:
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in msgs]


def test_sns_needs_the_queue_policy_grant(shared):
    sqs, sns = make_client(shared.endpoint, "json"), sns_client(shared.endpoint)
    topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    other_topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    url, arn = _queue(sqs)
    dlq_url, dlq_arn = _queue(sqs)
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"Policy": _sns_policy(dlq_arn, {})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={
        "RawMessageDelivery": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})

    sns.publish(TopicArn=topic, Message="no policy")
    assert _bodies(sqs, url) == []
    assert _bodies(sqs, dlq_url, wait=5) == ["no policy"]  # refused copies go to the DLQ

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _sns_policy(arn, {"ArnEquals": {"aws:SourceArn": other_topic}})})
    sns.publish(TopicArn=topic, Message="another topic's grant")
    assert _bodies(sqs, url) == []

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _sns_policy(arn, {
        "ArnEquals": {"aws:SourceArn": topic}, "StringEquals": {"aws:SourceAccount": "000000000000"}})})
    sns.publish(TopicArn=topic, Message="granted")
    assert _bodies(sqs, url, wait=5) == ["granted"]


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "https://[::1]/hook", "http://169.254.169.254/latest",
    "http://[::ffff:192.168.0.1]/x",
])
def test_private_address_subscriptions_are_refused(shared, target):
    sns = sns_client(shared.endpoint)
    topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    with pytest.raises(Exception) as exc:
        sns.subscribe(TopicArn=topic, Protocol=target.split(":")[0], Endpoint=target)
    assert exc.value.response["Error"]["Code"] == "InvalidParameter"


def test_names_resolving_to_private_addresses_get_nothing(shared):
    hook = HttpEndpoint().start()
    try:
        sns = sns_client(shared.endpoint)
        topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
        url = hook.url.replace("127.0.0.1", "localhost")  # a name: accepted, checked at delivery
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
        time.sleep(1.5)
        assert hook.received == []
    finally:
        hook.stop()


@pytest.mark.parametrize("address,public", [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.0.0.1", False),
    ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False), ("::1", False),
    ("fe80::1", False), ("fc00::1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::ffff:127.0.0.1", False), ("100.64.0.1", False),
])
def test_public_addresses(address, public):
    assert is_public(address) is public
