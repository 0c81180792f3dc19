"""Issue 11, defects 1-3: bad input gets an AWS error (never a 500), answers stay
well-formed XML, and a bad HTTP endpoint cannot put SNS delivery into a hot loop."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from server import unique_name, wait_until
from sns_helpers import fast_delivery_policy, sns_client

pytest_plugins = ["sns_helpers"]

BAD_URL = "http://[::1"
SQS_QUEUE_URL_ACTIONS = [
    "GetQueueAttributes", "SendMessage", "ReceiveMessage", "DeleteMessage", "PurgeQueue",
    "DeleteQueue", "ChangeMessageVisibility", "ListQueueTags", "SendMessageBatch",
    "SetQueueAttributes", "TagQueue", "ListDeadLetterSourceQueues",
]
# The parameters each action needs besides QueueUrl, so the QueueUrl check is reached.
EXTRA = {
    "SendMessage": {"MessageBody": "x"},
    "DeleteMessage": {"ReceiptHandle": "x"},
    "ChangeMessageVisibility": {"ReceiptHandle": "x", "VisibilityTimeout": 1},
    "SendMessageBatch": {"Entries": [{"Id": "a", "MessageBody": "x"}]},
    "SetQueueAttributes": {"Attributes": {"DelaySeconds": "1"}},
    "TagQueue": {"Tags": {"a": "b"}},
}


def _post(endpoint: str, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(endpoint + "/", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def query(endpoint: str, params: dict[str, str] | list[tuple[str, str]], service: str = "sqs"):
    """A raw Query-protocol POST; the credential scope routes it to ``service``."""
    auth = f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    return _post(endpoint, urllib.parse.urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded", "Authorization": auth,
    })


def json_call(endpoint: str, action: str, body: dict) -> tuple[int, bytes]:
    """A raw AWS JSON POST, signed (the server refuses unsigned requests by default)."""
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
    return _post(endpoint, json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}", "Authorization": auth,
    })


def xml_code(payload: bytes) -> str:
    root = ET.fromstring(payload)  # raises on malformed XML
    return "".join(e.text or "" for e in root.iter() if e.tag.endswith("Code"))


@pytest.mark.parametrize("action", SQS_QUEUE_URL_ACTIONS)
def test_unparsable_queue_url_is_a_missing_queue_in_json(endpoint, action):
    status, payload = json_call(endpoint, action, {"QueueUrl": BAD_URL, **EXTRA.get(action, {})})
    assert status == 400, payload
    assert json.loads(payload)["__type"].endswith("QueueDoesNotExist")


# The same parameters in the Query protocol's flat form.
EXTRA_QUERY = {
    "SendMessage": [("MessageBody", "x")],
    "DeleteMessage": [("ReceiptHandle", "x")],
    "ChangeMessageVisibility": [("ReceiptHandle", "x"), ("VisibilityTimeout", "1")],
    "SendMessageBatch": [("SendMessageBatchRequestEntry.1.Id", "a"),
                         ("SendMessageBatchRequestEntry.1.MessageBody", "x")],
    "SetQueueAttributes": [("Attribute.1.Name", "DelaySeconds"), ("Attribute.1.Value", "1")],
    "TagQueue": [("Tag.1.Key", "a"), ("Tag.1.Value", "b")],
}


@pytest.mark.parametrize("action", SQS_QUEUE_URL_ACTIONS)
def test_unparsable_queue_url_is_a_missing_queue_in_query(endpoint, action):
    params = [("Action", action), ("QueueUrl", BAD_URL), *EXTRA_QUERY.get(action, [])]
    status, payload = query(endpoint, params)
    assert status == 400, payload
    assert xml_code(payload) == "AWS.SimpleQueueService.NonExistentQueue"


@pytest.mark.parametrize("action", ["Publish", "PublishBatch"])
def test_sns_message_attribute_without_value(endpoint, make_topic, action):
    topic = make_topic()
    if action == "Publish":
        params = {"Action": "Publish", "TopicArn": topic, "Message": "m",
                  "MessageAttributes.entry.1.Name": "a"}
    else:
        prefix = "PublishBatchRequestEntries.member.1"
        params = {"Action": "PublishBatch", "TopicArn": topic, f"{prefix}.Id": "e1",
                  f"{prefix}.Message": "m", f"{prefix}.MessageAttributes.entry.1.Name": "a"}
    status, payload = query(endpoint, params, "sns")
    assert status == 400, payload  # PublishBatch too: AWS refuses the whole batch
    assert xml_code(payload) == "ParameterValueInvalid"


@pytest.mark.parametrize("scope", ["MessageAttributes", "MessageBody"])
def test_numeric_filter_against_a_huge_number(sns, queues, make_topic, make_sqs_queue, scope):
    topic = make_topic()
    queue = make_sqs_queue()
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn, Attributes={
        "FilterPolicy": json.dumps({"n": [{"numeric": [">", 0]}]}), "FilterPolicyScope": scope,
        "RawMessageDelivery": "true",
    })
    huge = "1e999999999"
    if scope == "MessageAttributes":
        sns.publish(TopicArn=topic, Message="huge",
                    MessageAttributes={"n": {"DataType": "Number", "StringValue": huge}})
    else:
        sns.publish(TopicArn=topic, Message=f'{{"n": {huge}}}')
    # Outside the -1e9..1e9 range a numeric filter can compare: not a match.
    sns.publish(TopicArn=topic, Message='{"n": 5}' if scope == "MessageBody" else "five",
                MessageAttributes={"n": {"DataType": "Number", "StringValue": "5"}})
    got = wait_until(lambda: queues.receive_message(QueueUrl=queue.url, WaitTimeSeconds=1).get("Messages"))
    assert [m["Body"] for m in got] in (['{"n": 5}'], ["five"])


def test_subscription_filter_with_a_huge_number(sns, make_topic, make_sqs_queue):
    topic = make_topic()
    queue = make_sqs_queue()
    with pytest.raises(ClientError) as caught:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn, Attributes={
            "FilterPolicy": '{"n": [{"numeric": [">", 1e999999999]}]}'})
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("action", ["X\x00", "X\x01\x1f", "Send\ufffeMessage", "<&>\x0b"])
@pytest.mark.parametrize("service", ["sqs", "sns"])
def test_echoed_control_characters_keep_the_xml_well_formed(endpoint, action, service):
    status, payload = query(endpoint, {"Action": action, "QueueUrl": "\x02"}, service)
    assert status == 400
    assert xml_code(payload) == "InvalidAction"


def test_message_body_with_impossible_xml_characters(endpoint, json_sqs, make_queue):
    """SQS refuses such bodies, but its answer still has to be XML (InvalidMessageContents)."""
    url = make_queue(client=json_sqs)
    status, payload = query(endpoint, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "a\x00b"})
    assert status == 400
    assert xml_code(payload)


@pytest.mark.parametrize("url", [
    "http://[::1/x", "http://", "http://:80/", "http://host:99999/", "http://a b/", "https://", "http://x\x00y/",
])
def test_subscribe_refuses_unusable_http_endpoints(sns, make_topic, url):
    topic = make_topic()
    protocol = url.split(":", 1)[0]
    with pytest.raises(ClientError) as caught:
        sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=url)
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"


def test_delivery_failure_of_any_kind_is_a_failed_attempt(private_server, tmp_path):
    """A stored outbox row whose URL the HTTP client cannot even parse (one accepted by an
    older version) is retried under the delivery policy and then dropped, not retried in a
    loop; the server's log stays quiet."""
    server = private_server()
    sns = sns_client(server.endpoint)
    topic = sns.create_topic(Name=unique_name("hot"))["TopicArn"]
    sub = sns.subscribe(
        TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:1/",
        Attributes={"DeliveryPolicy": fast_delivery_policy(numRetries=1)}, ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    server.stop()
    with server.database() as db:
        db.execute("UPDATE subscriptions SET confirmed=1 WHERE arn=?", (sub,))
        db.execute("DELETE FROM sns_outbox")
        payload = json.dumps({"url": "http://[::1/x", "body": "x", "headers": {}})
        db.execute(
            "INSERT INTO sns_outbox (subscription_arn, kind, payload, attempts, due_at, created_at)"
            " VALUES (?, 'notification', ?, 0, 0, 0)", (sub, payload.encode()),
        )
    log_before = len(server.log())
    server.start()
    started = time.monotonic()

    def outbox_rows() -> int:
        with server.database() as conn:
            return conn.execute("SELECT COUNT(*) FROM sns_outbox").fetchone()[0]

    assert wait_until(lambda: outbox_rows() == 0, timeout=10)
    assert time.monotonic() - started >= 0.9  # the one retry waited for the policy's delay
    log = server.log()[log_before:]
    assert "Traceback" not in log
    assert len(log) < 5000, log[-2000:]
