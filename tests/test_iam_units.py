"""In-process checks of the pieces IAM and STS build on: account-carrying key ids, the
model-driven constraint messages and policy document checks."""

from __future__ import annotations

import pytest

from postroom.accesskeys import account_in_key, issued_account, new_access_key_id
from postroom.iam import documents
from postroom.protocol.constraints import check_constraints
from postroom.protocol.context import make_context
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model


@pytest.mark.parametrize("account", ["000000000000", "000000000001", "123456789012", "999999999999"])
def test_key_ids_carry_their_account(account):
    for prefix in ("AKIA", "ASIA"):
        key = new_access_key_id(prefix, account)
        assert key.startswith(prefix) and len(key) == 20
        assert account_in_key(key) == account and issued_account(key) == account


def test_decodes_keys_as_aws_does():
    # A published example: AWS's GetAccessKeyInfo answers 609629065308 for this key id.
    assert account_in_key("ASIAY34FZKBOKMUTVV7A") == "609629065308"
    assert account_in_key("test") is None
    assert account_in_key("AKIA0000000000000000") is None  # 0 and 1 are not base32
    # Real AWS keys (not issued here) do not pick an account for requests.
    assert issued_account("ASIAY34FZKBOKMUTVV7A") is None
    assert issued_account("AKIAIOSFODNN7EXAMPLE") is None


def test_request_context_takes_the_account_from_the_key():
    key = new_access_key_id("ASIA", "210987654321")
    auth = f"AWS4-HMAC-SHA256 Credential={key}/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host"
    ctx = make_context(auth, "localhost:4566", "http", "r")
    assert (ctx.account, ctx.region, ctx.access_key) == ("210987654321", "eu-west-1", key)
    auth = "AWS4-HMAC-SHA256 Credential=123456789012/20260101/us-east-1/sqs/aws4_request"
    assert make_context(auth, "h", "http", "r").account == "123456789012"
    for other in ("test", "AKIAIOSFODNN7EXAMPLE"):
        auth = f"AWS4-HMAC-SHA256 Credential={other}/20260101/us-east-1/sqs/aws4_request"
        assert make_context(auth, "h", "http", "r").account == "000000000000"


def _problems(operation: str, params: dict) -> str:
    with pytest.raises(AWSError) as e:
        check_constraints(load_service_model("iam"), operation, params)
    assert e.value.code == "ValidationError" and e.value.status == 400
    return e.value.message


def test_constraint_messages():
    assert _problems("TagRole", {"RoleName": "r", "Tags": [{"Key": "bad<key", "Value": "v"}]}) == (
        "1 validation error detected: Value 'bad<key' at 'tags.1.member.key' failed to satisfy constraint:"
        " Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+")
    message = _problems("CreateRole", {"RoleName": "a b", "AssumeRolePolicyDocument": "{}", "MaxSessionDuration": 50000})
    assert message.startswith("2 validation errors detected: ")
    assert "at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200" in message
    # \w means ASCII word characters, as in the models' Java dialect.
    assert "at 'roleName'" in _problems("GetRole", {"RoleName": "rolé"})
    # Letters of any script, spaces and the listed marks are valid tag characters.
    check_constraints(load_service_model("iam"), "TagRole",
                      {"RoleName": "r", "Tags": [{"Key": "Grüße 東京 ١٢", "Value": ""}]})


def test_policy_document_checks():
    documents.check_permissions_policy('{"Statement": {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "*"}}')
    for bad, message in [
        ('{"Version": "2020-01-01", "Statement": []}', "The policy failed legacy parsing"),
        ('{"Version": "2012-10-17"}', "Syntax errors in policy."),
        ('{"Statement": [{"Effect": "Allow", "Resource": "*"}]}', "Policy statement must contain actions."),
        ('{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]}',
         "Policy document should not specify a principal."),
    ]:
        with pytest.raises(AWSError) as e:
            documents.check_permissions_policy(bad)
        assert (e.value.code, e.value.message) == ("MalformedPolicyDocument", message)
    with pytest.raises(AWSError) as e:
        documents.check_trust_policy('{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}')
    assert e.value.message == "Missing required field Principal"


def test_iam_api_roles_and_trust():
    """IamApi as Lambda and STS use it, on an in-memory store."""
    import asyncio
    import json

    from postroom.clock import SystemClock
    from postroom.iam.api import IamApi
    from postroom.storage.iam import RoleRecord
    from postroom.storage.sqlite import SqliteStore

    def trust(principal) -> str:
        return json.dumps({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})

    async def scenario() -> None:
        store = SqliteStore(None)
        await store.start()
        try:
            api = IamApi(store.iam, SystemClock(), asyncio.Lock())
            for name, principal in [("fn", {"Service": ["edge.amazonaws.com", "lambda.amazonaws.com"]}),
                                    ("ec2", {"Service": "ec2.amazonaws.com"}), ("any", "*")]:
                await store.iam.save_role(RoleRecord("123456789012", name, "/x/", f"AROA{name:0>17}",
                                                     trust(principal), None, 3600, [], 0))
            arn = "arn:aws:iam::123456789012:role/x/fn"
            assert api.role(arn).name == "fn" and api.role("arn:aws:iam::123456789012:role/fn") is None
            assert api.trusts_service(arn, "lambda.amazonaws.com")
            assert not api.trusts_service("arn:aws:iam::123456789012:role/x/ec2", "lambda.amazonaws.com")
            assert api.trusts_service("arn:aws:iam::123456789012:role/x/any", "lambda.amazonaws.com")
            assert not api.trusts_service("arn:aws:iam::123456789012:role/x/none", "lambda.amazonaws.com")
            await api.note_role_used(arn, "eu-west-1")
            assert store.iam.roles[("123456789012", "fn")].last_used_region == "eu-west-1"
        finally:
            await store.close()

    asyncio.run(scenario())
