"""Shared pieces of the SNS conformance tests: clients, topic and queue factories, an HTTP
endpoint served by the test itself, and AWS's message signature check.

Test modules load the fixtures with ``pytest_plugins = ["sns_helpers"]``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from server import CLIENT_CONFIG, REGION, error_code, make_client, signed_request

ACCOUNT = "000000000000"
RECORDS_PATH = "/_postroom/sns/records"
# AWS names its certificate SimpleNotificationService-<32 hex digits>.pem.
CERT_PATH = r"/_postroom/sns/SimpleNotificationService-[0-9a-f]{32}\.pem"  # a regular expression
TIMESTAMP_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"

# A retry schedule short enough for tests: retries 1 s apart.
FAST_RETRIES = {
    "numRetries": 3,
    "minDelayTarget": 1,
    "maxDelayTarget": 1,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "numMaxDelayRetries": 0,
    "backoffFunction": "linear",
}


def fast_delivery_policy(**overrides) -> str:
    """A subscription DeliveryPolicy with retries 1 s apart (``numRetries`` etc. overridable)."""
    return json.dumps({"healthyRetryPolicy": {**FAST_RETRIES, **overrides}})


def sns_client(endpoint: str, *, validate: bool = True, access_key: str = "test"):
    """A plain boto3 SNS client (AWS Query protocol)."""
    config = CLIENT_CONFIG
    if not validate:
        config = CLIENT_CONFIG.merge(Config(parameter_validation=False))
    return boto3.session.Session().client(
        "sns", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=access_key,
        aws_secret_access_key="test", config=config,
    )


def topic_name(prefix: str = "topic", fifo: bool = False) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}" + (".fifo" if fifo else "")


def sqs_queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def get_records(endpoint: str, access_key: str = ACCOUNT) -> list[dict]:
    """The would-be deliveries Postroom recorded (email, sms, lambda, ...) for the signing
    key's account, newest first (the records route needs a signed request)."""
    with urllib.request.urlopen(signed_request(endpoint + RECORDS_PATH, access_key), timeout=10) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def http_get(url: str | urllib.request.Request, timeout: float = 10.0) -> tuple[int, bytes]:
    """A plain unsigned GET (as a user's browser or an endpoint would fetch a SubscribeURL)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def drain(sqs, url: str, expected: int, timeout: float = 15.0, **kwargs) -> list[dict]:
    """Receive (and delete) until ``expected`` messages arrived, then make sure no more
    come: one further 1 s long poll must be empty. Returns everything received."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    kwargs.setdefault("MessageAttributeNames", ["All"])
    kwargs.setdefault("AttributeNames", ["All"])
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=60, **kwargs).get("Messages", [])
        if msgs:
            got += msgs
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        elif len(got) >= expected:
            break
    return got


def bodies(messages: list[dict]) -> list[str]:
    return [m["Body"] for m in messages]


# --------------------------------------------------------------------------- signatures

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                       "Type")


def expect_error(code: str, call, *args, **kwargs) -> ClientError:
    """Call and assert the AWS error code it fails with."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert error_code(e.value) == code, e.value.response
    return e.value


def string_to_sign(message: dict) -> bytes:
    """AWS's canonical text: the signed fields in byte order as "Name\\nValue\\n" lines;
    Subject only when the message has one."""
    names = NOTIFICATION_FIELDS if message["Type"] == "Notification" else CONFIRMATION_FIELDS
    return "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode("utf-8")


def verify_signature(message: dict) -> None:
    """Verify an SNS message as a receiver does: fetch the certificate from SigningCertURL
    and check Signature (v1 SHA1withRSA, v2 SHA256withRSA). Raises on a bad signature."""
    status, pem = http_get(message["SigningCertURL"])
    assert status == 200, f"SigningCertURL answered {status}"
    cert = x509.load_pem_x509_certificate(pem)
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[message["SignatureVersion"]]
    cert.public_key().verify(base64.b64decode(message["Signature"]), string_to_sign(message),
                             padding.PKCS1v15(), algorithm)


# --------------------------------------------------------------------------- HTTP endpoint


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: str
    at: float = field(default_factory=time.monotonic)

    @property
    def type(self) -> str | None:
        return self.headers.get("x-amz-sns-message-type")

    def json(self) -> dict:
        return json.loads(self.body)


class HttpEndpoint:
    """An HTTP server on 127.0.0.1 that records every POST and answers with the next status
    of ``statuses`` (for notifications), else ``default_status``. Confirmation requests are
    answered 200."""

    def __init__(self, port: int | None = None, statuses: list[int] | None = None,
                 default_status: int = 200):
        self.port = port or 0  # 0: the first start binds a free one (no race for it)
        self.statuses = list(statuses or [])
        self.default_status = default_status
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sns-endpoint"

    def start(self) -> HttpEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with endpoint._cond:
                    if item.type == "SubscriptionConfirmation":
                        status = 200
                    elif endpoint.statuses:
                        status = endpoint.statuses.pop(0)
                    else:
                        status = endpoint.default_status
                    endpoint.received.append(item)
                    endpoint._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]  # a restart reuses it
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of_type(self, kind: str) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.type == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """Wait until ``count`` requests of message type ``kind`` arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self.received if r.type == kind]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._cond.wait(left)


def confirm_via_url(endpoint: HttpEndpoint, sns, sub_arn: str, timeout: float = 15.0) -> dict:
    """Take the SubscriptionConfirmation the endpoint got, fetch its SubscribeURL, and wait
    until the subscription is confirmed. Returns the confirmation document."""
    got = endpoint.wait_for("SubscriptionConfirmation", 1, timeout)
    assert got, "no SubscriptionConfirmation arrived"
    doc = got[-1].json()
    status, _ = http_get(doc["SubscribeURL"])
    assert status == 200
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    return doc


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sns(endpoint):
    return sns_client(endpoint)


@pytest.fixture(scope="session")
def sns_unvalidated(endpoint):
    """An SNS client without botocore's parameter validation (to reach server checks)."""
    return sns_client(endpoint, validate=False)


@pytest.fixture(scope="session")
def queues(endpoint):
    """A JSON-protocol SQS client for the SNS tests (one protocol is enough here)."""
    return make_client(endpoint, "json")


@pytest.fixture
def make_topic(sns):
    """make_topic(prefix="topic", fifo=False, attributes=None, tags=None) -> topic ARN;
    deleted at teardown."""
    created: list[str] = []

    def make(prefix="topic", fifo=False, attributes=None, tags=None, name=None):
        attrs = dict(attributes or {})
        if fifo:
            attrs.setdefault("FifoTopic", "true")
        kwargs = {"Name": name or topic_name(prefix, fifo)}
        if attrs:
            kwargs["Attributes"] = attrs
        if tags:
            kwargs["Tags"] = tags
        arn = sns.create_topic(**kwargs)["TopicArn"]
        created.append(arn)
        return arn

    yield make
    for arn in created:
        try:
            sns.delete_topic(TopicArn=arn)
        except ClientError:
            pass


@dataclass
class Queue:
    url: str
    arn: str
    name: str


@pytest.fixture
def make_sqs_queue(queues):
    """make_sqs_queue(prefix="q", fifo=False, attributes=None) -> Queue(url, arn, name);
    deleted at teardown."""
    created: list[str] = []

    def make(prefix="q", fifo=False, attributes=None):
        name = f"{prefix}-{uuid.uuid4().hex[:16]}" + (".fifo" if fifo else "")
        attrs = dict(attributes or {})
        if fifo:
            attrs.setdefault("FifoQueue", "true")
        kwargs = {"QueueName": name}
        if attrs:
            kwargs["Attributes"] = attrs
        url = queues.create_queue(**kwargs)["QueueUrl"]
        created.append(url)
        return Queue(url, sqs_queue_arn(queues, url), name)

    yield make
    for url in created:
        try:
            queues.delete_queue(QueueUrl=url)
        except ClientError:
            pass


@pytest.fixture
def subscribe_queue(sns):
    """subscribe_queue(topic_arn, queue, raw=False, **attributes) -> subscription ARN."""

    def subscribe(topic_arn: str, queue: Queue, raw: bool = False, **attributes) -> str:
        attrs = {k: v for k, v in attributes.items() if v is not None}
        if raw:
            attrs["RawMessageDelivery"] = "true"
        kwargs = {"TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": queue.arn}
        if attrs:
            kwargs["Attributes"] = attrs
        return sns.subscribe(**kwargs)["SubscriptionArn"]

    return subscribe


@pytest.fixture
def http_endpoint():
    """http_endpoint(statuses=None, default_status=200, port=None) -> a started HttpEndpoint;
    stopped at teardown."""
    started: list[HttpEndpoint] = []

    def make(statuses=None, default_status=200, port=None) -> HttpEndpoint:
        ep = HttpEndpoint(port=port, statuses=statuses, default_status=default_status).start()
        started.append(ep)
        return ep

    yield make
    for ep in started:
        ep.stop()


@pytest.fixture
def http_subscription(sns, http_endpoint):
    """http_subscription(topic_arn, statuses=None, default_status=200, raw=False, **attrs)
    -> (endpoint, subscription ARN), confirmed through its SubscribeURL."""

    def make(topic_arn, statuses=None, default_status=200, raw=False, **attributes):
        ep = http_endpoint(statuses=statuses, default_status=default_status)
        attrs = {k: v for k, v in attributes.items() if v is not None}
        if raw:
            attrs["RawMessageDelivery"] = "true"
        kwargs = {"TopicArn": topic_arn, "Protocol": "http", "Endpoint": ep.url,
                  "ReturnSubscriptionArn": True}
        if attrs:
            kwargs["Attributes"] = attrs
        arn = sns.subscribe(**kwargs)["SubscriptionArn"]
        confirm_via_url(ep, sns, arn)
        return ep, arn

    return make
