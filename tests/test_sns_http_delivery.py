"""SNS HTTP/S delivery end to end: a webhook served by the test receives a signed
SubscriptionConfirmation, signed notifications with the x-amz-sns-* headers, retries after
a 5xx, a 4xx counted as delivered (AWS: only statuses outside 200-4xx fail), and the
subscription's DLQ after exhaustion."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from server import unique_name
from sns_helpers import verify_signature

FAST_RETRIES = {"healthyRetryPolicy": {
    "numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1, "numNoDelayRetries": 0,
    "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "linear",
}}


class Webhook:
    """An HTTP endpoint that records requests and answers with planned status codes."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.codes: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                hook.requests.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                self.send_response(hook.codes.pop(0) if hook.codes else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"{len(self.requests)} requests, wanted {count}"


@pytest.fixture
def clients(endpoint):
    kw = {"endpoint_url": endpoint, "region_name": "us-east-1",
          "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("sns", **kw), boto3.client("sqs", **kw)


@pytest.mark.parametrize("version", ["1", "2"])
def test_http_subscription_confirmation_retries_and_dead_letters(clients, version):
    sns, sqs = clients
    hook = Webhook()
    topic = sns.create_topic(Name=unique_name("web"), Attributes={"SignatureVersion": version})["TopicArn"]
    dlq = sqs.create_queue(QueueName=unique_name("sdlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url, Attributes={
        "DeliveryPolicy": json.dumps(FAST_RETRIES),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn}),
    })
    assert answer["SubscriptionArn"] == "pending confirmation"

    # The endpoint is asked to confirm, with a verifiable signature.
    hook.wait_for(1)
    headers, confirmation = hook.requests.pop(0)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == topic
    verify_signature(confirmation)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"] == (
        "PendingConfirmation"
    )
    urllib.request.urlopen(confirmation["SubscribeURL"], timeout=5).read()
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(topic + ":")

    # A 500 is retried; the retry delivers the same signed notification.
    hook.codes = [500, 200]
    message_id = sns.publish(TopicArn=topic, Message="hello web", Subject="greeting")["MessageId"]
    hook.wait_for(2)
    (first_headers, first), (headers, doc) = hook.requests[:2]
    assert first["MessageId"] == doc["MessageId"] == message_id
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == message_id
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
    assert (doc["Message"], doc["Subject"], doc["SignatureVersion"]) == ("hello web", "greeting", version)
    verify_signature(doc)

    # A 4xx counts as delivered: not retried, not dead-lettered.
    hook.requests.clear()
    hook.codes = [404]
    sns.publish(TopicArn=topic, Message="gone")
    hook.wait_for(1)
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=3)
    assert len(hook.requests) == 1

    # Retries exhausted (1 attempt + numRetries 2): to the DLQ.
    hook.requests.clear()
    hook.codes = [500, 500, 500]
    sns.publish(TopicArn=topic, Message="exhausted")
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=15).get("Messages", [])
    assert [json.loads(m["Body"])["Message"] for m in got] == ["exhausted"]
    assert len(hook.requests) == 3
    hook.server.shutdown()
