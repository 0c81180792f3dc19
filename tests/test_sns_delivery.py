"""SNS delivery to SQS: fan-out, the JSON envelope, raw delivery and its attribute mapping,
filter policies end to end, dead-letter queues, and FIFO topics."""

from __future__ import annotations

import base64
import calendar
import json
import re
import time

import pytest

pytest.register_assert_rewrite("sns_helpers")

from sns_helpers import (  # noqa: E402
    ACCOUNT,
    CERT_PATH,
    TIMESTAMP_PATTERN,
    bodies,
    drain,
    expect_error,
    verify_signature,
)

pytest_plugins = ["sns_helpers"]
pytestmark = pytest.mark.timeout(120)



# --------------------------------------------------------------------------- fan-out


def test_fan_out_envelope(endpoint, sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    topic = make_topic()
    first, second = make_sqs_queue("a"), make_sqs_queue("b")
    sub_a = subscribe_queue(topic, first)
    sub_b = subscribe_queue(topic, second)
    before = time.time()
    message_id = sns.publish(TopicArn=topic, Message="order #1 shipped", Subject="Shipping",
                             MessageAttributes={
                                 "kind": {"DataType": "String", "StringValue": "shipped"},
                                 "weight": {"DataType": "Number", "StringValue": "2.5"},
                                 "raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
                             })["MessageId"]
    for queue, sub in ((first, sub_a), (second, sub_b)):
        [msg] = drain(queues, queue.url, 1)
        doc = json.loads(msg["Body"])
        assert doc["Type"] == "Notification"
        assert doc["MessageId"] == message_id
        assert doc["TopicArn"] == topic
        assert doc["Subject"] == "Shipping"
        assert doc["Message"] == "order #1 shipped"
        assert re.match(TIMESTAMP_PATTERN, doc["Timestamp"]), doc["Timestamp"]
        stamp = calendar.timegm(time.strptime(doc["Timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert before - 120 < stamp < time.time() + 120
        assert doc["SignatureVersion"] == "1"
        assert re.fullmatch(re.escape(endpoint) + CERT_PATH, doc["SigningCertURL"])
        verify_signature(doc)
        assert doc["UnsubscribeURL"].startswith(endpoint)
        assert "Action=Unsubscribe" in doc["UnsubscribeURL"]
        assert sub.replace(":", "%3A") in doc["UnsubscribeURL"] or sub in doc["UnsubscribeURL"]
        assert doc["MessageAttributes"] == {
            "kind": {"Type": "String", "Value": "shipped"},
            "weight": {"Type": "Number", "Value": "2.5"},
            "raw": {"Type": "Binary", "Value": base64.b64encode(b"\x01\x02").decode()},
        }
        assert set(doc) <= {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                            "SignatureVersion", "Signature", "SigningCertURL",
                            "UnsubscribeURL", "MessageAttributes"}
        assert msg["Attributes"]["SenderId"]


def test_signature_version_2_envelope(sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    topic = make_topic(attributes={"SignatureVersion": "2"})
    queue = make_sqs_queue()
    subscribe_queue(topic, queue)
    sns.publish(TopicArn=topic, Message="signed with SHA256")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion",
                             AttributeValue="1")
    sns.publish(TopicArn=topic, Message="signed with SHA1")
    docs = {json.loads(b)["Message"]: json.loads(b) for b in bodies(drain(queues, queue.url, 2))}
    assert docs["signed with SHA256"]["SignatureVersion"] == "2"
    assert docs["signed with SHA1"]["SignatureVersion"] == "1"
    for doc in docs.values():
        verify_signature(doc)
        assert "Subject" not in doc
    # A tampered message fails verification.
    tampered = dict(docs["signed with SHA256"], Message="changed")
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidSignature
        verify_signature(tampered)


def test_raw_delivery_maps_message_attributes(sns, queues, make_topic, make_sqs_queue,
                                              subscribe_queue):
    topic = make_topic()
    raw, wrapped = make_sqs_queue("raw"), make_sqs_queue("env")
    subscribe_queue(topic, raw, raw=True)
    subscribe_queue(topic, wrapped)
    sns.publish(TopicArn=topic, Message='{"not": "wrapped"}', Subject="ignored when raw",
                MessageAttributes={
                    "color": {"DataType": "String", "StringValue": "blue"},
                    "count": {"DataType": "Number", "StringValue": "42"},
                    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
                    "list": {"DataType": "String.Array", "StringValue": '["x", "y"]'},
                })
    [msg] = drain(queues, raw.url, 1)
    assert msg["Body"] == '{"not": "wrapped"}'
    attrs = msg["MessageAttributes"]
    assert attrs["color"] == {"DataType": "String", "StringValue": "blue"}
    assert attrs["count"] == {"DataType": "Number", "StringValue": "42"}
    assert attrs["blob"] == {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"}
    assert attrs["list"]["DataType"] == "String.Array"
    assert json.loads(attrs["list"]["StringValue"]) == ["x", "y"]
    # The wrapped copy carries the same message inside the envelope.
    [env] = drain(queues, wrapped.url, 1)
    assert json.loads(env["Body"])["Message"] == '{"not": "wrapped"}'


def test_fan_out_many_queues_once_each(sns, queues, make_topic, make_sqs_queue,
                                       subscribe_queue):
    topic = make_topic()
    targets = [make_sqs_queue(f"fan{i}") for i in range(5)]
    for i, queue in enumerate(targets):
        subscribe_queue(topic, queue, raw=bool(i % 2))
    ids = [sns.publish(TopicArn=topic, Message=f"event {n}")["MessageId"] for n in range(3)]
    for i, queue in enumerate(targets):
        got = drain(queues, queue.url, 3)
        if i % 2:
            assert sorted(bodies(got)) == ["event 0", "event 1", "event 2"]
        else:
            docs = [json.loads(b) for b in bodies(got)]
            assert sorted(d["MessageId"] for d in docs) == sorted(ids)


def test_unsubscribed_queue_gets_nothing_more(sns, queues, make_topic, make_sqs_queue,
                                              subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    arn = subscribe_queue(topic, queue, raw=True)
    sns.publish(TopicArn=topic, Message="before")
    sns.unsubscribe(SubscriptionArn=arn)
    sns.publish(TopicArn=topic, Message="after")
    assert bodies(drain(queues, queue.url, 1)) == ["before"]


# --------------------------------------------------------------------------- filters

ATTRIBUTE_POLICIES = {
    "rugby": {"sport": ["rugby"]},
    "not-rugby": {"sport": [{"anything-but": "rugby"}]},
    "bas": {"sport": [{"prefix": "bas"}]},
    "balance-eq": {"balance": [{"numeric": ["=", 301.5]}]},
    "balance-range": {"balance": [{"numeric": [">", 0, "<=", 150]}]},
    "rugby-english": {"sport": ["rugby"], "language": ["English"]},
}

# name -> (attributes, the policies it matches)
ATTRIBUTE_MESSAGES = {
    "rugby": ({"sport": "rugby"}, {"rugby"}),
    "baseball": ({"sport": "baseball"}, {"not-rugby", "bas"}),
    "basketball": ({"sport": "basketball"}, {"not-rugby", "bas"}),
    "rugby-en": ({"sport": "rugby", "language": "English"}, {"rugby", "rugby-english"}),
    "rugby-fr": ({"sport": "rugby", "language": "French"}, {"rugby"}),
    "en-only": ({"language": "English"}, set()),
    "b301.500": ({"balance": "301.500"}, {"balance-eq"}),
    "b3.015e2": ({"balance": "3.015e2"}, {"balance-eq"}),
    "b301.6": ({"balance": "301.6"}, set()),
    "b0": ({"balance": "0"}, set()),
    "b0.5": ({"balance": "0.5"}, {"balance-range"}),
    "b150": ({"balance": "150"}, {"balance-range"}),
    "b150.01": ({"balance": "150.01"}, set()),
    "b-1": ({"balance": "-1"}, set()),
    "no-attributes": ({}, set()),
}


def _sns_attributes(values: dict) -> dict:
    """"balance" is a Number attribute, everything else a String."""
    return {name: {"DataType": "Number" if name == "balance" else "String", "StringValue": value}
            for name, value in values.items()}


def test_filter_policies_on_message_attributes(sns, queues, make_topic, make_sqs_queue,
                                               subscribe_queue):
    topic = make_topic()
    filtered = {}
    for name, policy in ATTRIBUTE_POLICIES.items():
        queue = make_sqs_queue(f"f-{name}")
        subscribe_queue(topic, queue, raw=True, FilterPolicy=json.dumps(policy))
        filtered[name] = queue
    everything = make_sqs_queue("all")
    subscribe_queue(topic, everything, raw=True)
    for body, (values, _) in ATTRIBUTE_MESSAGES.items():
        kwargs = {"TopicArn": topic, "Message": body}
        if values:
            kwargs["MessageAttributes"] = _sns_attributes(values)
        sns.publish(**kwargs)
    # No filter: everything arrives.
    assert sorted(bodies(drain(queues, everything.url, len(ATTRIBUTE_MESSAGES)))) == sorted(
        ATTRIBUTE_MESSAGES)
    for name, queue in filtered.items():
        expected = sorted(body for body, (_, matches) in ATTRIBUTE_MESSAGES.items()
                          if name in matches)
        assert sorted(bodies(drain(queues, queue.url, len(expected)))) == expected, name


def test_filter_policy_on_the_message_body(sns, queues, make_topic, make_sqs_queue,
                                           subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    policy = {"order": {"status": ["shipped"], "total": [{"numeric": [">", 100]}],
                        "customer": {"tier": [{"prefix": "gold"}]}}}
    subscribe_queue(topic, queue, raw=True, FilterPolicy=json.dumps(policy),
                    FilterPolicyScope="MessageBody")
    messages = {
        "match": {"order": {"status": "shipped", "total": 150,
                            "customer": {"tier": "gold-plus"}}},
        "low-total": {"order": {"status": "shipped", "total": 50,
                                "customer": {"tier": "gold"}}},
        "other-status": {"order": {"status": "pending", "total": 150,
                                   "customer": {"tier": "gold"}}},
        "flat": {"status": "shipped", "total": 150, "tier": "gold"},
        "array-match": {"order": {"status": ["pending", "shipped"], "total": 101,
                                  "customer": {"tier": "gold"}}},
    }
    for tag, doc in messages.items():
        sns.publish(TopicArn=topic, Message=json.dumps(dict(doc, tag=tag)),
                    MessageAttributes={"sport": {"DataType": "String", "StringValue": "x"}})
    sns.publish(TopicArn=topic, Message="not json at all")
    got = sorted(json.loads(b)["tag"] for b in bodies(drain(queues, queue.url, 2)))
    assert got == ["array-match", "match"]


def test_changing_a_filter_policy_applies_to_later_publishes(sns, queues, make_topic,
                                                             make_sqs_queue, subscribe_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    arn = subscribe_queue(topic, queue, raw=True,
                          FilterPolicy=json.dumps({"kind": ["a"]}))

    def publish(kind):
        sns.publish(TopicArn=topic, Message=kind,
                    MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}})

    publish("a")
    publish("b")
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps({"kind": ["b"]}))
    publish("a")
    publish("b")
    assert bodies(drain(queues, queue.url, 2)) == ["a", "b"]


def test_filtered_out_messages_never_reach_the_dead_letter_queue(sns, queues, make_topic,
                                                                 make_sqs_queue,
                                                                 subscribe_queue):
    topic = make_topic()
    queue, dlq = make_sqs_queue(), make_sqs_queue("dlq")
    subscribe_queue(topic, queue, raw=True, FilterPolicy=json.dumps({"kind": ["wanted"]}),
                    RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    sns.publish(TopicArn=topic, Message="unwanted",
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "other"}})
    sns.publish(TopicArn=topic, Message="no attributes")
    sns.publish(TopicArn=topic, Message="wanted",
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "wanted"}})
    assert bodies(drain(queues, queue.url, 1)) == ["wanted"]
    assert drain(queues, dlq.url, 0) == []


def test_deleted_queue_copy_goes_to_the_subscription_dead_letter_queue(
        sns, queues, make_topic, make_sqs_queue, subscribe_queue):
    # A deleted endpoint is a client-side error: not retried, kept in the DLQ.
    topic = make_topic()
    queue, dlq = make_sqs_queue(), make_sqs_queue("dlq")
    subscribe_queue(topic, queue, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    queues.delete_queue(QueueUrl=queue.url)
    message_id = sns.publish(TopicArn=topic, Message="nobody home")["MessageId"]
    [msg] = drain(queues, dlq.url, 1)
    assert "nobody home" in msg["Body"]
    if msg["Body"].startswith("{"):
        doc = json.loads(msg["Body"])
        assert doc["Message"] == "nobody home" and doc["MessageId"] == message_id


# --------------------------------------------------------------------------- FIFO topics


def test_fifo_topic_to_fifo_queues_keeps_group_order(sns, queues, make_topic, make_sqs_queue,
                                                     subscribe_queue):
    topic = make_topic(fifo=True)
    raw, wrapped = make_sqs_queue("raw", fifo=True), make_sqs_queue("env", fifo=True)
    subscribe_queue(topic, raw, raw=True)
    subscribe_queue(topic, wrapped)
    published = []
    for i in range(4):
        for group in ("A", "B"):
            body = f"{group}{i}"
            resp = sns.publish(TopicArn=topic, Message=body, MessageGroupId=group,
                               MessageDeduplicationId=body)
            published.append((body, resp["MessageId"], resp["SequenceNumber"]))
    # A duplicate within the window: accepted, same id, not delivered again.
    dup = sns.publish(TopicArn=topic, Message="A0 again", MessageGroupId="A",
                      MessageDeduplicationId="A0")
    assert dup["MessageId"] == published[0][1]

    got = drain(queues, raw.url, 8)
    for group in ("A", "B"):
        in_group = [m for m in got if m["Attributes"]["MessageGroupId"] == group]
        assert bodies(in_group) == [f"{group}{i}" for i in range(4)]
        assert {m["Attributes"]["MessageDeduplicationId"] for m in in_group} == {
            f"{group}{i}" for i in range(4)}
    envs = drain(queues, wrapped.url, 8)
    docs = [json.loads(b) for b in bodies(envs)]
    for group in ("A", "B"):
        ordered = [d["Message"] for d, m in zip(docs, envs, strict=True)
                   if m["Attributes"]["MessageGroupId"] == group]
        assert ordered == [f"{group}{i}" for i in range(4)]
    ids = {body: mid for body, mid, _ in published}
    assert {d["Message"]: d["MessageId"] for d in docs} == ids
    for doc in docs:  # AWS signs no FIFO-topic envelope; each carries its sequence number
        assert "SequenceNumber" in doc
        assert not {"Signature", "SignatureVersion", "SigningCertURL"} & set(doc)


def test_fifo_topic_delivers_to_standard_queues(sns, queues, make_topic, make_sqs_queue):
    # AWS: "Amazon SNS FIFO topics support delivery to both Amazon SQS standard and FIFO
    # queues" (Message delivery for FIFO topics, SNS developer guide).
    topic = make_topic(fifo=True)
    queue = make_sqs_queue("std")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn,
                  Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="to a standard queue", MessageGroupId="g",
                MessageDeduplicationId="d")
    assert bodies(drain(queues, queue.url, 1)) == ["to a standard queue"]


@pytest.mark.parametrize("protocol,target", [
    ("http", "http://127.0.0.1:9/hook"),
    ("email", "someone@example.com"),
    ("lambda", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"),
    ("sms", "+15555550123"),
])
def test_fifo_topic_rejects_customer_managed_endpoints(sns, make_topic, protocol, target):
    topic = make_topic(fifo=True)
    expect_error("InvalidParameter", sns.subscribe, TopicArn=topic, Protocol=protocol,
                 Endpoint=target)
