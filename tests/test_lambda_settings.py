"""Lambda function settings through boto3: reserved concurrency and account settings, event
invoke configs, resource policies, tags, layers, and the features Postroom refuses."""

from __future__ import annotations

import json
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_helpers import ROLE, client, function_name, zip_code

CODE = {"app.py": "def handler(event, context):\n    return event\n"}


def _client(endpoint: str, account: str, validate: bool = True):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="test",
        config=Config(parameter_validation=validate),
    )


@pytest.fixture
def account(endpoint):
    """A fresh account (its id, a client, and a client without client-side checks)."""
    number = f"{uuid.uuid4().int % 10**12:012d}"
    return number, _client(endpoint, number), _client(endpoint, number, validate=False)


@pytest.fixture(scope="module")
def lam(endpoint):
    return client(endpoint)


def create(lam, **kwargs) -> str:
    name = function_name()
    lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": zip_code(CODE)},
        **kwargs,
    )
    return name


def error(excinfo) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_reserved_concurrency_and_account_settings(account):
    number, lam, unchecked = account
    settings = lam.get_account_settings()
    assert settings["AccountLimit"] == {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 1000,
    }
    assert settings["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
    a, b = create(lam), create(lam)
    assert lam.get_function_concurrency(FunctionName=a).get("ReservedConcurrentExecutions") is None
    assert (
        lam.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=850)[
            "ReservedConcurrentExecutions"
        ]
        == 850
    )
    assert lam.get_function_concurrency(FunctionName=a)["ReservedConcurrentExecutions"] == 850
    assert lam.get_function(FunctionName=a)["Concurrency"] == {"ReservedConcurrentExecutions": 850}
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=51)
    assert error(e) == (
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100].",
        400,
    )
    lam.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=50)
    # Changing a function's own reservation does not count its old one.
    lam.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=850)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    assert settings["AccountUsage"]["FunctionCount"] == 2
    assert settings["AccountUsage"]["TotalCodeSize"] == 2 * len(zip_code(CODE))
    lam.delete_function_concurrency(FunctionName=a)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 950
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=f"{a}:1", ReservedConcurrentExecutions=1)
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        unchecked.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=-1)
    assert error(e)[0] == "ValidationException"


def test_event_invoke_configs(account):
    number, lam, unchecked = account
    name = create(lam)
    queue = f"arn:aws:sqs:us-east-1:{number}:failures"
    put = lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": queue}},
    )
    assert put["FunctionArn"] == f"arn:aws:lambda:us-east-1:{number}:function:{name}:$LATEST"
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue}}
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 1 and "LastModified" in got
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 120)
    # Put replaces the whole config.
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in replaced and replaced["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {},
    }
    lam.publish_version(FunctionName=name)
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=2)
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"].rsplit(":", 1)[1] for c in listed) == ["$LATEST", "1"]
    self_arn = f"arn:aws:lambda:us-east-1:{number}:function:{name}"
    cases = [
        ({"MaximumRetryAttempts": 3}, "ValidationException", None),
        ({"MaximumEventAgeInSeconds": 59}, "ValidationException", None),
        ({"MaximumEventAgeInSeconds": 21601}, "ValidationException", None),
        (
            {},
            "InvalidParameterValueException",
            "You must specify at least one of error handling or destination setting.",
        ),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": self_arn}}},
            "InvalidParameterValueException",
            "You can't specify the function as a destination for itself.",
        ),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": f"arn:aws:s3:::bucket{number}"}}},
            "InvalidParameterValueException",
            None,
        ),
    ]
    for kwargs, code, message in cases:
        with pytest.raises(ClientError) as e:
            unchecked.put_function_event_invoke_config(FunctionName=name, **kwargs)
        assert error(e)[0] == code, kwargs
        if message:
            assert error(e)[1] == message
    lam.put_function_event_invoke_config(
        FunctionName=name,
        DestinationConfig={
            "OnSuccess": {"Destination": f"arn:aws:sns:us-east-1:{number}:t"},
            "OnFailure": {"Destination": f"arn:aws:events:us-east-1:{number}:event-bus/default"},
        },
    )
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert error(e) == (
        "ResourceNotFoundException",
        f"The function {self_arn}:$LATEST doesn't have an EventInvokeConfig",
        404,
    )


def test_permissions_policy_as_aws_shapes_it(account):
    number, lam, unchecked = account
    name = create(lam)
    fn_arn = f"arn:aws:lambda:us-east-1:{number}:function:{name}"
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=name)
    assert error(e) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )
    added = lam.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=f"arn:aws:sns:us-east-1:{number}:t",
        SourceAccount=number,
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = {
        "Sid": "sns",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": fn_arn,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": number},
            "ArnLike": {"AWS:SourceArn": f"arn:aws:sns:us-east-1:{number}:t"},
        },
    }
    assert json.loads(added["Statement"]) == statement
    lam.add_permission(
        FunctionName=name, StatementId="acct", Action="lambda:GetFunction", Principal="111122223333"
    )
    policy = lam.get_policy(FunctionName=name)
    doc = json.loads(policy["Policy"])
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert doc["Statement"][0] == statement
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert policy["RevisionId"] == lam.get_function_configuration(FunctionName=name)["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.add_permission(
            FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction", Principal="*"
        )
    assert error(e)[0] == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        lam.add_permission(
            FunctionName=name,
            StatementId="x",
            Action="lambda:InvokeFunction",
            Principal="*",
            Qualifier="$LATEST",
        )
    assert error(e)[1] == "We currently do not support adding policies for $LATEST."
    lam.publish_version(FunctionName=name)
    lam.add_permission(
        FunctionName=name,
        StatementId="v1",
        Action="lambda:InvokeFunction",
        Principal="*",
        Qualifier="1",
    )
    v1 = json.loads(lam.get_policy(FunctionName=name, Qualifier="1")["Policy"])
    assert (
        v1["Statement"][0]["Resource"] == f"{fn_arn}:1" and v1["Statement"][0]["Principal"] == "*"
    )
    lam.remove_permission(FunctionName=name, StatementId="sns")
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName=name, StatementId="sns")
    assert error(e) == (
        "ResourceNotFoundException",
        "Statement sns is not found in resource policy.",
        404,
    )
    lam.remove_permission(FunctionName=name, StatementId="acct")
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=name)


def test_tags(account):
    number, lam, unchecked = account
    name = create(lam, Tags={"a": "1"})
    fn_arn = f"arn:aws:lambda:us-east-1:{number}:function:{name}"
    before = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    lam.tag_resource(Resource=fn_arn, Tags={"b": "2"})
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"a": "1", "b": "2"}
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] != before
    lam.untag_resource(Resource=fn_arn, TagKeys=["a"])
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        lam.tag_resource(Resource=f"{fn_arn}:1", Tags={"c": "3"})
    assert error(e)[1] == (
        "Tags on function aliases and versions are not supported. Please specify a function ARN."
    )
    with pytest.raises(ClientError) as e:
        lam.tag_resource(Resource="arn:aws:something", Tags={"c": "3"})
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.tag_resource(Resource=fn_arn, Tags={f"k{i}": "v" for i in range(50)})
    assert error(e)[1] == "Number of tags exceeds resource tag limit."
    with pytest.raises(ClientError) as e:
        lam.list_tags(Resource=f"{fn_arn}-missing")
    assert error(e)[0] == "ResourceNotFoundException"


def test_layers(account):
    number, lam, unchecked = account
    content = zip_code({"python/shared.py": "VALUE = 1\n"})
    name = f"layer-{uuid.uuid4().hex[:8]}"
    one = lam.publish_layer_version(
        LayerName=name,
        Content={"ZipFile": content},
        Description="one",
        CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"],
    )
    assert one["ResponseMetadata"]["HTTPStatusCode"] == 201
    base = f"arn:aws:lambda:us-east-1:{number}:layer:{name}"
    assert (one["LayerArn"], one["LayerVersionArn"], one["Version"]) == (base, f"{base}:1", 1)
    assert one["Content"]["CodeSize"] == len(content)
    with urllib.request.urlopen(one["Content"]["Location"], timeout=5) as resp:
        assert resp.read() == content
    two = lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": content}, CompatibleRuntimes=["nodejs22.x"]
    )
    assert two["Version"] == 2
    assert lam.get_layer_version(LayerName=name, VersionNumber=1)["Description"] == "one"
    assert lam.get_layer_version_by_arn(Arn=f"{base}:2")["Version"] == 2
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [
        2,
        1,
    ]
    assert [
        v["Version"]
        for v in lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")[
            "LayerVersions"
        ]
    ] == [1]
    [layer] = lam.list_layers()["Layers"]
    assert layer["LayerName"] == name and layer["LatestMatchingVersion"]["Version"] == 2
    assert (
        lam.list_layers(CompatibleRuntime="python3.12")["Layers"][0]["LatestMatchingVersion"][
            "Version"
        ]
        == 1
    )
    fn = create(lam, Layers=[f"{base}:1"])
    assert lam.get_function_configuration(FunctionName=fn)["Layers"] == [
        {"Arn": f"{base}:1", "CodeSize": len(content)}
    ]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=fn, Layers=[f"{base}:1", f"{base}:2"])
    assert error(e)[0] == "InvalidParameterValueException"
    lam.update_function_configuration(FunctionName=fn, Layers=[])
    assert "Layers" not in lam.get_function_configuration(FunctionName=fn)
    added = lam.add_layer_version_permission(
        LayerName=name,
        VersionNumber=1,
        StatementId="all",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert json.loads(added["Statement"])["Resource"] == f"{base}:1"
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert json.loads(policy["Policy"])["Statement"][0]["Sid"] == "all"
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="all")
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # gone already: still fine
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert error(e) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )
    # Numbers are never reused.
    assert lam.publish_layer_version(LayerName=name, Content={"ZipFile": content})["Version"] == 3
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": b"junk"})
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        unchecked.publish_layer_version(
            LayerName=name, Content={"ZipFile": content}, CompatibleRuntimes=["cobol"]
        )
    assert error(e)[0] == "ValidationException"


def test_unsupported_features_say_so(lam):
    name = create(lam)
    for call in (
        lambda: lam.create_function_url_config(FunctionName=name, AuthType="NONE"),
        lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        ),
        lambda: lam.create_code_signing_config(
            AllowedPublishers={
                "SigningProfileVersionArns": [
                    "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdef1234"
                ]
            }
        ),
    ):
        with pytest.raises(ClientError) as e:
            call()
        code, message, status = error(e)
        assert code == "InvalidParameterValueException" and message.endswith(
            "is not supported by Postroom."
        )
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    assert (
        lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
        == []
    )


def test_destination_functions_must_exist(account):
    number, lam, unchecked = account
    name, other = create(lam), create(lam)
    missing = f"arn:aws:lambda:us-east-1:{number}:function:doesnotexist"
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": missing}}
        )
    assert error(e)[1] == f"The destination ARN {missing} is invalid."
    target = f"arn:aws:lambda:us-east-1:{number}:function:{other}"
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}}
    )


def test_concurrency_of_a_missing_function(account):
    number, lam, unchecked = account
    with pytest.raises(ClientError) as e:
        unchecked.put_function_concurrency(FunctionName="doesnotexist", ReservedConcurrentExecutions=-5)
    assert error(e) == (
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:{number}:function:doesnotexist:$LATEST",
        404,
    )
