"""Queues per region: names unique per (account, region, name), queue URLs of every
endpoint strategy (``--sqs-endpoint-strategy``), and the schema-2 migration of old data dirs."""

from __future__ import annotations

import http.client
import os
import sqlite3
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import EXTERNAL
from server import (
    ACCOUNT,
    CLIENT_CONFIG,
    ServerProcess,
    error_code,
    make_client,
    on_postgres,
    query_code,
    unique_name,
)

from postroom.http.hosts import HostPolicy
from postroom.sqs.endpoints import queue_url
from postroom.sqs.names import parse_queue_url

US, EU = "us-east-1", "eu-west-1"


def _arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _bodies(sqs, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [m["Body"] for m in messages]


def _expect(code: str, call, **kwargs) -> None:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    assert error_code(info.value) == query_code(code)


def _query_post(port: int, url: str, params: dict[str, str], region: str) -> tuple[int, bytes]:
    """A signed Query-protocol POST to a queue URL as written (its host in the Host header),
    sent to the server on 127.0.0.1: no DNS needed for the host-based shapes."""
    body = urlencode({**params, "Version": "2012-11-05"})
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials("test", "test"), "sqs", region).add_auth(request)
    parts = urlsplit(url)
    headers = {**dict(request.headers.items()), "Host": parts.netloc}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", parts.path, body, headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- one server, default strategy --------------------------------------------------------------


def test_same_name_in_two_regions_is_two_queues(endpoint, protocol):
    us, eu = make_client(endpoint, protocol, region=US), make_client(endpoint, protocol, region=EU)
    name = unique_name("twin")
    us_url = us.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
    eu_url = eu.create_queue(QueueName=name)["QueueUrl"]  # other attributes: no QueueNameExists
    assert _arn(us, us_url) == f"arn:aws:sqs:{US}:{ACCOUNT}:{name}"
    assert _arn(eu, eu_url) == f"arn:aws:sqs:{EU}:{ACCOUNT}:{name}"
    assert us.get_queue_attributes(QueueUrl=us_url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "7"}
    assert eu.get_queue_attributes(QueueUrl=eu_url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "30"}

    us.send_message(QueueUrl=us_url, MessageBody="for us")
    eu.send_message(QueueUrl=eu_url, MessageBody="for eu")
    assert _bodies(eu, eu_url) == ["for eu"]
    assert _bodies(us, us_url) == ["for us"]

    assert us.list_queues(QueueNamePrefix=name)["QueueUrls"] == [us_url]
    assert eu.list_queues(QueueNamePrefix=name)["QueueUrls"] == [eu_url]
    other = make_client(endpoint, protocol, region="ap-south-1")
    assert "QueueUrls" not in other.list_queues(QueueNamePrefix=name)
    _expect("QueueDoesNotExist", other.get_queue_url, QueueName=name)
    assert eu.get_queue_url(QueueName=name)["QueueUrl"] == eu_url

    # Deleting one region's queue leaves the other's; the 60-second rule is per region too.
    us.delete_queue(QueueUrl=us_url)
    assert _bodies(eu, eu_url) == [] and _arn(eu, eu_url).endswith(f":{EU}:{ACCOUNT}:{name}")
    _expect("QueueDeletedRecently", us.create_queue, QueueName=name)
    other_url = other.create_queue(QueueName=name)["QueueUrl"]
    for client, url in ((eu, eu_url), (other, other_url)):
        client.delete_queue(QueueUrl=url)


def test_arns_resolve_their_regions_queue(endpoint, protocol):
    """SNS fan-out and redrive policies name queues by ARN: region R's ARN is region R's queue."""
    us, eu = make_client(endpoint, protocol, region=US), make_client(endpoint, protocol, region=EU)
    name = unique_name("fan")
    us_url, eu_url = us.create_queue(QueueName=name)["QueueUrl"], eu.create_queue(QueueName=name)["QueueUrl"]
    sns = boto3.session.Session().client(
        "sns", endpoint_url=endpoint, region_name=US, aws_access_key_id="test",
        aws_secret_access_key="test", config=CLIENT_CONFIG,
    )
    topic = sns.create_topic(Name=unique_name("topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=_arn(eu, eu_url),
                  Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="to eu only")
    received = eu.receive_message(QueueUrl=eu_url, WaitTimeSeconds=5).get("Messages", [])
    assert [m["Body"] for m in received] == ["to eu only"]
    assert _bodies(us, us_url) == []

    # A dead-letter target of another region's ARN does not exist for this region's queue.
    dlq = unique_name("dlq")
    eu_dlq = eu.create_queue(QueueName=dlq)["QueueUrl"]
    policy = f'{{"deadLetterTargetArn":"arn:aws:sqs:{US}:{ACCOUNT}:{dlq}","maxReceiveCount":"2"}}'
    _expect("InvalidParameterValue", eu.set_queue_attributes, QueueUrl=eu_url, Attributes={"RedrivePolicy": policy})
    assert eu.list_dead_letter_source_queues(QueueUrl=eu_dlq).get("queueUrls", []) == []
    sns.delete_topic(TopicArn=topic)
    for client, url in ((us, us_url), (eu, eu_url), (eu, eu_dlq)):
        client.delete_queue(QueueUrl=url)


# -- endpoint strategies -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["off", "standard", "domain", "path"])
def strategy_server(request, tmp_path_factory):
    """A server per strategy; ``domain`` is chosen through the environment variable."""
    if EXTERNAL:
        pytest.skip("needs private servers (POSTROOM_TEST_ENDPOINT is set)")
    strategy = request.param
    args = [] if strategy in ("off", "domain") else ["--sqs-endpoint-strategy", strategy]
    proc = ServerProcess(in_memory=True, log_dir=tmp_path_factory.mktemp(f"strategy-{strategy}"), args=args)
    saved = os.environ.get("POSTROOM_SQS_ENDPOINT_STRATEGY")
    if strategy == "domain":
        os.environ["POSTROOM_SQS_ENDPOINT_STRATEGY"] = "domain"
    try:
        proc.start()
    finally:
        if saved is None:
            os.environ.pop("POSTROOM_SQS_ENDPOINT_STRATEGY", None)
        else:
            os.environ["POSTROOM_SQS_ENDPOINT_STRATEGY"] = saved
    yield strategy, proc
    proc.stop()


def _expected_url(strategy: str, port: int, region: str, name: str) -> str:
    return {
        "off": f"http://127.0.0.1:{port}/{ACCOUNT}/{name}",
        "standard": f"http://sqs.{region}.localhost:{port}/{ACCOUNT}/{name}",
        "domain": (f"http://queue.localhost:{port}/{ACCOUNT}/{name}" if region == US
                   else f"http://{region}.queue.localhost:{port}/{ACCOUNT}/{name}"),
        "path": f"http://127.0.0.1:{port}/queue/{region}/{ACCOUNT}/{name}",
    }[strategy]


def test_each_strategy_answers_its_urls_and_they_work(strategy_server, protocol):
    strategy, proc = strategy_server
    us, eu = make_client(proc.endpoint, protocol, region=US), make_client(proc.endpoint, protocol, region=EU)
    name = unique_name("shape")
    eu_url = eu.create_queue(QueueName=name)["QueueUrl"]
    us_url = us.create_queue(QueueName=name)["QueueUrl"]
    assert eu_url == _expected_url(strategy, proc.port, EU, name)
    assert us_url == _expected_url(strategy, proc.port, US, name)
    assert eu.get_queue_url(QueueName=name)["QueueUrl"] == eu_url
    assert eu.list_queues(QueueNamePrefix=name)["QueueUrls"] == [eu_url]
    if strategy != "off":
        assert eu_url != us_url
        # The URL names its region: a client of another region reaches that region's queue.
        us.send_message(QueueUrl=eu_url, MessageBody="via url")
        assert _bodies(eu, eu_url) == ["via url"] and _bodies(us, us_url) == []
    # Posted to the URL itself (Query protocol, QueueUrl taken from the path and host).
    status, body = _query_post(proc.port, eu_url, {"Action": "SendMessage", "MessageBody": "posted"}, EU)
    assert status == 200, body
    assert _bodies(eu, eu_url) == ["posted"] and _bodies(us, us_url) == []
    for client, url in ((eu, eu_url), (us, us_url)):
        client.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("shape", ["off", "standard", "domain", "path"])
def test_every_url_shape_is_accepted_under_any_strategy(strategy_server, protocol, shape):
    strategy, proc = strategy_server
    eu = make_client(proc.endpoint, protocol, region=EU)
    us = make_client(proc.endpoint, protocol, region=US)
    name = unique_name("any")
    eu.create_queue(QueueName=name)
    us_url = us.create_queue(QueueName=name)["QueueUrl"]
    url = queue_url(shape, proc.endpoint, EU, ACCOUNT, name)
    # A URL without a region (off) names the caller's region's queue; the others name theirs.
    caller = eu if shape == "off" else us
    caller.send_message(QueueUrl=url, MessageBody=f"{shape} under {strategy}")
    status, body = _query_post(proc.port, url, {"Action": "SendMessage", "MessageBody": "raw"}, EU)
    assert status == 200, body
    assert sorted(_bodies(eu, url)) == sorted([f"{shape} under {strategy}", "raw"])
    assert _bodies(us, us_url) == []
    eu.delete_queue(QueueUrl=url)
    us.delete_queue(QueueUrl=us_url)
    _expect("QueueDoesNotExist", caller.send_message, QueueUrl=url, MessageBody="gone")


# -- in-process: URL shapes and Host names ------------------------------------------------------


def test_parse_queue_url_reads_each_shape():
    assert parse_queue_url("http://localhost:4566/000000000000/q") == (None, "000000000000", "q")
    assert parse_queue_url("http://sqs.eu-west-1.localhost:4566/1/q") == ("eu-west-1", "1", "q")
    assert parse_queue_url("https://sqs.us-gov-west-1.amazonaws.com/1/q") == ("us-gov-west-1", "1", "q")
    assert parse_queue_url("http://ap-south-1.queue.localhost/1/q") == ("ap-south-1", "1", "q")
    assert parse_queue_url("http://queue.localhost.localstack.cloud:4566/1/q") == ("us-east-1", "1", "q")
    assert parse_queue_url("http://h:1/queue/eu-west-2/1/q.fifo") == ("eu-west-2", "1", "q.fifo")
    assert parse_queue_url("/queue/local/1/q") == ("local", "1", "q")
    # Names that merely look similar are someone's host, not a region.
    assert parse_queue_url("http://queue.example.com/1/q") == (None, "1", "q")
    assert parse_queue_url("http://sqs.internal.example.com/1/q") == (None, "1", "q")
    assert parse_queue_url("http://h/queue/1/q") is None
    assert parse_queue_url("http://[::1") is None


def test_queue_url_keeps_the_port_and_scheme():
    assert queue_url("standard", "https://[::1]:8443", "eu-west-1", "1", "q") == "https://sqs.eu-west-1.localhost:8443/1/q"
    assert queue_url("domain", "http://postroom.test", "us-east-1", "1", "q") == "http://queue.localhost/1/q"
    assert queue_url("off", "http://h:1", "eu-west-1", "1", "q") == "http://h:1/1/q"


def test_host_policy_accepts_queue_hosts_of_allowed_names():
    policy = HostPolicy("127.0.0.1", ["postroom.test"])
    for host in ("sqs.eu-west-1.localhost:4566", "eu-west-1.queue.localhost", "queue.localhost:1",
                 "sqs.eu-west-1.postroom.test:4566", "ap-south-1.queue.postroom.test", "queue.postroom.test",
                 "postroom.test"):
        assert policy.allows(host), host
    for host in ("evil.postroom.test", "sqs.not-a-region.postroom.test", "sqs.eu-west-1.evil.example",
                 "queue.evil.example", "sqs.eu-west-1.postroom.test.evil.example"):
        assert not policy.allows(host), host


# -- migration of a version-1 data dir ------------------------------------------------------------

_V1_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (account, name)
);
CREATE TABLE sqs_deleted_queues (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _old_data_dir(path) -> None:
    """A data dir as version 1 wrote it: two queues (ids 2 and 5; the newest, 7, was
    deleted), one message, a recently deleted name."""
    os.makedirs(path, exist_ok=True)
    conn = sqlite3.connect(path / "postroom.sqlite3")
    conn.executescript(_V1_DDL)
    attrs = '{"VisibilityTimeout": "30"}'
    conn.executemany(
        "INSERT INTO queues (id, account, region, name, attributes, tags, created_at, modified_at)"
        " VALUES (?,?,?,?,?,'{}',1700000000,1700000000)",
        [(2, ACCOUNT, US, "old-us", attrs), (5, ACCOUNT, EU, "old-eu", attrs), (7, ACCOUNT, US, "gone", attrs)],
    )
    conn.execute("DELETE FROM queues WHERE id=7")
    conn.execute("INSERT INTO sqs_deleted_queues VALUES (?, 'gone', 1700000000000)", (ACCOUNT,))
    conn.commit()
    conn.close()


@pytest.mark.skipif(on_postgres(), reason="an SQLite data directory's upgrade (PostgreSQL has its own migrations)")
def test_version_1_data_dir_is_migrated_in_place(private_server, tmp_path):
    data_dir = tmp_path / "old"
    _old_data_dir(data_dir)
    # The messages table as this version writes it; the old rows need one message.
    proc = private_server(data_dir=data_dir)
    us, eu = make_client(proc.endpoint, "json", region=US), make_client(proc.endpoint, "json", region=EU)
    old_us, old_eu = us.get_queue_url(QueueName="old-us")["QueueUrl"], eu.get_queue_url(QueueName="old-eu")["QueueUrl"]
    _expect("QueueDoesNotExist", us.get_queue_url, QueueName="old-eu")
    eu.send_message(QueueUrl=old_eu, MessageBody="kept")
    # Names are per region now: the EU name in the US, the US name in the EU.
    us.create_queue(QueueName="old-eu")
    eu.create_queue(QueueName="old-us")
    assert us.list_queues()["QueueUrls"] == [f"{proc.endpoint}/{ACCOUNT}/old-eu", old_us]
    proc.stop()

    conn = sqlite3.connect(data_dir / "postroom.sqlite3")
    try:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
        rows = conn.execute("SELECT id, region, name FROM queues ORDER BY id").fetchall()
        # Ids kept; new ones above the old high-water mark (7), never reusing a deleted id.
        assert rows[:2] == [(2, US, "old-us"), (5, EU, "old-eu")]
        assert sorted(r[0] for r in rows[2:]) == [8, 9]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='queues'").fetchone()[0]
        assert "UNIQUE (account, region, name)" in sql
        assert conn.execute("SELECT COUNT(*) FROM messages WHERE queue_id=5").fetchone() == (1,)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(sqs_deleted_queues)")]
        assert columns == ["account", "region", "name", "deleted_at"]
    finally:
        conn.close()

    # And it starts again as version 2, its message still there.
    proc = private_server(data_dir=data_dir)
    eu = make_client(proc.endpoint, "json", region=EU)
    assert _bodies(eu, eu.get_queue_url(QueueName="old-eu")["QueueUrl"]) == ["kept"]
