"""SNS HTTP endpoints served by the test: the SubscriptionConfirmation flow, notifications
with their headers and signatures, raw delivery, retries, 4xx answers and the DLQ."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

pytest.register_assert_rewrite("sns_helpers")

from sns_helpers import (  # noqa: E402
    CERT_PATH,
    TIMESTAMP_PATTERN,
    drain,
    fast_delivery_policy,
    http_get,
    verify_signature,
)

pytest_plugins = ["sns_helpers"]
pytestmark = pytest.mark.timeout(120)


def quiet_period(ep, kind: str, seconds: float) -> list:
    """Wait ``seconds`` and return what arrived; used to check that nothing more came."""
    time.sleep(seconds)
    return ep.of_type(kind)


def test_confirmation_flow_and_signed_notification(endpoint, sns, make_topic, http_endpoint):
    topic = make_topic()
    ep = http_endpoint()
    assert sns.subscribe(TopicArn=topic, Protocol="http",
                         Endpoint=ep.url)["SubscriptionArn"] == "pending confirmation"
    [req] = ep.wait_for("SubscriptionConfirmation", 1)
    assert req.path == "/sns-endpoint"
    assert req.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert req.headers["x-amz-sns-topic-arn"] == topic
    assert req.headers["content-type"].lower().startswith("text/plain")
    doc = req.json()
    assert req.headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert doc["Type"] == "SubscriptionConfirmation"
    assert doc["TopicArn"] == topic
    assert doc["Token"]
    assert doc["Message"]
    assert doc["SubscribeURL"].startswith(endpoint)
    assert "Action=ConfirmSubscription" in doc["SubscribeURL"]
    assert doc["SignatureVersion"] == "1"
    assert re.fullmatch(re.escape(endpoint) + CERT_PATH, doc["SigningCertURL"])
    verify_signature(doc)

    # Nothing is delivered while the subscription is pending.
    sns.publish(TopicArn=topic, Message="too early")

    status, body = http_get(doc["SubscribeURL"])
    assert status == 200
    arn_elements = [e.text for e in ET.fromstring(body).iter() if e.tag.endswith("SubscriptionArn")]
    assert len(arn_elements) == 1 and arn_elements[0].startswith(topic + ":")
    sub_arn = arn_elements[0]
    assert sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"][
        "PendingConfirmation"] == "false"

    message_id = sns.publish(TopicArn=topic, Message="hello http", Subject="Greeting",
                             MessageAttributes={
                                 "k": {"DataType": "String", "StringValue": "v"}})["MessageId"]
    [note] = ep.wait_for("Notification", 1)
    assert note.headers["x-amz-sns-message-id"] == message_id
    assert note.headers["x-amz-sns-topic-arn"] == topic
    assert note.headers["x-amz-sns-subscription-arn"] == sub_arn
    assert note.headers["content-type"].lower().startswith("text/plain")
    doc = note.json()
    assert doc["Type"] == "Notification"
    assert doc["MessageId"] == message_id
    assert doc["TopicArn"] == topic
    assert doc["Subject"] == "Greeting"
    assert doc["Message"] == "hello http"
    assert doc["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert doc["SignatureVersion"] == "1"
    assert re.match(TIMESTAMP_PATTERN, doc["Timestamp"])
    assert sub_arn in doc["UnsubscribeURL"] or sub_arn.replace(":", "%3A") in doc[
        "UnsubscribeURL"]
    verify_signature(doc)
    assert [r.json()["Message"] for r in quiet_period(ep, "Notification", 1.0)] == [
        "hello http"]


def test_confirm_with_the_api_and_signature_version_2(sns, make_topic, http_endpoint):
    topic = make_topic(attributes={"SignatureVersion": "2"})
    ep = http_endpoint()
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url)
    [req] = ep.wait_for("SubscriptionConfirmation", 1)
    doc = req.json()
    assert doc["SignatureVersion"] == "2"
    verify_signature(doc)
    sub_arn = sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])["SubscriptionArn"]
    assert sub_arn.startswith(topic + ":")
    sns.publish(TopicArn=topic, Message="sha256")
    [note] = ep.wait_for("Notification", 1)
    doc = note.json()
    assert doc["SignatureVersion"] == "2"
    assert "Subject" not in doc
    verify_signature(doc)


def test_raw_http_delivery(sns, make_topic, http_subscription):
    topic = make_topic()
    ep, sub_arn = http_subscription(topic, raw=True)
    message_id = sns.publish(TopicArn=topic, Message='{"raw": true}', Subject="not sent")[
        "MessageId"]
    [note] = ep.wait_for("Notification", 1)
    assert note.body == '{"raw": true}'
    assert note.headers["x-amz-sns-message-id"] == message_id
    assert note.headers["x-amz-sns-subscription-arn"] == sub_arn
    assert note.headers.get("x-amz-sns-rawdelivery") == "true"


def test_request_policy_sets_the_content_type(sns, make_topic, http_subscription):
    topic = make_topic()
    policy = json.dumps({"healthyRetryPolicy": {
        "numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1},
        "requestPolicy": {"headerContentType": "application/json"}})
    ep, _ = http_subscription(topic, DeliveryPolicy=policy)
    sns.publish(TopicArn=topic, Message="typed")
    [note] = ep.wait_for("Notification", 1)
    assert note.headers["content-type"].startswith("application/json")


def test_5xx_is_retried_until_it_succeeds(sns, make_topic, http_subscription):
    topic = make_topic()
    ep, _ = http_subscription(topic, statuses=[500, 503],
                              DeliveryPolicy=fast_delivery_policy(numRetries=3))
    message_id = sns.publish(TopicArn=topic, Message="eventually")["MessageId"]
    attempts = ep.wait_for("Notification", 3, timeout=30)
    assert len(attempts) == 3
    assert {a.headers["x-amz-sns-message-id"] for a in attempts} == {message_id}
    assert {a.json()["Message"] for a in attempts} == {"eventually"}
    for attempt in attempts:
        verify_signature(attempt.json())
    # Delivered on the third attempt: no more retries.
    assert len(quiet_period(ep, "Notification", 2.5)) == 3


def test_connection_refused_is_retried(sns, make_topic, http_subscription):
    topic = make_topic()
    ep, _ = http_subscription(topic, DeliveryPolicy=fast_delivery_policy(numRetries=20))
    ep.stop()
    sns.publish(TopicArn=topic, Message="while down")
    time.sleep(1.5)
    ep.start()  # the same port again
    got = ep.wait_for("Notification", 1, timeout=30)
    assert [r.json()["Message"] for r in got] == ["while down"]


def test_4xx_is_not_retried(sns, make_topic, http_subscription):
    topic = make_topic()
    ep, _ = http_subscription(topic, statuses=[404],
                              DeliveryPolicy=fast_delivery_policy(numRetries=3))
    sns.publish(TopicArn=topic, Message="not found")
    assert len(ep.wait_for("Notification", 1)) == 1
    assert len(quiet_period(ep, "Notification", 3.0)) == 1


def test_4xx_counts_as_delivered_and_is_not_dead_lettered(sns, queues, make_topic,
                                                          make_sqs_queue, http_subscription):
    # AWS (SNS developer guide, "Step 1: Make sure your endpoint is ready to process Amazon
    # SNS messages"): only "a status code outside the range of 200-4xx" (or a timeout) makes
    # SNS "consider the delivery of the message as a failed attempt". A 4xx answer is
    # therefore a delivery: nothing to retry, nothing for the DLQ.
    topic = make_topic()
    dlq = make_sqs_queue("dlq")
    ep, _ = http_subscription(topic, statuses=[400, 403],
                              DeliveryPolicy=fast_delivery_policy(numRetries=2),
                              RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    sns.publish(TopicArn=topic, Message="rejected by the endpoint")
    sns.publish(TopicArn=topic, Message="forbidden by the endpoint")
    assert len(ep.wait_for("Notification", 2)) == 2
    assert drain(queues, dlq.url, 0, timeout=5) == []
    assert len(ep.of_type("Notification")) == 2


def test_exhausted_retries_go_to_the_dead_letter_queue(sns, queues, make_topic, make_sqs_queue,
                                                       http_subscription):
    topic = make_topic()
    dlq = make_sqs_queue("dlq")
    ep, _ = http_subscription(topic, default_status=500,
                              DeliveryPolicy=fast_delivery_policy(numRetries=2),
                              RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    message_id = sns.publish(TopicArn=topic, Message="undeliverable")["MessageId"]
    [dead] = drain(queues, dlq.url, 1, timeout=30)
    assert "undeliverable" in dead["Body"]
    if dead["Body"].startswith("{"):
        doc = json.loads(dead["Body"])
        assert doc["MessageId"] == message_id and doc["Message"] == "undeliverable"
    # 1 attempt + numRetries 2, then no more.
    assert len(ep.of_type("Notification")) == 3
    assert len(quiet_period(ep, "Notification", 1.5)) == 3


def test_topic_delivery_policy_applies_without_a_subscription_policy(
        sns, queues, make_topic, make_sqs_queue, http_subscription):
    topic = make_topic(attributes={"DeliveryPolicy": json.dumps({"http": {
        "defaultHealthyRetryPolicy": {
            "numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1,
            "numNoDelayRetries": 0, "numMinDelayRetries": 0, "numMaxDelayRetries": 0,
            "backoffFunction": "linear"}}})})
    dlq = make_sqs_queue("dlq")
    ep, sub = http_subscription(topic, default_status=502,
                                RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"][
        "EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 1
    sns.publish(TopicArn=topic, Message="twice then dead")
    assert len(drain(queues, dlq.url, 1, timeout=30)) == 1
    assert len(ep.of_type("Notification")) == 2


def test_unsubscribed_endpoint_gets_nothing_more(sns, make_topic, http_subscription):
    topic = make_topic()
    ep, sub = http_subscription(topic)
    sns.publish(TopicArn=topic, Message="one")
    ep.wait_for("Notification", 1)
    sns.unsubscribe(SubscriptionArn=sub)
    sns.publish(TopicArn=topic, Message="two")
    assert [r.json()["Message"] for r in quiet_period(ep, "Notification", 1.5)] == ["one"]


@pytest.mark.parametrize("how", ["api", "url"])
def test_unsubscribe_confirmation(endpoint, sns, make_topic, http_subscription, how):
    """AWS sends a confirmed HTTP/S endpoint a signed UnsubscribeConfirmation when its
    subscription is deleted (by the API or by fetching the UnsubscribeURL)."""
    topic = make_topic()
    ep, sub = http_subscription(topic)
    sns.publish(TopicArn=topic, Message="one")
    [note] = ep.wait_for("Notification", 1)
    if how == "api":
        sns.unsubscribe(SubscriptionArn=sub)
    else:
        assert http_get(note.json()["UnsubscribeURL"])[0] == 200
    [req] = ep.wait_for("UnsubscribeConfirmation", 1)
    assert req.headers["x-amz-sns-topic-arn"] == topic
    assert req.headers["x-amz-sns-subscription-arn"] == sub
    assert req.headers["content-type"].lower().startswith("text/plain")
    doc = req.json()
    assert req.headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert set(doc) == {"Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL",
                        "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"}
    assert doc["Type"] == "UnsubscribeConfirmation"
    assert doc["TopicArn"] == topic
    assert re.fullmatch("[0-9a-f]{288}", doc["Token"])
    assert doc["Message"] == (
        f"You have chosen to deactivate subscription {sub}.\nTo cancel this operation and restore "
        "the subscription, visit the SubscribeURL included in this message.")
    assert doc["SubscribeURL"].startswith(endpoint + "/?Action=ConfirmSubscription&TopicArn=")
    assert re.fullmatch(TIMESTAMP_PATTERN, doc["Timestamp"])
    verify_signature(doc)
    # Only once, and a second unsubscribe (already gone) sends nothing.
    sns.unsubscribe(SubscriptionArn=sub)
    assert len(quiet_period(ep, "UnsubscribeConfirmation", 1.0)) == 1


def test_no_unsubscribe_confirmation_for_pending(sns, make_topic, http_endpoint):
    topic = make_topic()
    ep = http_endpoint()
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    ep.wait_for("SubscriptionConfirmation", 1)
    sns.unsubscribe(SubscriptionArn=sub)
    assert quiet_period(ep, "UnsubscribeConfirmation", 1.0) == []
