"""IAM roles against a real server: lifecycle, shapes, tags, inline and attached policies,
paging, errors, durability and the aws CLI."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from iam_helpers import (
    BASIC_EXECUTION,
    SQS_EXECUTION,
    SQS_POLICY,
    TRUST,
    TRUST_DOC,
    client,
    expect_error,
    new_account,
)
from test_cli_smoke import aws_executable


@pytest.fixture
def account() -> str:
    return new_account()


@pytest.fixture
def iam(endpoint, account):
    """An IAM client in an account of its own, so listings see only this test's roles
    (botocore's own input checks off: the server's are under test)."""
    return client("iam", endpoint, access_key=account, validate=False)


def test_create_get_role_shapes(iam, account):
    created = iam.create_role(RoleName="exec-role", AssumeRolePolicyDocument=TRUST,
                              Description="runs functions")["Role"]
    assert created["Arn"] == f"arn:aws:iam::{account}:role/exec-role"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", created["RoleId"])
    assert created["Path"] == "/"
    assert created["AssumeRolePolicyDocument"] == TRUST_DOC  # botocore URL-decodes and parses it
    assert "Description" not in created  # CreateRole's answer leaves it out, as AWS's does
    assert abs(created["CreateDate"] - datetime.now(UTC)) < timedelta(minutes=1)
    assert "MaxSessionDuration" not in created and "RoleLastUsed" not in created

    got = iam.get_role(RoleName="exec-role")["Role"]
    assert got["RoleId"] == created["RoleId"] and got["Description"] == "runs functions"
    assert got["MaxSessionDuration"] == 3600
    assert got["RoleLastUsed"] == {}
    assert "Tags" not in got


def test_trust_policy_is_url_encoded_on_the_wire(endpoint, account):
    """AWS's Query answers carry policy documents percent-encoded (botocore decodes them)."""
    import urllib.request
    from urllib.parse import quote

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    client("iam", endpoint, access_key=account).create_role(RoleName="wire", AssumeRolePolicyDocument=TRUST)
    request = AWSRequest("POST", endpoint + "/", data="Action=GetRole&Version=2010-05-08&RoleName=wire",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(account, "test"), "iam", "us-east-1").add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(endpoint + "/", data=request.body,
                                                       headers=dict(request.headers))) as resp:
        body = resp.read().decode()
    assert f"<AssumeRolePolicyDocument>{quote(TRUST, safe='')}</AssumeRolePolicyDocument>" in body
    assert "%7B%22Version%22%3A%20%222012-10-17%22" in body
    assert 'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"' in body


def test_role_names_are_unique_without_case_and_errors(iam):
    iam.create_role(RoleName="Dup", AssumeRolePolicyDocument=TRUST)
    err = expect_error("EntityAlreadyExists", 409, iam.create_role, RoleName="dup", AssumeRolePolicyDocument=TRUST)
    assert err["Message"] == "Role with name dup already exists."
    err = expect_error("NoSuchEntity", 404, iam.get_role, RoleName="missing")
    assert err["Message"] == "The role with name missing cannot be found."
    expect_error("NoSuchEntity", 404, iam.delete_role, RoleName="missing")
    expect_error("NoSuchEntity", 404, iam.update_role, RoleName="missing", Description="x")
    err = expect_error("ValidationError", 400, iam.create_role, RoleName="bad name", AssumeRolePolicyDocument=TRUST)
    assert err["Message"] == ("1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy"
                              " constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    err = expect_error("ValidationError", 400, iam.create_role, RoleName="r" * 65, AssumeRolePolicyDocument=TRUST)
    assert "Member must have length less than or equal to 64" in err["Message"]
    err = expect_error("ValidationError", 400, iam.create_role, RoleName="short", AssumeRolePolicyDocument=TRUST,
                       MaxSessionDuration=100)
    assert "at 'maxSessionDuration'" in err["Message"] and "greater than or equal to 3600" in err["Message"]
    expect_error("ValidationError", 400, iam.create_role, RoleName="p", Path="no-slash", AssumeRolePolicyDocument=TRUST)


@pytest.mark.parametrize(("document", "message"), [
    ("{not json", "This policy contains invalid Json"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "x"},
                                                        "Action": "s3:GetObject"}]}),
     "AssumeRole policy may only specify STS AssumeRole actions."),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "x"},
                                                        "Action": "sts:AssumeRole", "Resource": "*"}]}),
     "Has prohibited field Resource"),
])
def test_malformed_trust_policies(iam, document, message):
    err = expect_error("MalformedPolicyDocument", 400, iam.create_role, RoleName="m", AssumeRolePolicyDocument=document)
    assert err["Message"] == message
    iam.create_role(RoleName="m", AssumeRolePolicyDocument=TRUST)
    err = expect_error("MalformedPolicyDocument", 400, iam.update_assume_role_policy, RoleName="m",
                       PolicyDocument=document)
    assert err["Message"] == message


def test_update_role_and_trust_policy(iam):
    iam.create_role(RoleName="upd", AssumeRolePolicyDocument=TRUST, Description="before")
    iam.update_role(RoleName="upd", Description="after", MaxSessionDuration=7200)
    got = iam.get_role(RoleName="upd")["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("after", 7200)
    assert iam.update_role_description(RoleName="upd", Description="third")["Role"]["Description"] == "third"
    new_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName="upd", PolicyDocument=json.dumps(new_trust))
    got = iam.get_role(RoleName="upd")["Role"]
    assert got["AssumeRolePolicyDocument"] == new_trust
    assert got["MaxSessionDuration"] == 7200


def test_role_tags(iam):
    role = iam.create_role(RoleName="tagged", Path="/app/", AssumeRolePolicyDocument=TRUST,
                           Tags=[{"Key": "team", "Value": "a"}, {"Key": "empty", "Value": ""}])["Role"]
    assert role["Tags"] == [{"Key": "team", "Value": "a"}, {"Key": "empty", "Value": ""}]
    assert role["Arn"].endswith(":role/app/tagged")
    iam.tag_role(RoleName="tagged", Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}])
    assert iam.list_role_tags(RoleName="tagged")["Tags"] == [  # ordered by key
        {"Key": "empty", "Value": ""}, {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}]
    page = iam.list_role_tags(RoleName="tagged", MaxItems=2)
    assert [t["Key"] for t in page["Tags"]] == ["empty", "env"] and page["IsTruncated"]
    rest = iam.list_role_tags(RoleName="tagged", Marker=page["Marker"])
    assert [t["Key"] for t in rest["Tags"]] == ["team"] and not rest["IsTruncated"]
    iam.untag_role(RoleName="tagged", TagKeys=["team", "empty"])
    tags = iam.list_role_tags(RoleName="tagged")
    assert tags["Tags"] == [{"Key": "env", "Value": "dev"}] and tags["IsTruncated"] is False
    assert iam.get_role(RoleName="tagged")["Role"]["Tags"] == [{"Key": "env", "Value": "dev"}]
    err = expect_error("InvalidInput", 400, iam.tag_role, RoleName="tagged",
                       Tags=[{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}])
    assert err["Message"] == "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    err = expect_error("ValidationError", 400, iam.tag_role, RoleName="tagged",
                       Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" in err["Message"]
    err = expect_error("ValidationError", 400, iam.tag_role, RoleName="tagged", Tags=[{"Key": "k" * 129, "Value": "v"}])
    assert err["Message"] == ("1 validation error detected: Value at 'tags.1.member.key' failed to satisfy"
                              " constraint: Member must have length less than or equal to 128")
    err = expect_error("ValidationError", 400, iam.untag_role, RoleName="tagged", TagKeys=["k" * 129])
    assert err["Message"] == (
        "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must satisfy"
        " constraint: [Member must have length less than or equal to 128, Member must have length greater"
        " than or equal to 1, Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+,"
        " Member must not be null]")
    expect_error("LimitExceeded", 409, iam.tag_role, RoleName="tagged",
                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    expect_error("NoSuchEntity", 404, iam.tag_role, RoleName="nope", Tags=[{"Key": "a", "Value": "b"}])
    expect_error("NoSuchEntity", 404, iam.list_role_tags, RoleName="nope")


def test_inline_policies_and_delete_conflict(iam):
    iam.create_role(RoleName="inline", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="inline", PolicyName="b-send", PolicyDocument=SQS_POLICY)
    iam.put_role_policy(RoleName="inline", PolicyName="a-send", PolicyDocument=SQS_POLICY)
    got = iam.get_role_policy(RoleName="inline", PolicyName="b-send")
    assert got["PolicyDocument"] == json.loads(SQS_POLICY) and got["RoleName"] == "inline"
    assert iam.list_role_policies(RoleName="inline")["PolicyNames"] == ["a-send", "b-send"]
    err = expect_error("DeleteConflict", 409, iam.delete_role, RoleName="inline")
    assert err["Message"] == "Cannot delete entity, must delete policies first."
    iam.delete_role_policy(RoleName="inline", PolicyName="a-send")
    iam.delete_role_policy(RoleName="inline", PolicyName="b-send")
    err = expect_error("NoSuchEntity", 404, iam.get_role_policy, RoleName="inline", PolicyName="a-send")
    assert err["Message"] == "The role policy with name a-send cannot be found."
    expect_error("NoSuchEntity", 404, iam.delete_role_policy, RoleName="inline", PolicyName="a-send")
    err = expect_error("MalformedPolicyDocument", 400, iam.put_role_policy, RoleName="inline", PolicyName="x",
                       PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                           {"Effect": "Allow", "Action": "sqs:*"}]}))
    assert err["Message"] == "Policy statement must contain resources."
    iam.delete_role(RoleName="inline")
    expect_error("NoSuchEntity", 404, iam.get_role, RoleName="inline")


def test_attached_policies(iam, account):
    iam.create_role(RoleName="attached", AssumeRolePolicyDocument=TRUST)
    assert iam.list_attached_role_policies(RoleName="attached")["AttachedPolicies"] == []
    iam.attach_role_policy(RoleName="attached", PolicyArn=BASIC_EXECUTION)
    iam.attach_role_policy(RoleName="attached", PolicyArn=SQS_EXECUTION)
    iam.attach_role_policy(RoleName="attached", PolicyArn=SQS_EXECUTION)  # again: no change
    listed = iam.list_attached_role_policies(RoleName="attached")["AttachedPolicies"]
    assert listed == [
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC_EXECUTION},
        {"PolicyName": "AWSLambdaSQSQueueExecutionRole", "PolicyArn": SQS_EXECUTION},
    ]
    assert iam.list_attached_role_policies(RoleName="attached", PathPrefix="/other/")["AttachedPolicies"] == []
    assert iam.get_policy(PolicyArn=SQS_EXECUTION)["Policy"]["AttachmentCount"] == 1
    err = expect_error("DeleteConflict", 409, iam.delete_role, RoleName="attached")
    assert err["Message"] == "Cannot delete entity, must detach all policies first."
    missing = f"arn:aws:iam::{account}:policy/nonexistent-policy"
    err = expect_error("NoSuchEntity", 404, iam.attach_role_policy, RoleName="attached", PolicyArn=missing)
    assert err["Message"] == f"Policy {missing} does not exist or is not attachable."
    err = expect_error("ValidationError", 400, iam.attach_role_policy, RoleName="attached",
                       PolicyArn="longpolicynamebutnoarn")
    assert err["Message"] == "ARN longpolicynamebutnoarn is not valid."
    iam.detach_role_policy(RoleName="attached", PolicyArn=BASIC_EXECUTION)
    err = expect_error("NoSuchEntity", 404, iam.detach_role_policy, RoleName="attached", PolicyArn=BASIC_EXECUTION)
    assert err["Message"] == f"Policy {BASIC_EXECUTION} was not found."
    iam.detach_role_policy(RoleName="attached", PolicyArn=SQS_EXECUTION)
    assert iam.list_instance_profiles_for_role(RoleName="attached")["InstanceProfiles"] == []
    expect_error("NoSuchEntity", 404, iam.list_instance_profiles_for_role, RoleName="gone")
    iam.delete_role(RoleName="attached")


def test_list_roles_paging_and_path_prefix(iam):
    for i in range(5):
        iam.create_role(RoleName=f"svc-{i}", Path="/svc/", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="other", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "a", "Value": "b"}])
    names, marker, pages = [], None, 0
    while True:
        kwargs = {"PathPrefix": "/svc/", "MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = iam.list_roles(**kwargs)
        names += [r["RoleName"] for r in page["Roles"]]
        pages += 1
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert names == [f"svc-{i}" for i in range(5)] and pages == 3
    everything = iam.list_roles()["Roles"]
    assert [r["RoleName"] for r in everything] == ["other"] + [f"svc-{i}" for i in range(5)]
    assert everything[0]["MaxSessionDuration"] == 3600
    assert "Tags" not in everything[0] and "RoleLastUsed" not in everything[0]
    paginated = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 4})
                 for r in p["Roles"]]
    assert paginated == [r["RoleName"] for r in everything]
    expect_error("ValidationError", 400, iam.list_roles, MaxItems=0)


def test_roles_are_per_account(endpoint, iam):
    iam.create_role(RoleName="mine", AssumeRolePolicyDocument=TRUST)
    other = client("iam", endpoint, access_key=new_account())
    expect_error("NoSuchEntity", 404, other.get_role, RoleName="mine")
    assert other.list_roles()["Roles"] == []


def test_roles_survive_restart(private_server):
    first = private_server()
    iam = client("iam", first.endpoint)
    role = iam.create_role(RoleName="durable", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "k", "Value": "v"}])["Role"]
    iam.put_role_policy(RoleName="durable", PolicyName="inline", PolicyDocument=SQS_POLICY)
    iam.attach_role_policy(RoleName="durable", PolicyArn=BASIC_EXECUTION)
    policy = iam.create_policy(PolicyName="durable-policy", PolicyDocument=SQS_POLICY)["Policy"]
    iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=SQS_POLICY, SetAsDefault=True)
    creds = client("sts", first.endpoint).assume_role(RoleArn=role["Arn"], RoleSessionName="before")["Credentials"]
    first.stop()

    second = private_server(data_dir=first.data_dir)
    iam = client("iam", second.endpoint)
    got = iam.get_role(RoleName="durable")["Role"]
    assert (got["RoleId"], got["Tags"]) == (role["RoleId"], [{"Key": "k", "Value": "v"}])
    assert got["RoleLastUsed"]["Region"] == "us-east-1"
    assert iam.list_role_policies(RoleName="durable")["PolicyNames"] == ["inline"]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="durable")["AttachedPolicies"]] == [BASIC_EXECUTION]
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["DefaultVersionId"] == "v2"
    session = client("sts", second.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.get_caller_identity()["Arn"] == "arn:aws:sts::000000000000:assumed-role/durable/before"


def test_aws_cli_create_role(endpoint, tmp_path, account):
    exe = aws_executable()
    assert exe is not None, "the aws CLI (awscli, a test dependency) is not installed"
    env = {"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(*args):
        proc = subprocess.run([exe, "--endpoint-url", endpoint, "--output", "json", *args],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    role = run("iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", TRUST)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/cli-role"
    run("iam", "attach-role-policy", "--role-name", "cli-role", "--policy-arn", BASIC_EXECUTION)
    assert run("iam", "get-role", "--role-name", "cli-role")["Role"]["AssumeRolePolicyDocument"] == TRUST_DOC
    identity = run("sts", "get-caller-identity")
    assert identity == {"UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}


def test_permissions_boundary(iam, account):
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=SQS_POLICY)["Policy"]["Arn"]
    role = iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=boundary)["Role"]
    expected = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    assert role["PermissionsBoundary"] == expected
    assert iam.get_role(RoleName="bounded")["Role"]["PermissionsBoundary"] == expected
    assert "PermissionsBoundary" not in iam.list_roles()["Roles"][0]
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    used = iam.list_policies(Scope="Local", PolicyUsageFilter="PermissionsBoundary")["Policies"]
    assert [p["Arn"] for p in used] == [boundary]
    expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=boundary)
    iam.put_role_permissions_boundary(RoleName="bounded", PermissionsBoundary=BASIC_EXECUTION)
    assert iam.get_role(RoleName="bounded")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == BASIC_EXECUTION
    iam.delete_role_permissions_boundary(RoleName="bounded")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="bounded")["Role"]
    missing = f"arn:aws:iam::{account}:policy/missing"
    err = expect_error("NoSuchEntity", 404, iam.put_role_permissions_boundary, RoleName="bounded",
                       PermissionsBoundary=missing)
    assert err["Message"] == f"Scope ARN: {missing} does not exist or is not attachable."
    bad = f"arn:aws:iam::{account}:not_a_policy/invalid"
    err = expect_error("InvalidInput", 400, iam.create_role, RoleName="b2", AssumeRolePolicyDocument=TRUST,
                       PermissionsBoundary=bad)
    assert err["Message"] == f"ARN {bad} is not valid."
    iam.delete_policy(PolicyArn=boundary)
