"""Queue lifecycle: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, queue attributes, tags,
permissions. Every test runs over both wire protocols (the ``sqs`` fixture)."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError
from server import ACCOUNT, error_code, query_code, queue_arn, unique_name

DEFAULTS = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "ApproximateNumberOfMessages": "0",
    "ApproximateNumberOfMessagesNotVisible": "0",
    "ApproximateNumberOfMessagesDelayed": "0",
    "SqsManagedSseEnabled": "true",
}


def attrs(sqs, url, *names):
    resp = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])
    return resp.get("Attributes", {})


# --------------------------------------------------------------------------- CreateQueue


def test_create_queue_returns_url(sqs, endpoint, make_queue):
    """The queue URL is http://<host>:<port>/<account>/<name>."""
    name = unique_name()
    url = make_queue(name=name)
    assert url == f"{endpoint}/{ACCOUNT}/{name}"


def test_create_queue_is_idempotent_with_same_attributes(sqs, make_queue):
    name = unique_name()
    url = make_queue(name=name, attributes={"VisibilityTimeout": "17"})
    again = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "17"})
    assert again["QueueUrl"] == url
    plain = unique_name()
    url2 = make_queue(name=plain)
    assert sqs.create_queue(QueueName=plain)["QueueUrl"] == url2


def test_create_queue_with_different_attributes_fails(sqs, make_queue):
    """AWS: QueueNameExists (query code QueueAlreadyExists) when attribute values differ."""
    name = unique_name()
    make_queue(name=name, attributes={"VisibilityTimeout": "17"})
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "18"})
    assert error_code(exc.value) == query_code("QueueNameExists")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    "name",
    ["has space", "bad!chars", "x" * 81, "dots.not.allowed", "unicodé"],
)
def test_create_queue_rejects_invalid_names(sqs, name):
    """Names are 1..80 of alphanumerics, '-' and '_' (plus '.fifo' for FIFO)."""
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name)
    assert error_code(exc.value) == "InvalidParameterValue"


def test_queue_names_are_case_sensitive(sqs, make_queue):
    name = unique_name("Case")
    upper = make_queue(name=name)
    lower = make_queue(name=name.lower())
    assert upper != lower
    sqs.send_message(QueueUrl=upper, MessageBody="upper")
    assert attrs(sqs, lower, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "0"}


def test_create_queue_accepts_80_char_name(sqs, make_queue):
    name = ("a-_" + unique_name("") * 4)[:80]
    assert len(name) == 80
    url = make_queue(name=name)
    assert url.endswith("/" + name)


@pytest.mark.parametrize(
    "attribute,value",
    [
        ("VisibilityTimeout", "43201"),
        ("VisibilityTimeout", "-1"),
        ("VisibilityTimeout", "abc"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("DelaySeconds", "901"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
    ],
)
def test_create_queue_rejects_out_of_range_attributes(sqs, attribute, value):
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique_name(), Attributes={attribute: value})
    assert error_code(exc.value) == "InvalidAttributeValue"


def test_create_queue_rejects_unknown_attribute(sqs):
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique_name(), Attributes={"NoSuchAttribute": "1"})
    assert error_code(exc.value) == "InvalidAttributeName"


def test_recreate_recently_deleted_queue_fails(sqs):
    """AWS: a deleted queue's name can be reused only after 60 s (QueueDeletedRecently)."""
    name = unique_name()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name)
    assert error_code(exc.value) == query_code("QueueDeletedRecently")


# --------------------------------------------------------------------------- GetQueueUrl


def test_get_queue_url(sqs, make_queue):
    name = unique_name()
    url = make_queue(name=name)
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    owned = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)
    assert owned["QueueUrl"] == url


def test_get_queue_url_missing_queue(sqs, protocol):
    """AWS JSON says "The specified queue does not exist."; the query protocol historically
    adds " for this wsdl version." """
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_url(QueueName=unique_name("missing"))
    assert error_code(exc.value) == query_code("QueueDoesNotExist")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = exc.value.response["Error"]["Message"]
    if protocol == "json":
        assert message == "The specified queue does not exist."
    else:
        assert message.startswith("The specified queue does not exist")


# --------------------------------------------------------------------------- ListQueues


def test_list_queues_prefix(sqs, make_queue):
    prefix = unique_name("lp")
    urls = {make_queue(name=f"{prefix}-{i}") for i in range(3)}
    other = make_queue()
    listed = set(sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []))
    assert listed == urls
    assert other not in listed
    everything = set(sqs.list_queues().get("QueueUrls", []))
    assert urls | {other} <= everything


def test_list_queues_no_match(sqs):
    resp = sqs.list_queues(QueueNamePrefix=unique_name("nomatch"))
    assert resp.get("QueueUrls", []) == []
    assert "NextToken" not in resp


def test_list_queues_paging(sqs, make_queue):
    """25 queues, MaxResults 10: pages of 10, 10, 5, each but the last with a NextToken."""
    prefix = unique_name("pg")
    urls = {make_queue(name=f"{prefix}-{i:02d}") for i in range(25)}
    seen: list[str] = []
    sizes = []
    kwargs = {"QueueNamePrefix": prefix, "MaxResults": 10}
    for _ in range(10):
        resp = sqs.list_queues(**kwargs)
        page = resp.get("QueueUrls", [])
        sizes.append(len(page))
        seen += page
        if not resp.get("NextToken"):
            break
        kwargs["NextToken"] = resp["NextToken"]
    assert sorted(seen) == sorted(urls), "every queue exactly once"
    assert sizes[:2] == [10, 10]
    assert sum(sizes) == 25 and len([s for s in sizes if s]) == 3


def test_list_queues_without_max_results_has_no_next_token(sqs, make_queue):
    prefix = unique_name("nt")
    for i in range(3):
        make_queue(name=f"{prefix}-{i}")
    resp = sqs.list_queues(QueueNamePrefix=prefix)
    assert len(resp["QueueUrls"]) == 3
    assert "NextToken" not in resp


def test_list_queues_max_results_bounds(sqs, make_queue):
    prefix = unique_name("mr")
    make_queue(name=f"{prefix}-a")
    make_queue(name=f"{prefix}-b")
    resp = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=1)
    assert len(resp["QueueUrls"]) == 1 and resp.get("NextToken")
    resp = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=1000)
    assert len(resp["QueueUrls"]) == 2
    for bad in (0, 1001):
        with pytest.raises(ClientError) as exc:
            sqs.list_queues(QueueNamePrefix=prefix, MaxResults=bad)
        assert error_code(exc.value) == "InvalidParameterValue"


# --------------------------------------------------------------------------- DeleteQueue


def test_delete_queue(sqs):
    name = unique_name()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="bye")
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_url(QueueName=name)
    assert error_code(exc.value) == query_code("QueueDoesNotExist")
    assert url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])


@pytest.mark.parametrize(
    "call",
    [
        lambda s, u: s.send_message(QueueUrl=u, MessageBody="x"),
        lambda s, u: s.receive_message(QueueUrl=u),
        lambda s, u: s.get_queue_attributes(QueueUrl=u, AttributeNames=["All"]),
        lambda s, u: s.set_queue_attributes(QueueUrl=u, Attributes={"DelaySeconds": "1"}),
        lambda s, u: s.purge_queue(QueueUrl=u),
        lambda s, u: s.delete_queue(QueueUrl=u),
        lambda s, u: s.list_queue_tags(QueueUrl=u),
        lambda s, u: s.send_message_batch(QueueUrl=u, Entries=[{"Id": "a", "MessageBody": "x"}]),
    ],
    ids=["send", "receive", "get-attrs", "set-attrs", "purge", "delete", "tags", "send-batch"],
)
def test_operations_on_deleted_queue(sqs, call):
    """Any operation on a deleted queue fails with QueueDoesNotExist."""
    url = sqs.create_queue(QueueName=unique_name("gone"))["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as exc:
        call(sqs, url)
    assert error_code(exc.value) == query_code("QueueDoesNotExist")


def test_unknown_queue_url(sqs, endpoint):
    url = f"{endpoint}/{ACCOUNT}/{unique_name('never')}"
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert error_code(exc.value) == query_code("QueueDoesNotExist")


# --------------------------------------------------------------------------- attributes


def test_default_attributes(sqs, make_queue):
    name = unique_name()
    before = int(time.time())
    url = make_queue(name=name)
    after = int(time.time())
    got = attrs(sqs, url)
    for key, value in DEFAULTS.items():
        assert got.get(key) == value, (key, got.get(key))
    assert got["QueueArn"] == queue_arn(name)
    created = int(got["CreatedTimestamp"])
    assert before - 2 <= created <= after + 2, "CreatedTimestamp is epoch seconds"
    assert before - 2 <= int(got["LastModifiedTimestamp"]) <= after + 2
    for absent in ("RedrivePolicy", "Policy", "FifoQueue", "KmsMasterKeyId"):
        assert absent not in got


def test_get_individual_attributes(sqs, make_queue):
    url = make_queue()
    got = attrs(sqs, url, "VisibilityTimeout", "QueueArn")
    assert set(got) == {"VisibilityTimeout", "QueueArn"}
    assert got["VisibilityTimeout"] == "30"


def test_get_attributes_without_names_returns_none(sqs, make_queue):
    url = make_queue()
    resp = sqs.get_queue_attributes(QueueUrl=url)
    assert resp.get("Attributes", {}) == {}


def test_get_unknown_attribute_name(sqs, make_queue):
    url = make_queue()
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    assert error_code(exc.value) == "InvalidAttributeName"


def test_create_with_attributes(sqs, make_queue):
    url = make_queue(attributes={
        "VisibilityTimeout": "5",
        "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "120",
        "DelaySeconds": "3",
        "ReceiveMessageWaitTimeSeconds": "4",
    })
    got = attrs(sqs, url)
    assert got["VisibilityTimeout"] == "5"
    assert got["MaximumMessageSize"] == "2048"
    assert got["MessageRetentionPeriod"] == "120"
    assert got["DelaySeconds"] == "3"
    assert got["ReceiveMessageWaitTimeSeconds"] == "4"


def test_set_queue_attributes(sqs, make_queue):
    url = make_queue()
    created = int(attrs(sqs, url, "CreatedTimestamp")["CreatedTimestamp"])
    time.sleep(1.1)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "VisibilityTimeout": "0", "DelaySeconds": "900", "MessageRetentionPeriod": "60",
        "MaximumMessageSize": "1024", "ReceiveMessageWaitTimeSeconds": "20",
    })
    got = attrs(sqs, url)
    assert got["VisibilityTimeout"] == "0"
    assert got["DelaySeconds"] == "900"
    assert got["MessageRetentionPeriod"] == "60"
    assert got["MaximumMessageSize"] == "1024"
    assert got["ReceiveMessageWaitTimeSeconds"] == "20"
    assert int(got["CreatedTimestamp"]) == created
    assert int(got["LastModifiedTimestamp"]) > created


@pytest.mark.parametrize(
    "attribute,value",
    [
        ("VisibilityTimeout", "43201"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("DelaySeconds", "901"),
        ("DelaySeconds", "-1"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("ReceiveMessageWaitTimeSeconds", "1.5"),
    ],
)
def test_set_queue_attributes_out_of_range(sqs, make_queue, attribute, value):
    url = make_queue()
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={attribute: value})
    assert error_code(exc.value) == "InvalidAttributeValue"
    assert attrs(sqs, url, attribute)[attribute] == DEFAULTS[attribute], "value unchanged"


@pytest.mark.parametrize("name", ["NoSuchAttribute", "visibilitytimeout"])
def test_set_unknown_attribute_name(sqs, make_queue, name):
    url = make_queue()
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: "1"})
    assert error_code(exc.value) == "InvalidAttributeName"


def test_approximate_counters(sqs, make_queue):
    url = make_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="late", DelaySeconds=60)
    got = attrs(sqs, url)
    assert got["ApproximateNumberOfMessages"] == "3"
    assert got["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert got["ApproximateNumberOfMessagesDelayed"] == "1"
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    assert len(msgs["Messages"]) == 2
    got = attrs(sqs, url)
    assert got["ApproximateNumberOfMessages"] == "1"
    assert got["ApproximateNumberOfMessagesNotVisible"] == "2"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs["Messages"][0]["ReceiptHandle"])
    got = attrs(sqs, url)
    assert got["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_region_in_arn(client_factory):
    """The region comes from the SigV4 credential scope."""
    client = client_factory("json", region="eu-west-1")
    name = unique_name()
    url = client.create_queue(QueueName=name)["QueueUrl"]
    try:
        arn = attrs(client, url, "QueueArn")["QueueArn"]
        assert arn == queue_arn(name, region="eu-west-1")
    finally:
        client.delete_queue(QueueUrl=url)


# --------------------------------------------------------------------------- hosts, accounts


def test_queue_url_works_with_localhost_and_loopback(sqs, endpoint, client_factory, protocol):
    port = urllib.parse.urlsplit(endpoint).port
    local = client_factory(protocol, endpoint_url=f"http://localhost:{port}")
    loop = client_factory(protocol, endpoint_url=f"http://127.0.0.1:{port}")
    name = unique_name()
    url = local.create_queue(QueueName=name)["QueueUrl"]
    try:
        assert urllib.parse.urlsplit(url).path == f"/{ACCOUNT}/{name}"
        assert loop.get_queue_url(QueueName=name)["QueueUrl"].endswith(f"/{ACCOUNT}/{name}")
        loop_url = f"http://127.0.0.1:{port}/{ACCOUNT}/{name}"
        local_url = f"http://localhost:{port}/{ACCOUNT}/{name}"
        local.send_message(QueueUrl=loop_url, MessageBody="one")
        loop.send_message(QueueUrl=local_url, MessageBody="two")
        bodies = set()
        for _ in range(5):
            for m in loop.receive_message(QueueUrl=local_url, MaxNumberOfMessages=10).get(
                    "Messages", []):
                bodies.add(m["Body"])
            if len(bodies) == 2:
                break
        assert bodies == {"one", "two"}
    finally:
        local.delete_queue(QueueUrl=url)


def test_accounts_are_separate(client_factory, protocol):
    """A 12-digit access key id selects the account; queues are per account."""
    alice = client_factory(protocol, access_key="111111111111")
    bob = client_factory(protocol, access_key="222222222222")
    default = client_factory(protocol)
    name = unique_name()
    url = alice.create_queue(QueueName=name)["QueueUrl"]
    try:
        assert urllib.parse.urlsplit(url).path == f"/111111111111/{name}"
        arn = attrs(alice, url, "QueueArn")["QueueArn"]
        assert arn == queue_arn(name, account="111111111111")
        for other in (bob, default):
            with pytest.raises(ClientError) as exc:
                other.get_queue_url(QueueName=name)
            assert error_code(exc.value) == query_code("QueueDoesNotExist")
            assert url not in other.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
        bob_url = bob.create_queue(QueueName=name)["QueueUrl"]
        try:
            assert bob_url != url
            bob.send_message(QueueUrl=bob_url, MessageBody="for bob")
            assert attrs(alice, url, "ApproximateNumberOfMessages") == {
                "ApproximateNumberOfMessages": "0"}
        finally:
            bob.delete_queue(QueueUrl=bob_url)
    finally:
        alice.delete_queue(QueueUrl=url)


# --------------------------------------------------------------------------- tags


def test_tags(sqs, make_queue):
    url = make_queue(tags={"team": "core", "env": "test"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "test"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "owner": "me"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {
        "team": "core", "env": "prod", "owner": "me"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "absent"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "owner": "me"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "owner"])
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


# --------------------------------------------------------------------------- permissions


def test_add_and_remove_permission(sqs, make_queue):
    name = unique_name()
    url = make_queue(name=name)
    sqs.add_permission(QueueUrl=url, Label="let-them-send",
                       AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = json.loads(attrs(sqs, url, "Policy")["Policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    st = statements["let-them-send"]
    assert st["Effect"] == "Allow"
    assert st["Resource"] == queue_arn(name)
    actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
    assert actions == ["SQS:SendMessage"]
    principal = st["Principal"]["AWS"]
    principal = principal if isinstance(principal, list) else [principal]
    assert principal == ["arn:aws:iam::111122223333:root"]

    sqs.add_permission(QueueUrl=url, Label="second", AWSAccountIds=["444455556666"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(attrs(sqs, url, "Policy")["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"let-them-send", "second"}

    sqs.remove_permission(QueueUrl=url, Label="let-them-send")
    policy = json.loads(attrs(sqs, url, "Policy")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["second"]
    sqs.remove_permission(QueueUrl=url, Label="second")
    remaining = attrs(sqs, url, "Policy").get("Policy")
    assert not remaining or not json.loads(remaining).get("Statement")


def test_set_policy_attribute(sqs, make_queue):
    name = unique_name()
    url = make_queue(name=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "s1", "Effect": "Allow", "Principal": "*",
                       "Action": "sqs:SendMessage", "Resource": queue_arn(name)}],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    assert json.loads(attrs(sqs, url, "Policy")["Policy"]) == policy
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in attrs(sqs, url)


# --------------------------------------------------------------------------- purge


def test_purge_queue(sqs, make_queue):
    url = make_queue()
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)
    sqs.purge_queue(QueueUrl=url)
    got = attrs(sqs, url)
    assert got["ApproximateNumberOfMessages"] == "0"
    assert got["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    with pytest.raises(ClientError) as exc:
        sqs.purge_queue(QueueUrl=url)
    assert error_code(exc.value) == query_code("PurgeQueueInProgress")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
