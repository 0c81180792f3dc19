"""Invoke against a real server with real handlers: synchronous answers, errors and logs,
asynchronous retries, destinations and dead-letter queues, concurrency, handlers calling
Postroom themselves, and async events surviving kill -9."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import client, create_function, receive_bodies
from server import ServerProcess, unique_name

ECHO = """
import json, os
def handler(event, context):
    print("got", json.dumps(event))
    return {"event": event, "request": context.aws_request_id, "name": context.function_name,
            "arn": context.invoked_function_arn, "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "color": os.environ.get("COLOR"), "pid": os.getpid()}
"""

FAIL = """
def handler(event, context):
    raise ValueError("bad order " + str(event.get("id")))
"""

SLEEP = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""

SEND = """
import json, os, time
import boto3
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=event["queue"], MessageBody=json.dumps({"id": event["id"]}))
    return {"sent": event["id"]}
"""


@pytest.fixture(scope="module")
def lam(endpoint):
    return client(endpoint)


@pytest.fixture(scope="module")
def sqs(endpoint):
    return client(endpoint, "sqs")


def invoke_json(lam, name, payload, **kwargs):
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
    return resp, json.loads(resp["Payload"].read() or b"null")


def test_sync_invoke_returns_the_handler_answer_with_context_and_environment(lam, endpoint):
    name = create_function(lam, {"app.py": ECHO}, Environment={"Variables": {"COLOR": "blue"}})
    resp, body = invoke_json(lam, name, {"name": "ada"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    assert body["event"] == {"name": "ada"} and body["name"] == name and body["color"] == "blue"
    assert body["arn"].endswith(f":function:{name}")
    assert body["endpoint"].startswith("http://127.0.0.1:")
    assert len(body["request"]) == 36


def test_log_tail_has_the_invocation_lines(lam):
    name = create_function(lam, {"app.py": ECHO})
    resp = lam.invoke(FunctionName=name, Payload=b'{"x": 1}', LogType="Tail")
    log = base64.b64decode(resp["LogResult"]).decode()
    request_id = json.loads(resp["Payload"].read())["request"]
    assert f"START RequestId: {request_id}" in log
    assert 'got {"x": 1}' in log
    assert f"END RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log


def test_warm_environment_is_reused(lam):
    name = create_function(lam, {"app.py": ECHO})
    pids = {invoke_json(lam, name, {})[1]["pid"] for _ in range(5)}
    assert len(pids) == 1


def test_handler_error_answers_200_with_function_error(lam):
    name = create_function(lam, {"app.py": FAIL})
    resp, body = invoke_json(lam, name, {"id": 7})
    assert resp["StatusCode"] == 200 and resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad order 7"
    assert isinstance(body["stackTrace"], list)


def test_dry_run_and_event_answer_204_and_202(lam):
    name = create_function(lam, {"app.py": ECHO})
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202


def test_bad_payloads_are_refused(lam):
    name = create_function(lam, {"app.py": ECHO})
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=b"not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024) + b'"')
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=unique_name("missing"), Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_empty_payload_is_an_empty_object(lam):
    name = create_function(lam, {"app.py": ECHO})
    resp = lam.invoke(FunctionName=name)
    assert json.loads(resp["Payload"].read())["event"] == {}


def test_reserved_concurrency_throttles_past_the_limit(lam):
    name = create_function(lam, {"app.py": SLEEP})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    results: list = []

    def call():
        try:
            results.append(invoke_json(lam, name, {"sleep": 1.5})[1]["pid"])
        except ClientError as e:
            results.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    throttled = [r for r in results if r == "TooManyRequestsException"]
    pids = {r for r in results if isinstance(r, int)}
    assert len(throttled) == 2 and len(pids) == 2


def test_parallel_invokes_start_parallel_environments(lam):
    name = create_function(lam, {"app.py": SLEEP})
    pids: list[int] = []
    threads = [threading.Thread(target=lambda: pids.append(invoke_json(lam, name, {"sleep": 1})[1]["pid"]))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(pids)) == 3


def test_async_failure_is_retried_then_recorded_at_the_failure_destination_and_dlq(lam, sqs):
    failures = sqs.create_queue(QueueName=unique_name("onfail"))["QueueUrl"]
    dlq = sqs.create_queue(QueueName=unique_name("fn-dlq"))["QueueUrl"]
    arn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # noqa: E731
    name = create_function(lam, {"app.py": FAIL}, DeadLetterConfig={"TargetArn": arn(dlq)})
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn(failures)}},
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": 42}')
    [record_msg] = receive_bodies(sqs, failures, 1)
    record = json.loads(record_msg["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["requestPayload"] == {"id": 42}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "bad order 42"
    [dead] = receive_bodies(sqs, dlq, 1)
    assert json.loads(dead["Body"]) == {"id": 42}
    attrs = dead["MessageAttributes"]
    assert attrs["RequestID"]["StringValue"] == record["requestContext"]["requestId"]
    assert attrs["ErrorCode"]["StringValue"] == "200"
    assert "bad order 42" in attrs["ErrorMessage"]["StringValue"]


def test_async_success_goes_to_the_success_destination(lam, sqs):
    done = sqs.create_queue(QueueName=unique_name("onsuccess"))["QueueUrl"]
    done_arn = sqs.get_queue_attributes(QueueUrl=done, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create_function(lam, {"app.py": ECHO})
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": done_arn}},
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"ok": true}')
    [msg] = receive_bodies(sqs, done, 1)
    record = json.loads(msg["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responsePayload"]["event"] == {"ok": True}


def test_handler_sends_to_a_queue_through_postroom(lam, sqs):
    url = sqs.create_queue(QueueName=unique_name("from-fn"))["QueueUrl"]
    name = create_function(lam, {"app.py": SEND})
    resp, body = invoke_json(lam, name, {"queue": url, "id": 1})
    assert body == {"sent": 1}, body
    [msg] = receive_bodies(sqs, url, 1)
    assert json.loads(msg["Body"]) == {"id": 1}


def test_queued_async_events_survive_kill_9(private_server, tmp_path):
    data = tmp_path / "data"
    # A short lease: on a shared store the restarted node waits out the dead one's lease.
    args = ["--lambda-retry-scale", "0.01", "--lease-ttl", "2"]
    srv = private_server(data_dir=data, args=args)
    lam, sqs = client(srv.endpoint), client(srv.endpoint, "sqs")
    url = sqs.create_queue(QueueName=unique_name("marks"))["QueueUrl"]
    name = create_function(lam, {"app.py": SEND})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    count = 8
    for i in range(count):
        payload = json.dumps({"queue": url, "id": i, "sleep": 0.2}).encode()
        assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)["StatusCode"] == 202
    srv.kill()
    srv2 = ServerProcess(data, port=srv.port, log_dir=tmp_path, args=args).start()
    try:
        sqs2 = client(srv2.endpoint, "sqs")
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < count and time.monotonic() < deadline:
            seen |= {json.loads(m["Body"])["id"] for m in receive_bodies(sqs2, url, count - len(seen), timeout=5)}
        assert seen == set(range(count))
    finally:
        srv2.stop()
