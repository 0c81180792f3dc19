"""STS against a real server: caller identity, AssumeRole and its credentials,
AssumeRoleWithWebIdentity, GetSessionToken, GetAccessKeyInfo."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from iam_helpers import TRUST, client, expect_error, new_account


@pytest.fixture
def account() -> str:
    return new_account()


@pytest.fixture
def iam(endpoint, account):
    return client("iam", endpoint, access_key=account)


@pytest.fixture
def sts(endpoint, account):
    return client("sts", endpoint, access_key=account, validate=False)


def _expires_in(creds: dict, seconds: int) -> None:
    expected = datetime.now(UTC) + timedelta(seconds=seconds)
    assert abs(creds["Expiration"] - expected) < timedelta(seconds=60), creds["Expiration"]


def test_caller_identity_of_the_default_key(endpoint):
    identity = client("sts", endpoint).get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (
        "000000000000", "arn:aws:iam::000000000000:root", "000000000000")


def test_assume_role_and_use_its_credentials(endpoint, iam, sts, account):
    role = iam.create_role(RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=TRUST)["Role"]
    answer = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build-42", DurationSeconds=900)
    creds, user = answer["Credentials"], answer["AssumedRoleUser"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds["AccessKeyId"])
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    _expires_in(creds, 900)
    assert user == {"AssumedRoleId": f"{role['RoleId']}:build-42",
                    "Arn": f"arn:aws:sts::{account}:assumed-role/deployer/build-42"}
    assert "PackedPolicySize" not in answer

    # The credentials work against Postroom, in the role's account, as the assumed role.
    session = client("sts", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    identity = session.get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (account, user["Arn"], user["AssumedRoleId"])
    sqs = client("sqs", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    url = sqs.create_queue(QueueName="made-by-role")["QueueUrl"]
    assert f"/{account}/made-by-role" in url
    assert client("sts", endpoint).get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == account
    # Any AWS key id is decoded as AWS does, not only the ones issued here.
    assert sts.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"
    err = expect_error("AccessDenied", 403, session.get_session_token)
    assert err["Message"] == "Cannot call GetSessionToken with session credentials"
    # Role chaining: a role assumed with role credentials lasts an hour at most.
    long_role = iam.create_role(RoleName="long-chain", AssumeRolePolicyDocument=TRUST,
                                MaxSessionDuration=7200)["Role"]["Arn"]
    err = expect_error("ValidationError", 400, session.assume_role, RoleArn=long_role,
                       RoleSessionName="chained", DurationSeconds=7200)
    assert "1 hour session limit for roles assumed by role chaining" in err["Message"]
    chained = session.assume_role(RoleArn=long_role, RoleSessionName="chained")["AssumedRoleUser"]
    assert chained["Arn"] == f"arn:aws:sts::{account}:assumed-role/long-chain/chained"

    last_used = iam.get_role(RoleName="deployer")["Role"]["RoleLastUsed"]
    assert last_used["Region"] == "us-east-1"
    assert abs(last_used["LastUsedDate"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_assume_role_durations(iam, sts):
    arn = iam.create_role(RoleName="long", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=7200)["Role"]["Arn"]
    _expires_in(sts.assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"], 3600)
    _expires_in(sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)["Credentials"], 7200)
    err = expect_error("ValidationError", 400, sts.assume_role, RoleArn=arn, RoleSessionName="s1", DurationSeconds=7201)
    assert err["Message"] == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    err = expect_error("ValidationError", 400, sts.assume_role, RoleArn=arn, RoleSessionName="s1", DurationSeconds=899)
    assert "at 'durationSeconds'" in err["Message"] and "greater than or equal to 900" in err["Message"]
    err = expect_error("ValidationError", 400, sts.assume_role, RoleArn=arn, RoleSessionName="bad name!")
    assert "at 'roleSessionName'" in err["Message"]


def test_assume_missing_role_is_denied(sts, account):
    arn = f"arn:aws:iam::{account}:role/not-there"
    err = expect_error("AccessDenied", 403, sts.assume_role, RoleArn=arn, RoleSessionName="s1")
    assert err["Message"] == (f"User: arn:aws:iam::{account}:root is not authorized to perform:"
                              f" sts:AssumeRole on resource: {arn}")


def _jwt(claims: dict) -> str:
    def part(doc: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_assume_role_with_web_identity(endpoint, iam, sts, account):
    arn = iam.create_role(RoleName="web", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    token = _jwt({"iss": "https://token.actions.githubusercontent.com", "sub": "repo:org/app:ref:refs/heads/main",
                  "aud": "sts.amazonaws.com"})
    # AssumeRoleWithWebIdentity is unsigned on AWS: the role ARN names the account.
    unsigned = client("sts", endpoint)
    answer = unsigned.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="gha", WebIdentityToken=token)
    assert answer["SubjectFromWebIdentityToken"] == "repo:org/app:ref:refs/heads/main"
    assert answer["Provider"] == "token.actions.githubusercontent.com"
    assert answer["Audience"] == "sts.amazonaws.com"
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/web/gha"
    creds = answer["Credentials"]
    who = client("sts", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert who.get_caller_identity()["Account"] == account
    expect_error("InvalidIdentityToken", 400, sts.assume_role_with_web_identity, RoleArn=arn,
                 RoleSessionName="gha", WebIdentityToken="not-a-jwt")


def test_get_session_token(endpoint, iam, sts, account):
    creds = sts.get_session_token()["Credentials"]
    _expires_in(creds, 3600)  # the root user's session tokens last an hour at most
    session = client("sts", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:root"

    iam.create_user(UserName="carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    as_carol = client("sts", endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    _expires_in(as_carol.get_session_token()["Credentials"], 43200)
    creds = as_carol.get_session_token(DurationSeconds=1800)["Credentials"]
    _expires_in(creds, 1800)
    session = client("sts", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:user/carol"
    expect_error("ValidationError", 400, sts.get_session_token, DurationSeconds=100)


@pytest.mark.parametrize("arn", ["nothing-valid-in-here", "arn::b:::something/test-role", "arn:a:a::aaaaaaaaaa:"])
def test_assume_role_malformed_arn(sts, arn):
    err = expect_error("ValidationError", 400, sts.assume_role, RoleArn=arn, RoleSessionName="s1")
    assert err["Message"] == f"{arn} is invalid"


def test_assume_role_session_tags_are_checked(iam, sts):
    arn = iam.create_role(RoleName="tags", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    err = expect_error("InvalidParameterValue", 400, sts.assume_role, RoleArn=arn, RoleSessionName="s1",
                       Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert err["Message"] == "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    expect_error("InvalidParameterValue", 400, sts.assume_role, RoleArn=arn, RoleSessionName="s1",
                 Tags=[{"Key": "a", "Value": "1"}], TransitiveTagKeys=["b"])
    sts.assume_role(RoleArn=arn, RoleSessionName="s1", Tags=[{"Key": "a", "Value": "1"}], TransitiveTagKeys=["A"])
