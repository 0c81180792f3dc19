"""SNS subscriptions: subscribe per protocol, confirmation, attributes, filter policy checks,
unsubscribe (API and UnsubscribeURL), listing."""

from __future__ import annotations

import json
import uuid

import pytest

pytest.register_assert_rewrite("sns_helpers")

from botocore.exceptions import ClientError  # noqa: E402
from server import error_code, wait_until  # noqa: E402
from sns_helpers import ACCOUNT, REGION, drain, expect_error, http_get, topic_name  # noqa: E402

pytest_plugins = ["sns_helpers"]
pytestmark = pytest.mark.timeout(120)



def attributes_of(sns, arn: str) -> dict:
    return sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]


# --------------------------------------------------------------------------- subscribe


def test_subscribe_sqs_is_confirmed_at_once(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    attrs = attributes_of(sns, arn)
    assert attrs["SubscriptionArn"] == arn
    assert attrs["TopicArn"] == topic
    assert attrs["Protocol"] == "sqs"
    assert attrs["Endpoint"] == queue.arn
    assert attrs["Owner"] == ACCOUNT
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["ConfirmationWasAuthenticated"] == "true"
    assert attrs["RawMessageDelivery"] == "false"


def test_subscribe_http_is_pending_until_confirmed(sns, make_topic, http_endpoint):
    topic = make_topic()
    ep = http_endpoint()
    assert sns.subscribe(TopicArn=topic, Protocol="http",
                         Endpoint=ep.url)["SubscriptionArn"] == "pending confirmation"
    # ReturnSubscriptionArn on the same endpoint: the same (pending) subscription's ARN.
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    attrs = attributes_of(sns, arn)
    assert attrs["PendingConfirmation"] == "true"
    assert attrs["Protocol"] == "http" and attrs["Endpoint"] == ep.url
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"

    [confirmation] = ep.wait_for("SubscriptionConfirmation", 1)[:1]
    doc = confirmation.json()
    assert doc["TopicArn"] == topic
    confirmed = sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])
    assert confirmed["SubscriptionArn"] == arn
    attrs = attributes_of(sns, arn)
    assert attrs["PendingConfirmation"] == "false"
    topic_attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert topic_attrs["SubscriptionsPending"] == "0"
    assert topic_attrs["SubscriptionsConfirmed"] == "1"
    # Confirming again is harmless and names the same subscription.
    assert sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])[
        "SubscriptionArn"] == arn


def test_pending_subscriptions_are_listed_as_pending_confirmation(sns, make_topic):
    # AWS lists a subscription that is not confirmed yet with SubscriptionArn
    # "PendingConfirmation" (Subscribe itself answers "pending confirmation").
    topic = make_topic()
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    assert sns.subscribe(TopicArn=topic, Protocol="email",
                         Endpoint=email)["SubscriptionArn"] == "pending confirmation"
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["Endpoint"] == email
    assert sub["SubscriptionArn"] == "PendingConfirmation"


@pytest.mark.parametrize("protocol", ["email", "email-json"])
def test_subscribe_email_is_pending(sns, make_topic, protocol):
    topic = make_topic()
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    resp = sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=email)
    assert resp["SubscriptionArn"] == "pending confirmation"
    arn = sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=email,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    attrs = attributes_of(sns, arn)
    assert attrs["PendingConfirmation"] == "true"
    assert attrs["Protocol"] == protocol and attrs["Endpoint"] == email


@pytest.mark.parametrize("protocol,target,extra", [
    ("lambda", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:handler", {}),
    ("sms", "+15555550123", {}),
    ("application", f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/"
                    "0b3f2a55-8d8c-3c1d-9a56-4f8a2c7c1e11", {}),
    ("firehose", f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/stream",
     {"SubscriptionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/sns-firehose"}),
])
def test_subscribe_other_protocols_are_stored(sns, make_topic, protocol, target, extra):
    topic = make_topic()
    kwargs = {"TopicArn": topic, "Protocol": protocol, "Endpoint": target}
    if extra:
        kwargs["Attributes"] = extra
    arn = sns.subscribe(**kwargs)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    attrs = attributes_of(sns, arn)
    assert attrs["Protocol"] == protocol
    assert attrs["Endpoint"] == target
    assert attrs["PendingConfirmation"] == "false"
    for key, value in extra.items():
        assert attrs[key] == value
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["SubscriptionArn"], s["Protocol"], s["Endpoint"]) for s in listed] == [
        (arn, protocol, target)]


def test_firehose_needs_subscription_role_arn(sns, make_topic):
    topic = make_topic()
    expect_error("InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="firehose",
                 Endpoint=f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/stream")


@pytest.mark.parametrize("protocol,target,attributes", [
    ("carrier-pigeon", "coop", None),
    ("sqs", "not-an-arn", None),
    ("http", "ftp://example.com/hook", None),
    ("https", "http://example.com/hook", None),
    ("email", "no-at-sign", None),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", {"NoSuchAttribute": "1"}),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", {"RawMessageDelivery": "maybe"}),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", {"FilterPolicyScope": "Headers"}),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", {"RedrivePolicy": "not json"}),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q",
     {"RedrivePolicy": json.dumps({"deadLetterTargetArn": "not-an-arn"})}),
    ("email", "someone@example.com", {"RawMessageDelivery": "true"}),
])
def test_invalid_subscribe_requests(sns, make_topic, protocol, target, attributes):
    topic = make_topic()
    kwargs = {"TopicArn": topic, "Protocol": protocol, "Endpoint": target}
    if attributes:
        kwargs["Attributes"] = attributes
    expect_error("InvalidParameter", sns.subscribe, **kwargs)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


INVALID_FILTER_POLICIES = [
    ("not json", "MessageAttributes"),
    ('["a", "b"]', "MessageAttributes"),
    ('{"sport": "rugby"}', "MessageAttributes"),                    # values must be lists
    ('{"sport": [{"prefix": 5}]}', "MessageAttributes"),
    ('{"sport": [{"no-such-operator": "x"}]}', "MessageAttributes"),
    ('{"price": [{"numeric": [">", "cheap"]}]}', "MessageAttributes"),
    ('{"price": [{"numeric": ["<", 5, ">", 10]}]}', "MessageAttributes"),  # wrong order
    ('{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}',
     "MessageAttributes"),                                          # more than 5 keys
    (json.dumps({"a": [str(i) for i in range(10)], "b": [str(i) for i in range(16)]}),
     "MessageAttributes"),                                          # 160 > 150 combinations
    ('{"order": {"status": ["shipped"]}}', "MessageAttributes"),   # nesting: body scope only
    ('{"order": {"status": "shipped"}}', "MessageBody"),
]


@pytest.mark.parametrize("policy,scope", INVALID_FILTER_POLICIES)
def test_invalid_filter_policy_is_rejected(sns, make_topic, make_sqs_queue, policy, scope):
    topic = make_topic()
    queue = make_sqs_queue()
    expect_error("InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="sqs",
                 Endpoint=queue.arn, Attributes={"FilterPolicy": policy,
                                                 "FilterPolicyScope": scope})
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn)["SubscriptionArn"]
    if scope != "MessageAttributes":
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicyScope",
                                        AttributeValue=scope)
    expect_error("InvalidParameter", sns.set_subscription_attributes, SubscriptionArn=arn,
                 AttributeName="FilterPolicy", AttributeValue=policy)
    assert "FilterPolicy" not in attributes_of(sns, arn)


def test_duplicate_subscribe_returns_the_same_arn(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    first = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn,
                          Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    again = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn,
                          Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert again == first
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn)[
        "SubscriptionArn"] == first
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1
    # The same endpoint with different attributes is an error.
    expect_error("InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="sqs",
                 Endpoint=queue.arn, Attributes={"RawMessageDelivery": "false"})


def test_subscription_attributes_round_trip(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    dlq = make_sqs_queue("dlq")
    policy = {"sport": ["rugby"], "score": [{"numeric": [">", 10]}]}
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn, Attributes={
        "RawMessageDelivery": "true",
        "FilterPolicy": json.dumps(policy),
    })["SubscriptionArn"]
    attrs = attributes_of(sns, arn)
    assert attrs["RawMessageDelivery"] == "true"
    assert json.loads(attrs["FilterPolicy"]) == policy
    assert attrs["FilterPolicyScope"] == "MessageAttributes"

    redrive = {"deadLetterTargetArn": dlq.arn}
    body_policy = {"order": {"status": ["shipped"]}}
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RedrivePolicy",
                                    AttributeValue=json.dumps(redrive))
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps(body_policy))
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                                    AttributeValue="false")
    attrs = attributes_of(sns, arn)
    assert json.loads(attrs["RedrivePolicy"]) == redrive
    assert attrs["FilterPolicyScope"] == "MessageBody"
    assert json.loads(attrs["FilterPolicy"]) == body_policy
    assert attrs["RawMessageDelivery"] == "false"

    expect_error("InvalidParameter", sns.set_subscription_attributes, SubscriptionArn=arn,
                 AttributeName="Protocol", AttributeValue="http")
    expect_error("InvalidParameter", sns.set_subscription_attributes, SubscriptionArn=arn,
                 AttributeName="RawMessageDelivery", AttributeValue="yes")


def test_http_subscription_delivery_policy(sns, make_topic, http_endpoint):
    topic = make_topic()
    ep = http_endpoint()
    delivery = {"healthyRetryPolicy": {
        "minDelayTarget": 2, "maxDelayTarget": 8, "numRetries": 6, "numNoDelayRetries": 1,
        "numMinDelayRetries": 1, "numMaxDelayRetries": 1, "backoffFunction": "geometric"},
        "throttlePolicy": {"maxReceivesPerSecond": 5}}
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    attrs = attributes_of(sns, arn)
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy",
                                    AttributeValue=json.dumps(delivery))
    attrs = attributes_of(sns, arn)
    assert json.loads(attrs["DeliveryPolicy"]) == delivery
    expect_error("InvalidParameter", sns.set_subscription_attributes, SubscriptionArn=arn,
                 AttributeName="DeliveryPolicy", AttributeValue=json.dumps(
                     {"healthyRetryPolicy": {"minDelayTarget": 9, "maxDelayTarget": 2,
                                             "numRetries": 3}}))


def test_missing_subscription_is_not_found(sns, make_topic):
    topic = make_topic()
    missing = f"{topic}:{uuid.uuid4()}"
    expect_error("NotFound", sns.get_subscription_attributes, SubscriptionArn=missing)
    expect_error("NotFound", sns.set_subscription_attributes, SubscriptionArn=missing,
                 AttributeName="RawMessageDelivery", AttributeValue="true")


def test_confirm_subscription_with_a_bad_token(sns, make_topic):
    topic = make_topic()
    expect_error("InvalidParameter", sns.confirm_subscription, TopicArn=topic,
                 Token="0" * 64)


# --------------------------------------------------------------------------- unsubscribe


def test_unsubscribe(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    keep = sns.subscribe(TopicArn=topic, Protocol="sqs",
                         Endpoint=make_sqs_queue().arn)["SubscriptionArn"]
    drop = sns.subscribe(TopicArn=topic, Protocol="sqs",
                         Endpoint=make_sqs_queue().arn)["SubscriptionArn"]
    sns.unsubscribe(SubscriptionArn=drop)
    expect_error("NotFound", sns.get_subscription_attributes, SubscriptionArn=drop)
    listed = [s["SubscriptionArn"] for s in
              sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
    assert listed == [keep]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"][
        "SubscriptionsConfirmed"] == "1"


def test_unsubscribe_url_in_envelope_is_a_plain_get(sns, queues, make_topic, make_sqs_queue,
                                                    subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    arn = subscribe_queue(topic, queue)
    sns.publish(TopicArn=topic, Message="first")
    [msg] = drain(queues, queue.url, 1)
    envelope = json.loads(msg["Body"])
    assert envelope["Message"] == "first"
    status, body = http_get(envelope["UnsubscribeURL"])
    assert status == 200, body
    expect_error("NotFound", sns.get_subscription_attributes, SubscriptionArn=arn)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    sns.publish(TopicArn=topic, Message="second")
    assert drain(queues, queue.url, 0) == []


def test_delete_topic_removes_its_subscriptions(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs",
                        Endpoint=make_sqs_queue().arn)["SubscriptionArn"]
    sns.delete_topic(TopicArn=topic)

    def gone():
        try:
            sns.get_subscription_attributes(SubscriptionArn=arn)
        except ClientError as e:
            return error_code(e) == "NotFound"
        return False

    assert wait_until(gone, timeout=10)
    mine = [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == topic]
    assert mine == []


# --------------------------------------------------------------------------- listing


def test_list_subscriptions_and_by_topic(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    other = make_topic()
    queue = make_sqs_queue()
    a = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn)["SubscriptionArn"]
    b = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100")["SubscriptionArn"]
    c = sns.subscribe(TopicArn=other, Protocol="sqs", Endpoint=queue.arn)["SubscriptionArn"]
    by_topic = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in by_topic) == sorted([a, b])
    for s in by_topic:
        assert s["TopicArn"] == topic and s["Owner"] == ACCOUNT
    assert {s["Protocol"]: s["Endpoint"] for s in by_topic} == {
        "sqs": queue.arn, "sms": "+15555550100"}
    everything = []
    for page in sns.get_paginator("list_subscriptions").paginate():
        everything += page["Subscriptions"]
    mine = {s["SubscriptionArn"]: s for s in everything if s["TopicArn"] in (topic, other)}
    assert set(mine) == {a, b, c}
    assert mine[c]["Endpoint"] == queue.arn and mine[c]["Protocol"] == "sqs"


def test_list_subscriptions_by_topic_pages_past_100(sns, make_topic):
    topic = make_topic()
    arns = {sns.subscribe(TopicArn=topic, Protocol="sms",
                          Endpoint=f"+1555{i:07d}")["SubscriptionArn"] for i in range(103)}
    first = sns.list_subscriptions_by_topic(TopicArn=topic)
    assert 1 <= len(first["Subscriptions"]) <= 100
    assert first.get("NextToken")
    seen = [s["SubscriptionArn"] for s in first["Subscriptions"]]
    token = first["NextToken"]
    while token:
        page = sns.list_subscriptions_by_topic(TopicArn=topic, NextToken=token)
        seen += [s["SubscriptionArn"] for s in page["Subscriptions"]]
        token = page.get("NextToken")
    assert len(seen) == len(set(seen)) == 103
    assert set(seen) == arns


def test_subscribing_an_unknown_topic_name_is_not_found(sns):
    expect_error("NotFound", sns.subscribe,
                 TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic_name('nope')}",
                 Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")
