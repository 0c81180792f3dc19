"""Protocols Postroom cannot reach (email, email-json, sms, application, firehose):
their would-be deliveries are listed at GET /_postroom/sns/records."""

from __future__ import annotations

import json
import uuid

import pytest

pytest.register_assert_rewrite("sns_helpers")

from server import wait_until  # noqa: E402
from sns_helpers import ACCOUNT, REGION, get_records, http_get  # noqa: E402

pytest_plugins = ["sns_helpers"]
pytestmark = pytest.mark.timeout(120)


def records_for(endpoint: str, sub_arn: str) -> list[dict]:
    return [r for r in get_records(endpoint) if r.get("subscriptionArn") == sub_arn]


def text_of(record: dict) -> str:
    return json.dumps(record["message"])


@pytest.mark.parametrize("protocol,target,extra", [
    ("sms", "+15555550199", {}),
    ("firehose", f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/records",
     {"SubscriptionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/firehose"}),
])
def test_publish_is_recorded_for_unreachable_protocols(endpoint, sns, make_topic, protocol,
                                                       target, extra):
    topic = make_topic()
    kwargs = {"TopicArn": topic, "Protocol": protocol, "Endpoint": target}
    if extra:
        kwargs["Attributes"] = extra
    sub = sns.subscribe(**kwargs)["SubscriptionArn"]
    token = uuid.uuid4().hex
    message_id = sns.publish(TopicArn=topic, Message=f"hello {token}", Subject="S")["MessageId"]
    got = wait_until(lambda: records_for(endpoint, sub), timeout=10)
    assert len(got) == 1
    record = got[0]
    assert record["protocol"] == protocol
    assert record["endpoint"] == target
    assert token in text_of(record)
    if protocol == "firehose":  # firehose gets the SNS envelope, sms the bare message
        assert message_id in text_of(record)


def test_records_newest_first_and_filtered(endpoint, sns, make_topic):
    topic = make_topic()
    sub = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550123",
                        Attributes={"FilterPolicy": json.dumps({"kind": ["keep"]})})[
        "SubscriptionArn"]
    for i, kind in enumerate(["keep", "drop", "keep"]):
        sns.publish(TopicArn=topic, Message=f"m{i}-{kind}", MessageAttributes={
            "kind": {"DataType": "String", "StringValue": kind}})
    got = wait_until(lambda: len(records_for(endpoint, sub)) >= 2 and records_for(endpoint, sub),
                     timeout=10)
    texts = [text_of(r) for r in got]
    assert len(texts) == 2
    assert "m2-keep" in texts[0] and "m0-keep" in texts[1]
    assert not any("m1-drop" in t for t in texts)


@pytest.mark.parametrize("protocol", ["email", "email-json"])
def test_email_confirmation_is_recorded_and_confirms(endpoint, sns, make_topic, protocol):
    topic = make_topic()
    address = f"{uuid.uuid4().hex[:12]}@example.com"
    sub = sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=address,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    # A publish while pending reaches nobody.
    sns.publish(TopicArn=topic, Message="while pending")
    [confirmation] = wait_until(lambda: records_for(endpoint, sub), timeout=10)
    assert confirmation["protocol"] == protocol
    assert confirmation["endpoint"] == address
    doc = confirmation["message"]
    assert doc["Type"] == "SubscriptionConfirmation"
    assert doc["TopicArn"] == topic
    status, _ = http_get(doc["SubscribeURL"])
    assert status == 200
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"][
        "PendingConfirmation"] == "false"

    sns.publish(TopicArn=topic, Message="after confirming", Subject="News")
    got = wait_until(lambda: len(records_for(endpoint, sub)) >= 2 and records_for(endpoint, sub),
                     timeout=10)
    assert len(got) == 2
    assert "after confirming" in text_of(got[0])
    assert not any("while pending" in text_of(r) for r in got)


def test_direct_sms_publish_is_recorded(endpoint, sns):
    token = uuid.uuid4().hex
    message_id = sns.publish(PhoneNumber="+15555550142", Message=f"sms {token}")["MessageId"]
    assert message_id

    def mine():
        return [r for r in get_records(endpoint) if token in text_of(r)]

    [record] = wait_until(mine, timeout=10)
    assert record["protocol"] == "sms"
    assert record["endpoint"] == "+15555550142"
