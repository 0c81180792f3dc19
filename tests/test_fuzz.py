"""Issue 11: fuzzing SQS (Query and JSON protocols) and SNS with hypothesis.

Requests are built from botocore's models with hostile values (unparsable URLs, huge
numbers, control characters, JSON fragments, wrong types) and then mutated (keys dropped,
stray keys added) so they also reach shapes no SDK would send. Every answer must be a 2xx
or 4xx, and every Query answer well-formed XML (every JSON answer well-formed JSON).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Any

import botocore.session
import pytest
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server import make_client, query_model_dir, unique_name
from sns_helpers import sns_client

pytestmark = pytest.mark.timeout(180)

EXAMPLES = 800  # per test: about 2,400 requests in all
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Keys whose values would make the server wait (long polls): always sent as 0.
NO_WAIT = ("WaitTimeSeconds",)


class Target:
    """A private in-memory server with a few resources for the fuzzed requests to hit."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        host, port = urllib.parse.urlsplit(endpoint).netloc.split(":")
        self.host, self.port = host, int(port)
        self.conn: http.client.HTTPConnection | None = None
        sqs, sns = make_client(endpoint), sns_client(endpoint)
        self.queue_url = sqs.create_queue(QueueName=unique_name("fuzz"))["QueueUrl"]
        self.fifo_url = sqs.create_queue(QueueName=unique_name("fuzz") + ".fifo",
                                         Attributes={"FifoQueue": "true"})["QueueUrl"]
        self.queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.topic_arn = sns.create_topic(Name=unique_name("fuzz"))["TopicArn"]
        self.fifo_topic_arn = sns.create_topic(
            Name=unique_name("fuzz") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        for scope in ("MessageAttributes", "MessageBody"):
            url = sqs.create_queue(QueueName=unique_name(scope))["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn, Attributes={
                "FilterPolicyScope": scope, "FilterPolicy": json.dumps({"n": [{"numeric": [">", 0]}]}),
            })
        sns.subscribe(TopicArn=self.fifo_topic_arn, Protocol="sqs", Endpoint=self.queue_arn)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request("POST", "/", body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def values(self) -> st.SearchStrategy[str]:
        fixed = [
            "", "a", "0", "-1", "1", "10", "43201", "1e999999999", "-1e999999999", "NaN", "Infinity",
            "true", "false", "http://[::1", "http://[::1/x", "http://127.0.0.1:1/", "https://",
            self.queue_url, self.fifo_url, self.queue_arn, self.topic_arn, self.fifo_topic_arn,
            self.queue_url + "/x", "arn:aws:sqs:us-east-1:000000000000:nope", "arn:aws:sns:x",
            "\x00", "X\x01\x1f", "\ufffe", "\ud7ff\ue000", "<&>\"'", "{}", "[]", "null",
            '{"n": [{"numeric": [">", 1e999999999]}]}', '{"n": 1e999999999}', '{"n": [1e999999999]}',
            '{"default": "x"}', '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x", "maxReceiveCount": 1}',
            "String", "Number", "Binary", "String.Array", "String.x", "json", "sqs", "http", "email", "lambda",
            "All", "VisibilityTimeout", "DelaySeconds", "FifoQueue", "RedrivePolicy", "Policy",
            "FilterPolicy", "RawMessageDelivery", "DeliveryPolicy", "MessageRetentionPeriod", "g", "d",
            "x" * 300, "\U0001f600" * 3,
        ]
        return st.one_of(st.sampled_from(fixed), st.text(max_size=12))


def shape_value(shape, values: st.SearchStrategy[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for a botocore shape; scalars are hostile strings (wrong types included)."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {name: shape_value(member, values, depth + 1) for name, member in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if kind == "list":
        return st.lists(shape_value(shape.member, values, depth + 1), max_size=2)
    if kind == "map":
        return st.dictionaries(values, shape_value(shape.value, values, depth + 1), max_size=2)
    if kind in ("integer", "long"):
        return st.one_of(st.integers(-5, 2_000_000), values)
    if kind == "boolean":
        return st.one_of(st.booleans(), values)
    if kind == "blob":
        return st.one_of(st.binary(max_size=8), values)
    if kind == "timestamp":
        return st.just("2026-01-01T00:00:00Z")
    return values


def _strip_waits(params: dict[str, Any]) -> None:
    for key in list(params):
        if key in NO_WAIT:
            params[key] = 0


@st.composite
def query_request(draw, model, target: Target, extra_keys: list[str]) -> tuple[str, dict[str, str]]:
    names = sorted(model.operation_names)
    action = draw(st.one_of(st.sampled_from(names), st.sampled_from(names), st.text(max_size=8)))
    params: dict[str, Any] = {}
    if action in names:
        operation = model.operation_model(action)
        if operation.input_shape is not None:
            raw = draw(shape_value(operation.input_shape, target.values()))
            _strip_waits(raw)
            try:
                request = create_serializer("query").serialize_to_request(raw, operation)
                params = {k: v for k, v in request["body"].items() if k not in ("Action", "Version")}
            except Exception:  # noqa: BLE001 - a value the SDK cannot serialize: fall back to raw keys
                params = {k: v for k, v in raw.items() if isinstance(v, str)}
    for key in draw(st.lists(st.sampled_from(sorted(params) or ["-"]), max_size=2)):
        params.pop(key, None)  # drop parts of entries (a map entry without its value, ...)
    params.update(draw(st.dictionaries(st.sampled_from(extra_keys), target.values(), max_size=2)))
    if action == "ReceiveMessage":
        params["WaitTimeSeconds"] = "0"
    return action, {k: str(v) for k, v in params.items()}


QUERY_EXTRA_KEYS = [
    "QueueUrl", "TopicArn", "MessageBody", "Message", "Attribute.1.Name", "Attribute.1.Value",
    "MessageAttribute.1.Name", "MessageAttribute.1.Value.DataType", "MessageAttribute.1.Value.StringValue",
    "MessageAttributes.entry.1.Name", "MessageAttributes.entry.1.Value.DataType",
    "MessageAttributes.entry.1.Value.StringValue", "Attributes.entry.1.key", "Attributes.entry.1.value",
    "PublishBatchRequestEntries.member.1.Id", "PublishBatchRequestEntries.member.1.Message",
    "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name",
    "SendMessageBatchRequestEntry.1.Id", "SendMessageBatchRequestEntry.1.MessageBody", "ReceiptHandle",
    "Tags.member.1.Key", "Tag.1.Key", "Tag.1.Value", "MessageGroupId", "MessageDeduplicationId",
]


def _check_xml(status: int, payload: bytes, what: object) -> None:
    assert status < 500, (status, payload[:500], what)
    try:
        ET.fromstring(payload)
    except ET.ParseError as error:
        raise AssertionError(f"malformed XML ({error}) for {what!r}: {payload[:500]!r}") from None


def _auth(service: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0")


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Target:
    from server import ServerProcess

    proc = ServerProcess(tmp_path_factory.mktemp("fuzz"), in_memory=True).start()
    yield Target(proc.endpoint)
    proc.stop()


@pytest.fixture(scope="module")
def sqs_query_model():
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, str(query_model_dir()))
    model = session.get_service_model("sqs")
    assert model.protocol == "query"
    return model


@pytest.mark.parametrize("service", ["sqs", "sns"])
def test_fuzz_query_protocol(target, sqs_query_model, service):
    model = sqs_query_model if service == "sqs" else botocore.session.Session().get_service_model("sns")

    @FUZZ_SETTINGS
    @given(request=query_request(model, target, QUERY_EXTRA_KEYS))
    def run(request: tuple[str, dict[str, str]]) -> None:
        action, params = request
        body = urllib.parse.urlencode([("Action", action), *params.items()]).encode()
        status, payload = target.post(body, {
            "Content-Type": "application/x-www-form-urlencoded", "Authorization": _auth(service)})
        _check_xml(status, payload, (action, params))

    run()


@st.composite
def json_request(draw, model, target: Target) -> tuple[str, bytes]:
    names = sorted(model.operation_names)
    header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8)
    action = draw(st.one_of(st.sampled_from(names), st.sampled_from(names), header_text))
    body: Any = {}
    if action in names:
        operation = model.operation_model(action)
        if operation.input_shape is not None:
            body = draw(shape_value(operation.input_shape, target.values()))
            _strip_waits(body)
    body.update(draw(st.dictionaries(st.sampled_from(["QueueUrl", "MessageBody", "Entries", "Attributes"]),
                                     st.one_of(target.values(), st.integers(), st.none(), st.lists(st.none())),
                                     max_size=2)))
    if action == "ReceiveMessage":
        body["WaitTimeSeconds"] = 0
    try:
        encoded = json.dumps(body, default=lambda b: b.hex()).encode()
    except (TypeError, ValueError):
        encoded = b"{"
    return action, draw(st.sampled_from([encoded, encoded, encoded[:-1], b"[]", b"\xff"]))


def test_fuzz_sqs_json_protocol(target):
    model = botocore.session.Session().get_service_model("sqs")
    assert model.protocol == "json"

    @FUZZ_SETTINGS
    @given(request=json_request(model, target))
    def run(request: tuple[str, bytes]) -> None:
        action, body = request
        status, payload = target.post(body, {
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{action}",
            "Authorization": _auth("sqs")})
        assert status < 500, (status, payload[:500], action, body[:500])
        json.loads(payload)

    run()
