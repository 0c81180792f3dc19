"""Issue 11, access control: requests must carry AWS authentication (by default), Host
names and CORS origins are checked, accounts are isolated unless a queue or topic policy
lets another account in, and ``--auth FILE`` verifies signatures (header and presigned),
clock skew and key ids. Tested with two accounts, auth off and on."""

from __future__ import annotations

import datetime
import json
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.auth
import pytest

pytest.register_assert_rewrite("sns_helpers")
from botocore.exceptions import ClientError  # noqa: E402
from http_raw import request as raw_request  # noqa: E402
from lambda_helpers import create_function  # noqa: E402
from server import CLIENT_CONFIG, REGION, ServerProcess, make_client, unique_name  # noqa: E402
from sns_helpers import get_records, signed_request  # noqa: E402

ALICE, BOB = "111111111111", "222222222222"
KEYS_TOML = f"""
[[keys]]
access_key_id = "AKIAALICE"
secret_access_key = "alice-secret"
account = "{ALICE}"

[[keys]]
access_key_id = "AKIABOBADMIN"
secret_access_key = "bob-secret"
account = "{BOB}"
admin = true
"""


def _client(endpoint: str, service: str, key: str, secret: str = "test"):
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
        aws_secret_access_key=secret, config=CLIENT_CONFIG,
    )


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def _status(exc: pytest.ExceptionInfo) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _fetch(req: urllib.request.Request | str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def _xml_code(body: bytes) -> str:
    return ET.fromstring(body).find("./{*}Error/{*}Code").text


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


# -- default rules: signed requests only, known hosts, no CORS ----------------------------


def test_unsigned_query_requests_are_refused(endpoint):
    sqs = make_client(endpoint, "json")
    url = sqs.create_queue(QueueName=unique_name("unsigned"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    # What a web page can make a browser do: a link (GET) and a form POST.
    status, _, body = _fetch(f"{endpoint}/?Action=PurgeQueue&QueueUrl={url}")
    assert status == 403 and _xml_code(body) == "MissingAuthenticationToken"
    form = urllib.request.Request(
        endpoint + "/", data=f"Action=DeleteQueue&QueueUrl={url}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    status, _, body = _fetch(form)
    assert status == 403 and _xml_code(body) == "MissingAuthenticationToken"
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_unsigned_json_requests_are_refused(endpoint):
    req = urllib.request.Request(
        endpoint + "/", data=b"{}", headers={
            "X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
    status, headers, body = _fetch(req)
    assert status == 403 and headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"
    assert "MissingAuthenticationToken" in json.loads(body)["__type"]


def test_health_and_certificate_stay_public(endpoint):
    assert _fetch(endpoint + "/health")[0] == 200
    assert _fetch(endpoint + "/_postroom/sns/SimpleNotificationService.pem")[0] == 200


def test_records_need_a_signature(endpoint):
    status, _, body = _fetch(endpoint + "/_postroom/sns/records")
    assert status == 403 and _xml_code(body) == "MissingAuthenticationToken"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:4566", "127.0.0.1.nip.io"])
def test_unknown_host_names_are_refused(endpoint, host):
    status, _, body = raw_request(
        _port(endpoint), f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert status == 403 and _xml_code(body) == "AccessDenied"


@pytest.mark.parametrize("host", ["localhost", "localhost:4566", "127.0.0.1", "[::1]:9", "api.localhost"])
def test_ip_addresses_and_localhost_are_served(endpoint, host):
    status, _, _ = raw_request(_port(endpoint), f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert status == 200


def test_no_cors_preflight_without_configured_origins(endpoint):
    status, headers, _ = raw_request(_port(endpoint), (
        b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
        b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n\r\n"
    ))
    assert status == 403 and "access-control-allow-origin" not in headers


AUTH_HEADER = ("Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
               "SignedHeaders=host, Signature=00\r\n")


def test_cross_site_links_are_refused_even_when_presigned_looking(endpoint):
    """A page can put presigned-looking parameters in a link: the browser's Sec-Fetch-Site
    (or Origin) gives it away."""
    query = ("/?Action=ListQueues&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20260101"
             "%2Fus-east-1%2Fsqs%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60"
             "&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
    status, _, body = raw_request(_port(endpoint), (
        f"GET {query} HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: cross-site\r\n\r\n").encode())
    assert status == 403 and _xml_code(body) == "AccessDenied"
    status, _, _ = raw_request(_port(endpoint), f"GET {query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert status == 200  # the same URL from a non-browser client (auth off: any key)


@pytest.mark.parametrize("origin,expected", [
    ("http://evil.example", 403), ("null", 403), ("http://127.0.0.1:{port}", 200),
])
def test_requests_from_other_origins_are_refused(endpoint, origin, expected):
    port = _port(endpoint)
    status, _, _ = raw_request(port, (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin.format(port=port)}\r\n{AUTH_HEADER}"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 17\r\n\r\nAction=ListQueues").encode())
    assert status == expected


def test_sns_links_work_from_a_mail_reader(endpoint):
    """SubscribeURL/UnsubscribeURL links clicked in webmail arrive cross-site and unsigned."""
    status, _, body = raw_request(_port(endpoint), (
        b"GET /?Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Ax%3Ay HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nSec-Fetch-Site: cross-site\r\n\r\n"))
    assert status != 403, body


# -- two accounts, auth off: isolation and resource policies ------------------------------


def test_another_account_cannot_touch_a_queue_without_a_policy(endpoint, protocol):
    alice, bob = make_client(endpoint, protocol, access_key=ALICE), make_client(endpoint, protocol, access_key=BOB)
    url = alice.create_queue(QueueName=unique_name("private"))["QueueUrl"]
    assert f"/{ALICE}/" in url
    alice.send_message(QueueUrl=url, MessageBody="alice's")
    for call in (
        lambda: bob.receive_message(QueueUrl=url),
        lambda: bob.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
        lambda: bob.send_message(QueueUrl=url, MessageBody="x"),
        lambda: bob.purge_queue(QueueUrl=url),
        lambda: bob.delete_queue(QueueUrl=url),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "AccessDenied" and _status(exc) == 403
    got = alice.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["alice's"]


def test_queue_policy_lets_another_account_in_for_its_actions(endpoint):
    alice, bob = make_client(endpoint, "json", access_key=ALICE), make_client(endpoint, "json", access_key=BOB)
    url = alice.create_queue(QueueName=unique_name("shared"))["QueueUrl"]
    arn = alice.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    alice.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{BOB}:root"},
             "Action": ["sqs:SendMessage", "sqs:Get*"], "Resource": arn},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:GetQueueAttributes", "Resource": "*"},
        ],
    })})
    bob.send_message(QueueUrl=url, MessageBody="from bob")
    with pytest.raises(ClientError) as exc:
        bob.get_queue_attributes(QueueUrl=url)  # the explicit Deny wins over the Allow
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        bob.purge_queue(QueueUrl=url)  # not granted
    assert _code(exc) == "AccessDenied"
    got = alice.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["from bob"]


def test_add_permission_grants_another_account(endpoint):
    alice, bob = make_client(endpoint, "query", access_key=ALICE), make_client(endpoint, "query", access_key=BOB)
    url = alice.create_queue(QueueName=unique_name("granted"))["QueueUrl"]
    with pytest.raises(ClientError):
        bob.send_message(QueueUrl=url, MessageBody="before")
    alice.add_permission(QueueUrl=url, Label="bob-send", AWSAccountIds=[BOB], Actions=["SendMessage"])
    bob.send_message(QueueUrl=url, MessageBody="after")
    with pytest.raises(ClientError) as exc:
        bob.receive_message(QueueUrl=url)
    assert _code(exc) == "AccessDenied"


def test_another_account_cannot_use_a_topic_without_a_policy(endpoint):
    alice, bob = _client(endpoint, "sns", ALICE), _client(endpoint, "sns", BOB)
    topic = alice.create_topic(Name=unique_name("topic"))["TopicArn"]
    for call in (
        lambda: bob.publish(TopicArn=topic, Message="x"),
        lambda: bob.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100"),
        lambda: bob.get_topic_attributes(TopicArn=topic),
        lambda: bob.delete_topic(TopicArn=topic),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "AuthorizationError" and _status(exc) == 403
    assert alice.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic


def test_topic_policy_lets_another_account_publish(endpoint):
    alice, bob = _client(endpoint, "sns", ALICE), _client(endpoint, "sns", BOB)
    topic = alice.create_topic(Name=unique_name("topic"))["TopicArn"]
    alice.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": BOB}, "Action": "SNS:Publish",
                       "Resource": topic}],
    }))
    assert bob.publish(TopicArn=topic, Message="allowed")["MessageId"]
    with pytest.raises(ClientError) as exc:
        bob.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100")
    assert _code(exc) == "AuthorizationError"


def test_records_show_only_the_callers_account(endpoint):
    subs = {}
    for account in (ALICE, BOB):
        sns = _client(endpoint, "sns", account)
        topic = sns.create_topic(Name=unique_name("rec"))["TopicArn"]
        subs[account] = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100",
                                      ReturnSubscriptionArn=True)["SubscriptionArn"]
        sns.publish(TopicArn=topic, Message=f"for {account}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = {r["subscriptionArn"] for r in get_records(endpoint, ALICE)}
        if subs[ALICE] in mine:
            break
        time.sleep(0.1)
    assert subs[ALICE] in mine
    assert all(f":{ALICE}:" in arn for arn in mine) and subs[BOB] not in mine


# -- relaxed: unsigned requests, CORS origins, extra host names ---------------------------


@pytest.fixture(scope="module")
def relaxed(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("relaxed"), args=[
        "--allow-unsigned", "--cors-origin", "http://app.example", "--allow-host", "postroom.test"]).start()
    yield proc
    proc.stop()


def test_allow_unsigned_serves_curl_style_requests(relaxed):
    status, _, body = _fetch(f"{relaxed.endpoint}/?Action=CreateQueue&QueueName=curl-made")
    assert status == 200 and b"curl-made" in body
    status, _, body = _fetch(f"{relaxed.endpoint}/?Action=ListQueues")
    assert status == 200 and b"/000000000000/curl-made" in body


def test_configured_cors_origin_gets_preflight_and_headers(relaxed):
    preflight = (
        "OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {origin}\r\n"
        "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, x-amz-target\r\n\r\n"
    )
    status, headers, _ = raw_request(relaxed.port, preflight.format(origin="http://app.example").encode())
    assert status == 200 and headers["access-control-allow-origin"] == "http://app.example"
    assert headers["access-control-allow-headers"] == "authorization, x-amz-target"
    status, headers, _ = raw_request(relaxed.port, preflight.format(origin="http://evil.example").encode())
    assert status == 403 and "access-control-allow-origin" not in headers
    status, headers, _ = raw_request(relaxed.port, (
        b"GET /?Action=ListQueues HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example\r\n\r\n"))
    assert status == 200 and headers["access-control-allow-origin"] == "http://app.example"


def test_allowed_host_names_are_served(relaxed):
    ok, _, _ = raw_request(relaxed.port, b"GET /health HTTP/1.1\r\nHost: postroom.test:4566\r\n\r\n")
    refused, _, _ = raw_request(relaxed.port, b"GET /health HTTP/1.1\r\nHost: other.test\r\n\r\n")
    assert (ok, refused) == (200, 403)


# -- auth on: verified signatures ---------------------------------------------------------


@pytest.fixture(scope="module")
def authed(tmp_path_factory):
    root = tmp_path_factory.mktemp("authed")
    keys = root / "keys.toml"
    keys.write_text(KEYS_TOML)
    proc = ServerProcess(root / "data", args=["--auth", str(keys)]).start()
    yield proc
    proc.stop()


def test_auth_accepts_known_keys_in_their_accounts(authed):
    alice = _client(authed.endpoint, "sqs", "AKIAALICE", "alice-secret")
    url = alice.create_queue(QueueName=unique_name("auth"))["QueueUrl"]
    assert f"/{ALICE}/" in url
    bob = _client(authed.endpoint, "sqs", "AKIABOBADMIN", "bob-secret")
    with pytest.raises(ClientError) as exc:
        bob.receive_message(QueueUrl=url)
    assert _code(exc) == "AccessDenied"


@pytest.mark.parametrize("service,call,code", [
    ("sqs", lambda c: c.list_queues(), "SignatureDoesNotMatch"),
    ("sns", lambda c: c.list_topics(), "SignatureDoesNotMatch"),
    ("lambda", lambda c: c.list_functions(), "InvalidSignatureException"),
])
def test_auth_wrong_secret_is_signature_does_not_match(authed, service, call, code):
    with pytest.raises(ClientError) as exc:
        call(_client(authed.endpoint, service, "AKIAALICE", "not-the-secret"))
    assert _code(exc) == code and _status(exc) == 403


@pytest.mark.parametrize("service,call,code", [
    ("sqs", lambda c: c.list_queues(), "InvalidClientTokenId"),
    ("sns", lambda c: c.list_topics(), "InvalidClientTokenId"),
    ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException"),
])
def test_auth_unknown_key_is_invalid_client_token(authed, service, call, code):
    with pytest.raises(ClientError) as exc:
        call(_client(authed.endpoint, service, "AKIANOBODY", "test"))
    assert _code(exc) == code and _status(exc) == 403


def test_auth_account_id_keys_need_the_function_secret(authed):
    """A 12-digit key id no longer names an account by itself: only function environments,
    given the server's secret, sign with one."""
    with pytest.raises(ClientError) as exc:
        _client(authed.endpoint, "sqs", ALICE, "test").list_queues()
    assert _code(exc) == "SignatureDoesNotMatch"


def test_auth_refuses_unsigned_requests(authed):
    status, _, body = _fetch(f"{authed.endpoint}/?Action=ListQueues")
    assert status == 403 and _xml_code(body) == "MissingAuthenticationToken"


def test_auth_presigned_urls(authed):
    sns = _client(authed.endpoint, "sns", "AKIAALICE", "alice-secret")
    topic = sns.create_topic(Name=unique_name("presigned"))["TopicArn"]
    # botocore signs query-protocol URLs for POST unless told the method they will be used with.
    url = sns.generate_presigned_url("list_topics", ExpiresIn=60, HttpMethod="GET")
    status, _, body = _fetch(url)
    assert status == 200 and topic.encode() in body
    status, _, body = _fetch(url.replace("Action=ListTopics", "Action=ListSubscriptions"))
    assert status == 403 and _xml_code(body) == "SignatureDoesNotMatch"
    short = sns.generate_presigned_url("list_topics", ExpiresIn=1, HttpMethod="GET")
    time.sleep(2.1)
    status, _, body = _fetch(short)
    assert status == 400 and _xml_code(body) == "RequestExpired"


@pytest.mark.parametrize("minutes,expect", [(-10, "Signature expired"), (10, "Signature not yet current"), (-4, None)])
def test_auth_clock_skew(authed, monkeypatch, minutes, expect):
    skewed = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed.replace(tzinfo=None))
    req = signed_request(f"{authed.endpoint}/?Action=ListTopics&Version=2010-03-31",
                         access_key="AKIAALICE", secret="alice-secret", service="sns")
    status, _, body = _fetch(req)
    if expect is None:
        assert status == 200
    else:
        assert status == 403 and _xml_code(body) == "SignatureDoesNotMatch"
        assert expect in ET.fromstring(body).find("./{*}Error/{*}Message").text


def test_auth_records_for_admins_cover_every_account(authed):
    subs = {}
    for key, secret in (("AKIAALICE", "alice-secret"), ("AKIABOBADMIN", "bob-secret")):
        sns = _client(authed.endpoint, "sns", key, secret)
        topic = sns.create_topic(Name=unique_name("rec"))["TopicArn"]
        subs[key] = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100",
                                  ReturnSubscriptionArn=True)["SubscriptionArn"]
        sns.publish(TopicArn=topic, Message="hello")

    def records(key: str, secret: str) -> set[str]:
        req = signed_request(authed.endpoint + "/_postroom/sns/records", key, secret)
        status, _, body = _fetch(req)
        assert status == 200
        return {r["subscriptionArn"] for r in json.loads(body)}

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not set(subs.values()) <= records("AKIABOBADMIN", "bob-secret"):
        time.sleep(0.1)
    assert set(subs.values()) <= records("AKIABOBADMIN", "bob-secret")
    alices = records("AKIAALICE", "alice-secret")
    assert subs["AKIAALICE"] in alices and subs["AKIABOBADMIN"] not in alices


def test_auth_function_environments_call_back_signed(authed):
    """Functions get their account id as key and a server secret; their SDK calls verify."""
    lam = _client(authed.endpoint, "lambda", "AKIAALICE", "alice-secret")
    sqs = _client(authed.endpoint, "sqs", "AKIAALICE", "alice-secret")
    url = sqs.create_queue(QueueName=unique_name("from-fn"))["QueueUrl"]
    name = create_function(lam, {"app.py": (
        "import boto3\n"
        "def handler(event, context):\n"
        "    boto3.client('sqs').send_message(QueueUrl=event['queue'], MessageBody='from the function')\n"
        "    return 'ok'\n")})
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"queue": url}).encode())
    assert "FunctionError" not in resp, resp["Payload"].read()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in got] == ["from the function"]


def test_bad_auth_file_stops_the_server_at_start(tmp_path):
    bad = tmp_path / "keys.json"
    bad.write_text(json.dumps({"keys": [{"access_key_id": "AKIAX", "secret_access_key": "s", "account": "12"}]}))
    proc = ServerProcess(tmp_path / "data", args=["--auth", str(bad)])
    with pytest.raises(RuntimeError, match="account must be a 12-digit string"):
        proc.start(timeout=10)


def test_data_directory_is_private(authed):
    """Stored messages are private: the data directory 0700, the files in it 0600 (unpacked
    function code keeps its package's modes, as on AWS, inside the private directory)."""
    _client(authed.endpoint, "sqs", "AKIAALICE", "alice-secret").create_queue(QueueName=unique_name("perm"))
    assert authed.data_dir.stat().st_mode & 0o777 == 0o700
    unpacked = authed.data_dir / "lambda" / "unpacked"
    files = [p for p in authed.data_dir.rglob("*") if p.is_file() and unpacked not in p.parents]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files]


def test_auth_caller_identity_is_the_keys_account(authed):
    sts = _client(authed.endpoint, "sts", "AKIAALICE", "alice-secret")
    assert sts.get_caller_identity()["Account"] == ALICE


def test_auth_keys_issued_by_iam_and_sts_sign_requests(authed):
    iam = _client(authed.endpoint, "iam", "AKIAALICE", "alice-secret")
    user = unique_name("u")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = _client(authed.endpoint, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert as_user.get_caller_identity()["Arn"] == f"arn:aws:iam::{ALICE}:user/{user}"
    creds = as_user.get_session_token()["Credentials"]
    temp = boto3.session.Session().client(
        "sqs", endpoint_url=authed.endpoint, region_name=REGION, config=CLIENT_CONFIG,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"])
    assert f"/{ALICE}/" in temp.create_queue(QueueName=unique_name("temp"))["QueueUrl"]
    without_token = _client(authed.endpoint, "sqs", creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        without_token.list_queues()
    assert _code(exc) == "InvalidClientTokenId"
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        as_user.get_caller_identity()
    assert _code(exc) == "InvalidClientTokenId"
