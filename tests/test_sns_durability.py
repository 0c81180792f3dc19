"""SNS durability on a private server: an acknowledged publish survives kill -9. SQS copies
are there exactly once after the restart, and HTTP deliveries pending for an endpoint that
was down are retried and arrive once it is back."""

from __future__ import annotations

import json

import pytest

pytest.register_assert_rewrite("sns_helpers")

from server import make_client  # noqa: E402
from sns_helpers import (  # noqa: E402
    HttpEndpoint,
    confirm_via_url,
    drain,
    fast_delivery_policy,
    sns_client,
    topic_name,
    verify_signature,
)

pytestmark = pytest.mark.timeout(240)


def test_acknowledged_publishes_survive_kill_9(private_server, tmp_path):
    data = tmp_path / "sns-crash"
    srv = private_server(data_dir=data)
    sns, sqs = sns_client(srv.endpoint), make_client(srv.endpoint, "json")
    topic = sns.create_topic(Name=topic_name("durable"))["TopicArn"]
    fifo_topic = sns.create_topic(Name=topic_name("durable", fifo=True),
                                  Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName="sns-durable")["QueueUrl"]
    fifo_url = sqs.create_queue(QueueName="sns-durable.fifo",
                                Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    fifo_arn = sqs.get_queue_attributes(QueueUrl=fifo_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs_sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                            Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    sns.subscribe(TopicArn=fifo_topic, Protocol="sqs", Endpoint=fifo_arn,
                  Attributes={"RawMessageDelivery": "true"})

    ep = HttpEndpoint().start()
    try:
        http_sub = sns.subscribe(
            TopicArn=topic, Protocol="http", Endpoint=ep.url, ReturnSubscriptionArn=True,
            Attributes={"DeliveryPolicy": fast_delivery_policy(numRetries=60)},
        )["SubscriptionArn"]
        confirm_via_url(ep, sns, http_sub)
        ep.stop()  # the endpoint goes down before anything is published

        acked: dict[str, str] = {}  # message id -> body
        for i in range(15):
            body = f"durable {i}"
            acked[sns.publish(TopicArn=topic, Message=body)["MessageId"]] = body
        entries = [{"Id": f"b{i}", "Message": f"batch {i}"} for i in range(10)]
        resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert not resp.get("Failed")
        for ok in resp["Successful"]:
            acked[ok["MessageId"]] = f"batch {ok['Id'][1:]}"
        fifo_bodies = []
        for i in range(6):
            body = f"fifo {i}"
            sns.publish(TopicArn=fifo_topic, Message=body, MessageGroupId="g",
                        MessageDeduplicationId=f"fifo-{i}")
            fifo_bodies.append(body)
        assert len(acked) == 25

        srv.kill()  # kill -9 straight after the last acknowledgement
        srv2 = private_server(data_dir=data, port=srv.port)
        sns2, sqs2 = sns_client(srv2.endpoint), make_client(srv2.endpoint, "json")

        # Topics and subscriptions are still there.
        listed = {s["SubscriptionArn"]: s for s in
                  sns2.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
        assert set(listed) == {sqs_sub, http_sub}
        assert sns2.get_subscription_attributes(SubscriptionArn=http_sub)["Attributes"][
            "PendingConfirmation"] == "false"

        # SQS copies: every acknowledged publish exactly once.
        got = drain(sqs2, url, len(acked), timeout=30)
        assert sorted(m["Body"] for m in got) == sorted(acked.values())
        fifo_got = drain(sqs2, fifo_url, len(fifo_bodies), timeout=30)
        assert [m["Body"] for m in fifo_got] == fifo_bodies

        # The endpoint comes back: the pending HTTP deliveries are retried and arrive.
        ep.start()
        notes = ep.wait_for("Notification", len(acked), timeout=90)
        delivered = {}
        for note in notes:
            doc = note.json()
            assert note.headers["x-amz-sns-message-id"] == doc["MessageId"]
            delivered[doc["MessageId"]] = doc["Message"]
        assert delivered == acked
        # Signed before the crash, still verifiable with the certificate served after it.
        verify_signature(notes[0].json())
        # Nothing else is pending: a fresh publish arrives after the backlog.
        fresh = sns2.publish(TopicArn=topic, Message="after restart")["MessageId"]
        later = ep.wait_for("Notification", len(notes) + 1, timeout=30)
        assert fresh in {json.loads(n.body)["MessageId"] for n in later}
    finally:
        ep.stop()
