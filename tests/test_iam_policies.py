"""IAM managed policies, policy versions, users and access keys against a real server."""

from __future__ import annotations

import json
import re

import pytest
from iam_helpers import (
    BASIC_EXECUTION,
    SQS_EXECUTION,
    SQS_POLICY,
    TRUST,
    client,
    expect_error,
    new_account,
)


@pytest.fixture
def account() -> str:
    return new_account()


@pytest.fixture
def iam(endpoint, account):
    return client("iam", endpoint, access_key=account, validate=False)


def _doc(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def test_create_get_delete_policy(iam, account):
    created = iam.create_policy(PolicyName="send", Path="/team/", PolicyDocument=SQS_POLICY,
                                Description="send only", Tags=[{"Key": "k", "Value": "v"}])["Policy"]
    arn = f"arn:aws:iam::{account}:policy/team/send"
    assert created["Arn"] == arn and created["Path"] == "/team/"
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", created["PolicyId"])
    assert (created["DefaultVersionId"], created["AttachmentCount"], created["IsAttachable"]) == ("v1", 0, True)
    assert created["PermissionsBoundaryUsageCount"] == 0
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "send only" and got["Tags"] == [{"Key": "k", "Value": "v"}]
    untagged = iam.create_policy(PolicyName="plain", PolicyDocument=SQS_POLICY)["Policy"]
    assert "Tags" not in untagged and iam.get_policy(PolicyArn=untagged["Arn"])["Policy"]["Tags"] == []
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(SQS_POLICY) and version["IsDefaultVersion"] is True
    err = expect_error("EntityAlreadyExists", 409, iam.create_policy, PolicyName="SEND", PolicyDocument=SQS_POLICY)
    assert err["Message"] == "A policy called SEND already exists. Duplicate names are not allowed."

    iam.create_role(RoleName="user-of-policy", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="user-of-policy", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    err = expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)
    assert err["Message"] == "Cannot delete a policy attached to entities."
    iam.detach_role_policy(RoleName="user-of-policy", PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    err = expect_error("NoSuchEntity", 404, iam.get_policy, PolicyArn=arn)
    assert err["Message"] == f"Policy {arn} was not found."
    expect_error("NoSuchEntity", 404, iam.delete_policy, PolicyArn=arn)


def test_malformed_and_oversized_policies(iam):
    err = expect_error("MalformedPolicyDocument", 400, iam.create_policy, PolicyName="bad", PolicyDocument="[1")
    assert err["Message"] == "This policy contains invalid Json"
    err = expect_error("MalformedPolicyDocument", 400, iam.create_policy, PolicyName="bad",
                       PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Action": "s3:*", "Resource": "*"}]}))
    assert err["Message"] == "Syntax errors in policy."
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"sqs:Action{i:05d}" for i in range(400)], "Resource": "*"}]})
    err = expect_error("LimitExceeded", 409, iam.create_policy, PolicyName="big", PolicyDocument=big)
    assert err["Message"] == "Cannot exceed quota for PolicySize: 6144"


def test_aws_managed_policies(iam):
    policy = iam.get_policy(PolicyArn=BASIC_EXECUTION)["Policy"]
    assert policy["PolicyName"] == "AWSLambdaBasicExecutionRole" and policy["Path"] == "/service-role/"
    assert policy["PolicyId"].startswith("ANPA") and policy["Tags"] == []
    default = policy["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=BASIC_EXECUTION, VersionId=default)["PolicyVersion"]["Document"]
    assert document["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=BASIC_EXECUTION)["Versions"]] == [default]
    expect_error("AccessDenied", 403, iam.delete_policy, PolicyArn=BASIC_EXECUTION)
    expect_error("AccessDenied", 403, iam.create_policy_version, PolicyArn=BASIC_EXECUTION, PolicyDocument=SQS_POLICY)
    expect_error("NoSuchEntity", 404, iam.get_policy, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAtAll")


def test_list_policies_scope_attached_and_paging(iam, account):
    for name in ("p-b", "p-a", "p-c"):
        iam.create_policy(PolicyName=name, Path="/mine/", PolicyDocument=SQS_POLICY)
    local = iam.list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["p-a", "p-b", "p-c"]
    assert "Description" not in local[0] and "Tags" not in local[0]
    aws = [p["Arn"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]]
    assert BASIC_EXECUTION in aws and SQS_EXECUTION in aws and all(":aws:policy/" in a for a in aws)
    pages = iam.get_paginator("list_policies").paginate(PaginationConfig={"PageSize": 2})
    everything = [policy["PolicyName"] for page in pages for policy in page["Policies"]]
    assert len(everything) == len(aws) + 3 and len(set(everything)) == len(everything)
    assert [p["PolicyName"] for p in iam.list_policies(PathPrefix="/mine/")["Policies"]] == ["p-a", "p-b", "p-c"]
    assert iam.list_policies(OnlyAttached=True)["Policies"] == []
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="r", PolicyArn=f"arn:aws:iam::{account}:policy/mine/p-b")
    iam.attach_role_policy(RoleName="r", PolicyArn=BASIC_EXECUTION)
    attached = iam.list_policies(OnlyAttached=True)["Policies"]
    assert sorted(p["PolicyName"] for p in attached) == ["AWSLambdaBasicExecutionRole", "p-b"]
    assert all(p["AttachmentCount"] == 1 for p in attached)
    assert [p["PolicyName"] for p in iam.list_policies(OnlyAttached=True, Scope="Local")["Policies"]] == ["p-b"]
    page = iam.list_policies(Scope="Local", MaxItems=2)
    assert page["IsTruncated"] and len(page["Policies"]) == 2
    rest = iam.list_policies(Scope="Local", MaxItems=2, Marker=page["Marker"])
    assert [p["PolicyName"] for p in rest["Policies"]] == ["p-c"] and not rest["IsTruncated"]
    expect_error("ValidationError", 400, iam.list_policies, Scope="Everything")


def test_policy_versions(iam, account):
    arn = iam.create_policy(PolicyName="versioned", PolicyDocument=_doc("sqs:A"))["Policy"]["Arn"]
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("sqs:B"))["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", False) and "Document" not in v2
    v3 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("sqs:C"), SetAsDefault=True)["PolicyVersion"]
    assert (v3["VersionId"], v3["IsDefaultVersion"]) == ("v3", True)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("sqs:D"))
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("sqs:E"))
    err = expect_error("LimitExceeded", 409, iam.create_policy_version, PolicyArn=arn, PolicyDocument=_doc("sqs:F"))
    assert err["Message"] == ("A managed policy can have up to 5 versions. Before you create a new version,"
                              " you must delete an existing version.")
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed] == [
        ("v5", False), ("v4", False), ("v3", True), ("v2", False), ("v1", False)]
    err = expect_error("DeleteConflict", 409, iam.delete_policy_version, PolicyArn=arn, VersionId="v3")
    assert err["Message"] == "Cannot delete the default version of a policy."
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("sqs:F"))["PolicyVersion"]["VersionId"] == "v6"
    err = expect_error("NoSuchEntity", 404, iam.get_policy_version, PolicyArn=arn, VersionId="v1")
    assert err["Message"] == f"Policy {arn} version v1 does not exist or is not attachable."
    expect_error("NoSuchEntity", 404, iam.delete_policy_version, PolicyArn=arn, VersionId="v1")
    expect_error("NoSuchEntity", 404, iam.set_default_policy_version, PolicyArn=arn, VersionId="v9")
    err = expect_error("ValidationError", 400, iam.get_policy_version, PolicyArn=arn, VersionId="1")
    assert err["Message"] == ("1 validation error detected: Value at 'versionId' failed to satisfy constraint:"
                              " Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?")
    missing = f"arn:aws:iam::{account}:policy/TestNonExistingPolicy"
    for call in (iam.get_policy_version, iam.set_default_policy_version):
        err = expect_error("NoSuchEntity", 404, call, PolicyArn=missing, VersionId="v1")
        assert err["Message"] == f"Policy {missing} version v1 does not exist or is not attachable."
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v6")
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v6")["PolicyVersion"]
    assert got["IsDefaultVersion"] and got["Document"]["Statement"][0]["Action"] == "sqs:F"
    err = expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)
    assert "more than one version" in err["Message"]
    for version in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.delete_policy(PolicyArn=arn)


def test_users_and_access_keys(endpoint, iam, account):
    user = iam.create_user(UserName="alice", Path="/people/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{account}:user/people/alice"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"]) and user["Tags"] == [{"Key": "team", "Value": "a"}]
    assert iam.get_user(UserName="alice")["User"]["UserId"] == user["UserId"]
    expect_error("EntityAlreadyExists", 409, iam.create_user, UserName="ALICE")
    err = expect_error("NoSuchEntity", 404, iam.get_user, UserName="bob")
    assert err["Message"] == "The user with name bob cannot be found."
    iam.create_user(UserName="bob")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice", "bob"]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/people/")["Users"]] == ["alice"]

    key = iam.create_access_key(UserName="alice")["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"]) and len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active" and key["UserName"] == "alice"
    listed = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]] and "SecretAccessKey" not in listed[0]

    # The new key acts as alice, in alice's account.
    identity = client("sts", endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (account, user["Arn"], user["UserId"])
    assert client("iam", endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_user()["User"]["UserName"] == "alice"

    err = expect_error("DeleteConflict", 409, iam.delete_user, UserName="alice")
    assert err["Message"] == "Cannot delete entity, must delete access keys first."
    iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    expect_error("NoSuchEntity", 404, iam.delete_access_key, UserName="alice", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="alice")
    expect_error("NoSuchEntity", 404, iam.delete_user, UserName="alice")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["bob"]


def test_policy_tags_and_entities(iam, account):
    arn = iam.create_policy(PolicyName="tagged", PolicyDocument=SQS_POLICY)["Policy"]["Arn"]
    # Policy tag keys are case-sensitive (role and user tag keys are not).
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "lower"}, {"Key": "A", "Value": "upper"},
                                        {"Key": "b", "Value": "2"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [
        {"Key": "A", "Value": "upper"}, {"Key": "a", "Value": "lower"}, {"Key": "b", "Value": "2"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "upper"}, {"Key": "b", "Value": "2"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["A"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    err = expect_error("InvalidInput", 400, iam.tag_policy, PolicyArn=arn,
                       Tags=[{"Key": "x", "Value": "1"}, {"Key": "x", "Value": "2"}])
    assert err["Message"] == "Duplicate tag keys found."
    err = expect_error("NoSuchEntity", 404, iam.tag_policy, PolicyArn=f"arn:aws:iam::{account}:policy/NotAPolicy",
                       Tags=[{"Key": "x", "Value": "1"}])
    assert err["Message"] == f"Policy arn:aws:iam::{account}:policy/NotAPolicy was not found."
    assert iam.list_policy_tags(PolicyArn=BASIC_EXECUTION)["Tags"] == []
    expect_error("AccessDenied", 403, iam.tag_policy, PolicyArn=BASIC_EXECUTION, Tags=[{"Key": "a", "Value": "1"}])

    role = iam.create_role(RoleName="holder", Path="/x/", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=arn)
    iam.attach_role_policy(RoleName="holder", PolicyArn=arn)
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert (entities["PolicyGroups"], entities["PolicyUsers"]) == ([], [])
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["bounded", "holder"]
    attached = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")["PolicyRoles"]
    assert attached == [{"RoleName": "holder", "RoleId": role["RoleId"]}]
    assert [r["RoleName"] for r in iam.list_entities_for_policy(PolicyArn=arn, PathPrefix="/x/")["PolicyRoles"]] == ["holder"]
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")["PolicyRoles"] == []
    expect_error("NoSuchEntity", 404, iam.list_entities_for_policy, PolicyArn=f"arn:aws:iam::{account}:policy/none")


def test_user_tags_and_key_status(iam):
    iam.create_user(UserName="dave", Tags=[{"Key": "a", "Value": "1"}])
    iam.tag_user(UserName="dave", Tags=[{"Key": "b", "Value": "2"}])
    iam.untag_user(UserName="dave", TagKeys=["a"])
    assert iam.list_user_tags(UserName="dave")["Tags"] == [{"Key": "b", "Value": "2"}]
    key = iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="dave", AccessKeyId=key, Status="Inactive")
    assert iam.list_access_keys(UserName="dave")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    expect_error("ValidationError", 400, iam.update_access_key, UserName="dave", AccessKeyId=key, Status="Off")
    iam.create_access_key(UserName="dave")
    err = expect_error("LimitExceeded", 409, iam.create_access_key, UserName="dave")
    assert err["Message"] == "Cannot exceed quota for AccessKeysPerUser: 2"
