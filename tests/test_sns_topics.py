"""SNS topics: create (idempotent, attributes, names), delete, list with paging, attributes,
tags and permissions."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

pytest.register_assert_rewrite("sns_helpers")

from sns_helpers import ACCOUNT, REGION, expect_error, sns_client, topic_name  # noqa: E402

pytest_plugins = ["sns_helpers"]
pytestmark = pytest.mark.timeout(120)



# --------------------------------------------------------------------------- create


def test_create_topic_returns_arn_and_is_idempotent(sns, make_topic):
    name = topic_name()
    arn = make_topic(name=name)
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    # Same attributes again: still the same topic.
    named = make_topic(name=topic_name(), attributes={"DisplayName": "shown"})
    assert sns.create_topic(Name=named.rsplit(":", 1)[1],
                            Attributes={"DisplayName": "shown"})["TopicArn"] == named
    arns = []
    token = None
    while True:
        page = sns.list_topics(**({"NextToken": token} if token else {}))
        arns += [t["TopicArn"] for t in page["Topics"]]
        token = page.get("NextToken")
        if not token:
            break
    assert arns.count(arn) == 1 and arns.count(named) == 1


def test_create_topic_again_with_different_attributes_is_rejected(sns, make_topic):
    arn = make_topic(attributes={"DisplayName": "one"})
    err = expect_error("InvalidParameter", sns.create_topic, Name=arn.rsplit(":", 1)[1],
                       Attributes={"DisplayName": "two"})
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "one"


def test_create_topic_again_with_different_tags_is_rejected(sns, make_topic):
    # AWS: "Invalid parameter: Tags Reason: Topic already exists with different tags".
    arn = make_topic(tags=[{"Key": "team", "Value": "a"}])
    expect_error("InvalidParameter", sns.create_topic, Name=arn.rsplit(":", 1)[1],
                 Tags=[{"Key": "team", "Value": "b"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]


def test_create_topic_stores_settable_attributes(sns, make_topic):
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "pub", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": "SNS:Publish", "Resource": "*"}],
    }
    delivery = {"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": 5, "maxDelayTarget": 30, "numRetries": 5, "numNoDelayRetries": 1,
        "numMinDelayRetries": 1, "numMaxDelayRetries": 1, "backoffFunction": "exponential"}}}
    given = {
        "DisplayName": "Orders",
        "Policy": json.dumps(policy),
        "DeliveryPolicy": json.dumps(delivery),
        "SignatureVersion": "2",
        "KmsMasterKeyId": "alias/aws/sns",
        "TracingConfig": "Active",
    }
    arn = make_topic(attributes=given)
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Orders"
    assert json.loads(attrs["Policy"]) == policy
    assert json.loads(attrs["DeliveryPolicy"]) == delivery
    assert attrs["SignatureVersion"] == "2"
    assert attrs["KmsMasterKeyId"] == "alias/aws/sns"
    assert attrs["TracingConfig"] == "Active"
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5
    assert effective["http"]["defaultHealthyRetryPolicy"]["backoffFunction"] == "exponential"


def test_create_fifo_topic(sns, make_topic):
    arn = make_topic(fifo=True, attributes={"ContentBasedDeduplication": "true"})
    assert arn.endswith(".fifo")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    plain = make_topic(fifo=True)
    attrs = sns.get_topic_attributes(TopicArn=plain)["Attributes"]
    assert attrs["FifoTopic"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    sns.set_topic_attributes(TopicArn=plain, AttributeName="ContentBasedDeduplication",
                             AttributeValue="true")
    attrs = sns.get_topic_attributes(TopicArn=plain)["Attributes"]
    assert attrs["ContentBasedDeduplication"] == "true"


def test_standard_topic_has_no_fifo_attributes(sns, make_topic):
    arn = make_topic(attributes={"FifoTopic": "false"})
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs.get("FifoTopic", "false") == "false"


@pytest.mark.parametrize("name", [
    "",
    "has space",
    "has.dot",
    "slash/name",
    "x" * 257,
    "ünïcode",
])
def test_invalid_topic_names_are_rejected(sns_unvalidated, name):
    expect_error("InvalidParameter", sns_unvalidated.create_topic, Name=name)


def test_longest_topic_name_is_accepted(sns, make_topic):
    name = uuid.uuid4().hex + "n" * 224  # 256 characters
    assert len(name) == 256
    assert make_topic(name=name).endswith(":" + name)


@pytest.mark.parametrize("name,attributes", [
    ("no-suffix-{}", {"FifoTopic": "true"}),            # FIFO topics need .fifo
    ("suffix-{}.fifo", {}),                             # .fifo needs FifoTopic=true
    ("suffix-{}.fifo", {"FifoTopic": "false"}),
    ("bad name-{}.fifo", {"FifoTopic": "true"}),        # the rest follows the usual rules
    ("x" * 252 + "{}.fifo", {"FifoTopic": "true"}),     # 256 including .fifo is the limit
])
def test_fifo_name_rules(sns, name, attributes):
    expect_error("InvalidParameter", sns.create_topic, Name=name.format("abc"),
                 Attributes=attributes)


@pytest.mark.parametrize("attributes", [
    {"SignatureVersion": "3"},
    {"DeliveryPolicy": "not json"},
    {"DeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": 30, "maxDelayTarget": 10, "numRetries": 3}}})},
    {"DeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 3,
        "backoffFunction": "sideways"}}})},
    {"Policy": "{not json"},
    {"FifoTopic": "maybe"},
    {"ContentBasedDeduplication": "true"},   # only for FIFO topics
    {"NoSuchAttribute": "x"},
    {"TracingConfig": "Sometimes"},          # PassThrough | Active
])
def test_invalid_topic_attributes_are_rejected(sns, attributes):
    expect_error("InvalidParameter", sns.create_topic, Name=topic_name(), Attributes=attributes)


# --------------------------------------------------------------------------- delete, list


def test_delete_topic_and_delete_again(sns, make_topic):
    arn = make_topic()
    sns.delete_topic(TopicArn=arn)
    expect_error("NotFound", sns.get_topic_attributes, TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting a topic that is not there succeeds
    assert arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]


def test_missing_topic_is_not_found(sns):
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic_name('missing')}"
    expect_error("NotFound", sns.get_topic_attributes, TopicArn=missing)
    expect_error("NotFound", sns.set_topic_attributes, TopicArn=missing,
                 AttributeName="DisplayName", AttributeValue="x")
    expect_error("NotFound", sns.publish, TopicArn=missing, Message="hello")
    expect_error("NotFound", sns.subscribe, TopicArn=missing, Protocol="email",
                 Endpoint="someone@example.com")
    expect_error("NotFound", sns.list_subscriptions_by_topic, TopicArn=missing)
    expect_error("NotFound", sns.add_permission, TopicArn=missing, Label="l",
                 AWSAccountId=["111122223333"], ActionName=["Publish"])


def test_invalid_topic_arn_is_invalid_parameter(sns):
    expect_error("InvalidParameter", sns.get_topic_attributes, TopicArn="not-an-arn")
    expect_error("InvalidParameter", sns.publish, TopicArn="arn:aws:sqs:us-east-1:1:x",
                 Message="hello")


def test_list_topics_pages_past_100(endpoint, sns):
    prefix = topic_name("page")
    names = [f"{prefix}-{i:03d}" for i in range(105)]
    arns: list[str] = []
    lock = threading.Lock()

    def create(chunk):
        client = sns_client(endpoint)
        for n in chunk:
            arn = client.create_topic(Name=n)["TopicArn"]
            with lock:
                arns.append(arn)

    threads = [threading.Thread(target=create, args=(names[i::5],)) for i in range(5)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(arns) == 105
        first = sns.list_topics()
        assert 1 <= len(first["Topics"]) <= 100  # AWS: "up to 100" per call
        assert first.get("NextToken")
        seen = [t["TopicArn"] for t in first["Topics"]]
        token = first["NextToken"]
        pages = 1
        while token:
            page = sns.list_topics(NextToken=token)
            assert len(page["Topics"]) <= 100
            seen += [t["TopicArn"] for t in page["Topics"]]
            token = page.get("NextToken")
            pages += 1
            assert pages < 1000
        assert pages >= 2
        assert len(seen) == len(set(seen)), "a topic was listed twice"
        assert set(arns) <= set(seen)
        # The paginator agrees.
        via_paginator = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate()
                         for t in page["Topics"]]
        assert set(arns) <= set(via_paginator)
    finally:
        def delete(chunk):
            client = sns_client(endpoint)
            for arn in chunk:
                client.delete_topic(TopicArn=arn)

        cleaners = [threading.Thread(target=delete, args=(arns[i::5],)) for i in range(5)]
        for t in cleaners:
            t.start()
        for t in cleaners:
            t.join(timeout=60)


# --------------------------------------------------------------------------- attributes


def test_get_topic_attributes_computed_values(sns, make_topic, make_sqs_queue, subscribe_queue,
                                              http_endpoint):
    arn = make_topic()
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn
    assert attrs["Owner"] == ACCOUNT
    assert attrs["SubscriptionsConfirmed"] == "0"
    assert attrs["SubscriptionsPending"] == "0"
    assert attrs["SubscriptionsDeleted"] == "0"
    policy = json.loads(attrs["Policy"])
    assert policy["Statement"], policy
    assert any(s.get("Resource") == arn for s in policy["Statement"])
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    retry = effective["http"]["defaultHealthyRetryPolicy"]
    assert retry["numRetries"] == 3
    assert retry["minDelayTarget"] == 20 and retry["maxDelayTarget"] == 20
    assert retry["backoffFunction"] == "linear"
    assert effective["http"]["disableSubscriptionOverrides"] is False

    subscribe_queue(arn, make_sqs_queue())
    subscribe_queue(arn, make_sqs_queue())
    ep = http_endpoint()
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=ep.url)
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="pending@example.com")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["SubscriptionsConfirmed"] == "2"
    assert attrs["SubscriptionsPending"] == "2"


def test_set_topic_attributes(sns, make_topic):
    arn = make_topic()
    delivery = {"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": 2, "maxDelayTarget": 4, "numRetries": 4, "numNoDelayRetries": 0,
        "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "linear"}}}
    for name, value in [
        ("DisplayName", "Shown name"),
        ("DeliveryPolicy", json.dumps(delivery)),
        ("SignatureVersion", "2"),
        ("TracingConfig", "PassThrough"),
        ("KmsMasterKeyId", "alias/aws/sns"),
        ("Policy", json.dumps({"Version": "2012-10-17", "Statement": []})),
    ]:
        sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Shown name"
    assert json.loads(attrs["DeliveryPolicy"]) == delivery
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"][
        "numRetries"] == 4
    assert attrs["SignatureVersion"] == "2"
    assert attrs["TracingConfig"] == "PassThrough"
    assert attrs["KmsMasterKeyId"] == "alias/aws/sns"
    assert json.loads(attrs["Policy"]) == {"Version": "2012-10-17", "Statement": []}


@pytest.mark.parametrize("name,value", [
    ("SignatureVersion", "0"),
    ("DeliveryPolicy", "[]"),
    ("DeliveryPolicy", json.dumps({"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": 1, "maxDelayTarget": 5000, "numRetries": 3}}})),  # > 3,600 s
    ("DeliveryPolicy", json.dumps({"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 101}}})),   # 0 .. 100
    ("ContentBasedDeduplication", "true"),  # standard topic
    ("FifoTopic", "true"),                  # set at creation only
    ("TopicArn", "arn:aws:sns:us-east-1:000000000000:other"),  # read-only
    ("Owner", "111122223333"),
    ("Bogus", "1"),
    ("TracingConfig", "Sometimes"),
])
def test_invalid_set_topic_attributes(sns, make_topic, name, value):
    arn = make_topic()
    expect_error("InvalidParameter", sns.set_topic_attributes, TopicArn=arn,
                 AttributeName=name, AttributeValue=value)


# --------------------------------------------------------------------------- tags


def test_tags(sns, make_topic):
    arn = make_topic(tags=[{"Key": "team", "Value": "orders"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "orders"}]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"},
                                            {"Key": "team", "Value": "billing"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "billing", "env": "test"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["team", "not-there"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]


def test_tag_limit_and_missing_resource(sns, make_topic):
    arn = make_topic()
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    expect_error("TagLimitExceeded", sns.tag_resource, ResourceArn=arn,
                 Tags=[{"Key": "one-more", "Value": "v"}])
    assert len(sns.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 50
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic_name('missing')}"
    expect_error("ResourceNotFound", sns.list_tags_for_resource, ResourceArn=missing)
    expect_error("ResourceNotFound", sns.tag_resource, ResourceArn=missing,
                 Tags=[{"Key": "a", "Value": "b"}])
    expect_error("ResourceNotFound", sns.untag_resource, ResourceArn=missing, TagKeys=["a"])


# --------------------------------------------------------------------------- permissions


def _statement(policy: dict, sid: str) -> dict | None:
    return next((s for s in policy["Statement"] if s.get("Sid") == sid), None)


def test_add_and_remove_permission(sns, make_topic):
    arn = make_topic()
    sns.add_permission(TopicArn=arn, Label="let-partner-publish",
                       AWSAccountId=["111122223333", "444455556666"],
                       ActionName=["Publish", "Subscribe"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    statement = _statement(policy, "let-partner-publish")
    assert statement is not None, policy
    assert statement["Effect"] == "Allow"
    actions = statement["Action"] if isinstance(statement["Action"], list) else [
        statement["Action"]]
    assert sorted(actions) == ["SNS:Publish", "SNS:Subscribe"]
    principals = statement["Principal"]["AWS"]
    principals = principals if isinstance(principals, list) else [principals]
    assert {p.split(":")[4] if p.startswith("arn:") else p for p in principals} == {
        "111122223333", "444455556666"}
    assert statement["Resource"] == arn
    # The default statement is still there.
    assert len(policy["Statement"]) >= 2

    expect_error("InvalidParameter", sns.add_permission, TopicArn=arn,
                 Label="let-partner-publish", AWSAccountId=["111122223333"],
                 ActionName=["Publish"])

    sns.remove_permission(TopicArn=arn, Label="let-partner-publish")
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert _statement(policy, "let-partner-publish") is None
    assert policy["Statement"]
