"""The console's JSON API (what the browser pages call), against a real server."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from lambda_helpers import client as aws_client
from lambda_helpers import create_function
from server import ServerProcess, make_client, unique_name

API = "/_postroom/console/api/"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("console-api"), in_memory=True).start()
    yield proc
    proc.stop()


@pytest.fixture
def api(console_server):
    with httpx.Client(base_url=console_server.endpoint + API, timeout=20) as http:
        yield http


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:000000000000:{name}"


def test_page_and_assets_are_served(console_server):
    with httpx.Client(base_url=console_server.endpoint) as http:
        page = http.get("/_postroom/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "console.js" in page.text
        for asset, kind in (("console.js", "javascript"), ("console.css", "css")):
            got = http.get(f"/_postroom/console/static/{asset}")
            assert got.status_code == 200 and kind in got.headers["content-type"]
        assert http.get("/_postroom/console/static/../app.py").status_code == 404


def test_peek_leaves_receive_counts_and_visibility_alone(console_server, api):
    sqs = make_client(console_server.endpoint, "json")
    name = unique_name("peek")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"}})
    sqs.send_message(QueueUrl=url, MessageBody="second")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"][0]
    for _ in range(3):
        peeked = api.get("queue/peek", params={"arn": queue_arn(name)}).json()["messages"]
    assert [m["body"] for m in peeked] == ["first", "second"]
    assert peeked[0]["receive_count"] == 1 and peeked[0]["state"] == "visible"
    assert peeked[0]["attributes"] == {"kind": {"DataType": "String", "StringValue": "order"}}
    assert peeked[1]["receive_count"] == 0
    # Still visible, still counted once: the next receive is the second.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])
    counts = {m["Body"]: m["Attributes"]["ApproximateReceiveCount"] for m in again["Messages"]}
    assert counts == {"first": "2", "second": "1"}
    assert received["Body"] == "first"
    peeked = api.get("queue/peek", params={"arn": queue_arn(name)}).json()["messages"]
    assert {m["state"] for m in peeked} == {"in flight"}


def test_queue_list_pages_and_searches_a_thousand_queues(console_server, api):
    sqs = make_client(console_server.endpoint, "json")
    prefix = unique_name("many")
    for i in range(1000):
        sqs.create_queue(QueueName=f"{prefix}-{i:04d}")
    started = time.monotonic()
    doc = api.get("queues", params={"search": prefix, "page": 3, "per_page": 100}).json()
    assert time.monotonic() - started < 2
    assert (doc["total"], doc["pages"], doc["page"]) == (1000, 10, 3)
    assert [q["name"] for q in doc["queues"]][:2] == [f"{prefix}-0200", f"{prefix}-0201"]
    assert len(doc["queues"]) == 100
    one = api.get("queues", params={"search": f"{prefix}-0999"}).json()
    assert [q["name"] for q in one["queues"]] == [f"{prefix}-0999"]
    # Another account's queues are listed when that account is asked for.
    other = make_client(console_server.endpoint, "json", access_key="123456789012")
    other.create_queue(QueueName=f"{prefix}-other")
    assert api.get("queues", params={"search": f"{prefix}-other"}).json()["total"] == 0
    theirs = api.get("queues", params={"search": prefix, "account": "123456789012"}).json()
    assert [q["name"] for q in theirs["queues"]] == [f"{prefix}-other"]
    # A page past the end answers the last page.
    assert api.get("queues", params={"search": prefix, "page": 99, "per_page": 100}).json()["page"] == 10


def test_queue_actions(console_server, api):
    sqs = make_client(console_server.endpoint, "json")
    name = unique_name("act")
    created = api.post("queues", json={"name": name, "attributes": {"VisibilityTimeout": "45"}})
    assert created.status_code == 200, created.text
    arn = queue_arn(name)
    sent = api.post("queue/send", json={"arn": arn, "body": "hello", "attributes": [
        {"name": "n", "type": "Number", "value": "7"}]})
    assert sent.status_code == 200 and sent.json()["MessageId"]
    got = sqs.receive_message(QueueUrl=created.json()["QueueUrl"], MessageAttributeNames=["All"])["Messages"][0]
    assert got["Body"] == "hello" and got["MessageAttributes"]["n"]["StringValue"] == "7"
    doc = api.get("queue", params={"arn": arn}).json()
    assert doc["attributes"]["VisibilityTimeout"] == "45"
    assert doc["stats"]["in_flight"] == 1 and doc["stats"]["sent"] == 1
    assert api.post("queue/purge", json={"arn": arn}).status_code == 200
    # AWS's purge cool-down answers through the console as the API's error.
    again = api.post("queue/purge", json={"arn": arn})
    assert again.status_code == 403 and again.json()["error"]["code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert api.post("queue/delete", json={"arn": arn}).status_code == 200
    missing = api.get("queue", params={"arn": arn})
    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "code": "AWS.SimpleQueueService.NonExistentQueue", "message": "The specified queue does not exist."}


def test_dead_letter_redrive_through_the_console(console_server, api):
    sqs = make_client(console_server.endpoint, "json")
    dlq_name, name = unique_name("dlq"), unique_name("src")
    dlq = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    src = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": "1"})})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)
    sqs.receive_message(QueueUrl=src)  # moves it to the DLQ
    doc = api.get("queue", params={"arn": queue_arn(dlq_name)}).json()
    assert doc["dead_letter_sources"] == [name] and doc["stats"]["visible"] == 1
    started = api.post("queue/redrive", json={"arn": queue_arn(dlq_name)})
    assert started.status_code == 200, started.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tasks = api.get("queue", params={"arn": queue_arn(dlq_name)}).json()["move_tasks"]
        if tasks and tasks[0]["Status"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert tasks[0]["Status"] == "COMPLETED" and tasks[0]["ApproximateNumberOfMessagesMoved"] == 1
    assert sqs.receive_message(QueueUrl=src)["Messages"][0]["Body"] == "poison"
    assert dlq


def test_topics_subscriptions_publish_and_failures(console_server, api):
    sqs = make_client(console_server.endpoint, "json")
    sns = aws_client(console_server.endpoint, "sns")
    topic_name = unique_name("topic")
    created = api.post("topics", json={"name": topic_name})
    assert created.status_code == 200
    topic = created.json()["TopicArn"]
    name = unique_name("fan")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(name), Attributes={
        "FilterPolicy": json.dumps({"kind": ["order"]}), "RawMessageDelivery": "true"})
    gone = unique_name("gone")
    gone_url = sqs.create_queue(QueueName=gone)["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(gone))
    sqs.delete_queue(QueueUrl=gone_url)
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:9/nowhere")
    published = api.post("topic/publish", json={"arn": topic, "message": "to the queue", "attributes": [
        {"name": "kind", "type": "String", "value": "order"}]})
    assert published.status_code == 200, published.text
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "to the queue"
    listed = api.get("topics", params={"search": topic_name}).json()["topics"]
    assert listed == [{"arn": topic, "name": topic_name, "confirmed": 2, "pending": 1, "fifo": False}]
    doc = api.get("topic", params={"arn": topic}).json()
    subs = {s["protocol"] + ":" + s["status"]: s for s in doc["subscriptions"]}
    assert set(subs) == {"sqs:confirmed", "http:pending"}
    filtered = [s for s in doc["subscriptions"] if s["endpoint"] == queue_arn(name)][0]
    assert json.loads(filtered["filter_policy"]) == {"kind": ["order"]} and filtered["raw"] is True
    failures = [(f["protocol"], f["endpoint"], f["reason"]) for f in doc["failures"]]
    assert ("sqs", queue_arn(gone), "The queue does not exist.") in failures


def test_functions_invoke_with_log_tail_and_recent_invocations(console_server, api):
    lam = aws_client(console_server.endpoint)
    name = create_function(lam, {"app.py": (
        "def handler(event, context):\n"
        "    print('working on', event['n'])\n"
        "    if event['n'] < 0:\n"
        "        raise ValueError('negative')\n"
        "    return {'double': event['n'] * 2}\n"
    )})
    ok = api.post("function/invoke", json={"name": name, "payload": '{"n": 21}'}).json()
    assert json.loads(ok["payload"]) == {"double": 42} and ok["function_error"] is None
    assert "working on 21" in ok["log"] and "REPORT RequestId" in ok["log"]
    bad = api.post("function/invoke", json={"name": name, "payload": '{"n": -1}'}).json()
    assert bad["function_error"] == "Unhandled" and "negative" in bad["payload"]
    listed = api.get("functions", params={"search": name}).json()["functions"]
    assert [(f["name"], f["invocations"], f["errors"]) for f in listed] == [(name, 2, 1)]
    doc = api.get("function", params={"name": name}).json()
    assert doc["configuration"]["Handler"] == "app.handler"
    assert [r["error"] for r in doc["recent"]] == ["Unhandled", None]
    assert all(r["duration_ms"] > 0 for r in doc["recent"])
    assert "items" in doc["event_source_mappings"]
    deadline = time.monotonic() + 10
    while not any("working on -1" in e["message"] for e in doc["logs"]["events"]) and time.monotonic() < deadline:
        time.sleep(0.2)  # function output reaches CloudWatch Logs within ~100 ms
        doc = api.get("function", params={"name": name}).json()
    assert doc["logs"]["group"] == f"/aws/lambda/{name}"
    assert any("working on -1" in e["message"] for e in doc["logs"]["events"])
    missing = api.get("function", params={"name": "no-such-function"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("GET", "nothing-here", None, 404, "NotFound"),
    ("POST", "queue/send", b"not json", 400, "ValidationError"),
    ("POST", "queue/send", b"[1]", 400, "ValidationError"),
    ("POST", "queue/send", b'{"arn": "arn:aws:sns:us-east-1:000000000000:x", "body": "b"}', 400, "ValidationError"),
    ("POST", "queue/send", b'{"body": "b"}', 400, "ValidationError"),
    ("GET", "queues?page=abc", None, 400, "ValidationError"),
    ("POST", "queues", b'{"name": "bad name!"}', 400, "InvalidParameterValue"),
    ("GET", "queue/peek?arn=arn:aws:sqs:us-east-1:000000000000:missing", None, 400, "AWS.SimpleQueueService.NonExistentQueue"),
    ("GET", "topic?arn=arn:aws:sns:us-east-1:000000000000:missing", None, 404, "NotFound"),
])
def test_bad_requests_get_clear_errors(api, method, path, body, status, code):
    got = api.request(method, path, content=body, headers={"content-type": "application/json"})
    assert got.status_code == status, got.text
    assert got.json()["error"]["code"] == code
    assert got.json()["error"]["message"]


def test_actions_need_a_json_content_type(console_server, api):
    """A form post from another site (no preflight) cannot act through the console."""
    name = unique_name("csrf")
    got = api.post("queues", content=json.dumps({"name": name}), headers={"content-type": "text/plain"})
    assert got.status_code == 400 and "application/json" in got.json()["error"]["message"]
    sqs = make_client(console_server.endpoint, "json")
    assert not sqs.list_queues(QueueNamePrefix=name).get("QueueUrls")
