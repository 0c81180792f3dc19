"""In-process: resource-policy evaluation (queue and topic policies) as AWS documents it."""

from __future__ import annotations

import json

import pytest

from postroom.policy.evaluate import Caller, Decision, evaluate

QUEUE = "arn:aws:sqs:us-east-1:111111111111:orders"
TOPIC = "arn:aws:sns:us-east-1:111111111111:events"
BOB = Caller(account="222222222222")
SNS = Caller(service="sns.amazonaws.com", context={
    "aws:sourcearn": TOPIC, "aws:sourceaccount": "111111111111"})


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**kw) -> dict:
    return {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": QUEUE, **kw}


@pytest.mark.parametrize("text", [None, "", "not json", "[]", policy()])
def test_no_usable_policy_grants_nothing(text):
    assert evaluate(text, BOB, "sqs:SendMessage", QUEUE) is Decision.NO_MATCH


@pytest.mark.parametrize("principal,expected", [
    ("*", Decision.ALLOW),
    ({"AWS": "*"}, Decision.ALLOW),
    ({"AWS": "222222222222"}, Decision.ALLOW),
    ({"AWS": "arn:aws:iam::222222222222:root"}, Decision.ALLOW),
    ({"AWS": ["333333333333", "arn:aws:iam::222222222222:user/bob"]}, Decision.ALLOW),
    ({"AWS": "333333333333"}, Decision.NO_MATCH),
    ({"Service": "sns.amazonaws.com"}, Decision.NO_MATCH),
])
def test_principals(principal, expected):
    assert evaluate(policy(allow(Principal=principal)), BOB, "sqs:SendMessage", QUEUE) is expected


@pytest.mark.parametrize("action,expected", [
    ("sqs:SendMessage", Decision.ALLOW),
    ("SQS:sendmessage", Decision.ALLOW),  # action names are case-insensitive
    ("sqs:Send*", Decision.ALLOW),
    ("sqs:*", Decision.ALLOW),
    ("*", Decision.ALLOW),
    (["sqs:ReceiveMessage", "sqs:SendMessag?"], Decision.ALLOW),
    ("sqs:ReceiveMessage", Decision.NO_MATCH),
])
def test_actions(action, expected):
    assert evaluate(policy(allow(Action=action)), BOB, "sqs:SendMessage", QUEUE) is expected


def test_not_action_and_not_resource():
    st = allow(NotAction="sqs:DeleteQueue")
    del st["Action"]
    assert evaluate(policy(st), BOB, "sqs:SendMessage", QUEUE) is Decision.ALLOW
    assert evaluate(policy(st), BOB, "sqs:DeleteQueue", QUEUE) is Decision.NO_MATCH
    st = allow(NotResource="arn:aws:sqs:*:*:other")
    del st["Resource"]
    assert evaluate(policy(st), BOB, "sqs:SendMessage", QUEUE) is Decision.ALLOW


@pytest.mark.parametrize("resource,expected", [
    (QUEUE, Decision.ALLOW), ("arn:aws:sqs:*:111111111111:*", Decision.ALLOW),
    ("arn:aws:sqs:us-east-1:111111111111:Orders", Decision.NO_MATCH),  # ARNs are case-sensitive
    ("arn:aws:sqs:us-east-1:111111111111:other", Decision.NO_MATCH),
])
def test_resources(resource, expected):
    assert evaluate(policy(allow(Resource=resource)), BOB, "sqs:SendMessage", QUEUE) is expected


def test_explicit_deny_wins_over_allow():
    text = policy(allow(), {"Effect": "Deny", "Principal": {"AWS": "222222222222"}, "Action": "sqs:*",
                           "Resource": "*"})
    assert evaluate(text, BOB, "sqs:SendMessage", QUEUE) is Decision.DENY
    assert evaluate(text, Caller(account="333333333333"), "sqs:SendMessage", QUEUE) is Decision.ALLOW


@pytest.mark.parametrize("condition,expected", [
    ({"ArnEquals": {"aws:SourceArn": TOPIC}}, Decision.ALLOW),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111111111111:*"}}, Decision.ALLOW),
    ({"ArnEquals": {"aws:SourceArn": TOPIC + "-other"}}, Decision.NO_MATCH),
    ({"StringEquals": {"aws:SourceAccount": "111111111111"}}, Decision.ALLOW),
    ({"StringEquals": {"aws:SourceAccount": ["333333333333", "111111111111"]}}, Decision.ALLOW),
    ({"StringNotEquals": {"aws:SourceAccount": "111111111111"}}, Decision.NO_MATCH),
    ({"StringEquals": {"AWS:SOURCEACCOUNT": "111111111111"}}, Decision.ALLOW),  # keys ignore case
    ({"ArnEquals": {"aws:SourceArn": TOPIC}, "StringEquals": {"aws:SourceAccount": "1"}}, Decision.NO_MATCH),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, Decision.NO_MATCH),  # key absent
    ({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}, Decision.ALLOW),
    ({"NumericLessThan": {"aws:EpochTime": "1"}}, Decision.NO_MATCH),  # unknown operators never match
])
def test_conditions_on_the_source(condition, expected):
    st = allow(Principal={"Service": "sns.amazonaws.com"}, Condition=condition)
    assert evaluate(policy(st), SNS, "sqs:SendMessage", QUEUE) is expected


def test_not_principal_is_never_matched():
    st = allow(NotPrincipal={"AWS": "333333333333"})
    del st["Principal"]
    assert evaluate(policy(st), BOB, "sqs:SendMessage", QUEUE) is Decision.NO_MATCH


def test_a_single_statement_object_is_accepted():
    text = json.dumps({"Statement": allow(Principal={"AWS": "222222222222"})})
    assert evaluate(text, BOB, "sqs:SendMessage", QUEUE) is Decision.ALLOW
