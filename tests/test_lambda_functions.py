"""Lambda function control plane through boto3 against a real server: create (zip and
hot-reload), read, list, update, publish, aliases, delete, the SDK waiters, and AWS's
validation errors and texts."""

from __future__ import annotations

import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_helpers import ROLE, client, function_name, zip_code

ACCOUNT = "000000000000"
CODE = {"app.py": "def handler(event, context):\n    return event\n"}


@pytest.fixture(scope="module")
def lam(endpoint):
    return client(endpoint)


@pytest.fixture(scope="module")
def unchecked(endpoint):
    """A client that sends what it is given (no client-side min/max checks)."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False),
    )


@pytest.fixture
def own_account(endpoint):
    """A client acting as a fresh account, so listings and totals hold only this test's."""
    account = f"{uuid.uuid4().int % 10**12:012d}"
    return client(endpoint, access_key=account), account


def arn(name: str, qualifier: str | None = None, account: str = ACCOUNT) -> str:
    base = f"arn:aws:lambda:us-east-1:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def create(lam, name: str | None = None, code: dict | None = None, **kwargs) -> dict:
    kwargs.setdefault("Runtime", "python3.12")
    kwargs.setdefault("Handler", "app.handler")
    return lam.create_function(
        FunctionName=name or function_name(),
        Role=ROLE,
        Code={"ZipFile": zip_code(code or CODE)},
        **kwargs,
    )


def error(excinfo) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_create_answers_pending_and_is_active_at_once(lam):
    name = function_name()
    created = create(
        lam,
        name,
        Description="d",
        Timeout=10,
        MemorySize=256,
        Environment={"Variables": {"COLOR": "blue"}},
        Tags={"team": "a"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert created["FunctionArn"] == arn(name)
    assert created["Version"] == "$LATEST"
    assert created["CodeSize"] > 0 and len(created["CodeSha256"]) == 44
    assert (created["Timeout"], created["MemorySize"], created["Description"]) == (10, 256, "d")
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1}
    )
    lam.get_waiter("function_exists").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1}
    )
    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert config["Environment"] == {"Variables": {"COLOR": "blue"}}
    assert got["Tags"] == {"team": "a"}
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=5) as resp:
        assert resp.read() == zip_code(CODE)
    assert (
        lam.get_function_configuration(FunctionName=arn(name))["RevisionId"] == config["RevisionId"]
    )


def test_names_partial_and_full_arns_and_qualifiers(lam):
    name = create(lam)["FunctionName"]
    for ref in (name, f"{ACCOUNT}:function:{name}", arn(name), f"{name}:$LATEST"):
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == name
    assert lam.get_function_configuration(FunctionName=name, Qualifier="$LATEST")[
        "FunctionArn"
    ] == arn(name, "$LATEST")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"{name}:1", Qualifier="2")
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}")
    assert error(e) == (
        "InvalidParameterValueException",
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')",
        400,
    )


def test_missing_functions_versions_and_aliases(lam):
    name = create(lam)["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="nope-" + name)
    assert error(e) == (
        "ResourceNotFoundException",
        f"Function not found: {arn('nope-' + name)}",
        404,
    )
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(FunctionName=name, Qualifier="7")
    assert error(e)[1] == f"Function not found: {arn(name, '7')}"
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName=name, Name="live")
    assert error(e) == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn(name, 'live')}",
        404,
    )
    with pytest.raises(ClientError) as e:
        create(lam, name)
    assert error(e) == ("ResourceConflictException", f"Function already exist: {name}", 409)


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        (
            {"Timeout": 901},
            "ValidationException",
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900",
        ),
        (
            {"Timeout": 0},
            "ValidationException",
            "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            {"MemorySize": 10241},
            "ValidationException",
            "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: "
            "Member must have value less than or equal to 10240",
        ),
        ({"Role": "not-a-role"}, "ValidationException", None),
        (
            {"Runtime": "python3.6"},
            "InvalidParameterValueException",
            "The runtime parameter of python3.6 is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use the new runtime (python3.13) while creating or updating functions.",
        ),
        ({"Runtime": "cobol"}, "InvalidParameterValueException", None),
        (
            {"Environment": {"Variables": {"AWS_REGION": "x"}}},
            "InvalidParameterValueException",
            None,
        ),
        (
            {"Environment": {"Variables": {"BIG": "x" * 5000}}},
            "InvalidParameterValueException",
            None,
        ),
        ({"EphemeralStorage": {"Size": 100}}, "ValidationException", None),
        (
            {"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:none:1"]},
            "InvalidParameterValueException",
            "Layer version arn:aws:lambda:us-east-1:000000000000:layer:none:1 does not exist.",
        ),
        (
            {"PackageType": "Image", "Code": {"ImageUri": "x"}},
            "InvalidParameterValueException",
            "PackageType Image (container image functions) is not supported by Postroom.",
        ),
        (
            {"SnapStart": {"ApplyOn": "PublishedVersions"}},
            "InvalidParameterValueException",
            "SnapStart is not supported by Postroom.",
        ),
        (
            {"Code": {"ZipFile": b"not a zip"}},
            "InvalidParameterValueException",
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        (
            {"Code": {"S3Bucket": "bucket", "S3Key": "k.zip"}},
            "InvalidParameterValueException",
            None,
        ),
        (
            {"Code": {"S3Bucket": "hot-reload", "S3Key": "relative/dir"}},
            "InvalidParameterValueException",
            None,
        ),
        (
            {"Runtime": None},
            "InvalidParameterValueException",
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ),
    ],
)
def test_create_validation(unchecked, kwargs, code, message):
    lam = unchecked
    params = {
        "FunctionName": function_name(),
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_code(CODE)},
        **kwargs,
    }
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(ClientError) as e:
        lam.create_function(**params)
    got_code, got_message, status = error(e)
    assert got_code == code and status == 400
    if message:
        assert got_message == message
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=params["FunctionName"])


def test_bad_function_name_is_a_validation_error(unchecked):
    lam = unchecked
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName="bad name!",
            Role=ROLE,
            Runtime="python3.12",
            Handler="a.b",
            Code={"ZipFile": zip_code(CODE)},
        )
    assert error(e)[0] == "ValidationException"


def test_zip_escaping_its_directory_is_refused(lam):
    with pytest.raises(ClientError) as e:
        create(lam, code={"../evil.py": "x = 1"})
    assert error(e)[0] == "InvalidParameterValueException"


def test_update_configuration_and_the_updated_waiter(lam, unchecked):
    name = create(lam)["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    updated = lam.update_function_configuration(
        FunctionName=name,
        Timeout=900,
        MemorySize=10240,
        Handler="app.other",
        Description="new",
        Environment={"Variables": {"A1": "x"}},
        TracingConfig={"Mode": "Active"},
        EphemeralStorage={"Size": 1024},
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
        RevisionId=before,
    )
    assert (updated["LastUpdateStatus"], updated["LastUpdateStatusReasonCode"]) == (
        "InProgress",
        "Creating",
    )
    assert updated["State"] == "Active"
    assert updated["RevisionId"] != before
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1}
    )
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LastUpdateStatus"] == "Successful"
    assert (config["Timeout"], config["MemorySize"], config["Handler"]) == (900, 10240, "app.other")
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["EphemeralStorage"] == {"Size": 1024}
    assert config["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert config["LoggingConfig"]["LogFormat"] == "JSON"
    assert config["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId=before)
    assert error(e)[0] == "PreconditionFailedException" and error(e)[2] == 412
    with pytest.raises(ClientError) as e:
        unchecked.update_function_configuration(FunctionName=name, MemorySize=64)
    assert error(e)[0] == "ValidationException"


def test_update_code_publish_and_versions(lam):
    name = create(lam)["FunctionName"]
    first = lam.publish_version(FunctionName=name, Description="first")
    assert first["Version"] == "1" and first["FunctionArn"] == arn(name, "1")
    assert first["Description"] == "first"
    # Nothing changed since version 1: AWS answers version 1 again.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    new_code = {"app.py": "def handler(event, context):\n    return 2\n"}
    updated = lam.update_function_code(FunctionName=name, ZipFile=zip_code(new_code))
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["CodeSha256"] != first["CodeSha256"]
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=name, CodeSha256=first["CodeSha256"])
    assert error(e)[0] == "InvalidParameterValueException"
    published = lam.update_function_code(
        FunctionName=name, ZipFile=zip_code({"app.py": "x = 3"}), Publish=True
    )
    assert published["Version"] == "2" and published["FunctionArn"] == arn(name, "2")
    lam.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="2", WaiterConfig={"Delay": 1, "MaxAttempts": 1}
    )
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [
        arn(name, "$LATEST"),
        arn(name, "1"),
        arn(name, "2"),
    ]
    assert "State" not in versions[0]
    # Versions are immutable snapshots.
    assert (
        lam.get_function_configuration(FunctionName=name, Qualifier="1")["CodeSha256"]
        == first["CodeSha256"]
    )
    page = lam.list_versions_by_function(FunctionName=name, MaxItems=2)
    rest = lam.list_versions_by_function(FunctionName=name, Marker=page["NextMarker"])
    assert [v["Version"] for v in page["Versions"] + rest["Versions"]] == ["$LATEST", "1", "2"]
    assert "NextMarker" not in rest


def test_hot_reload_directory_is_used_in_place(lam, tmp_path):
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    name = function_name()
    created = lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Runtime="python3.12",
        Handler="app.handler",
        Code={"S3Bucket": "hot-reload", "S3Key": str(tmp_path)},
    )
    assert created["CodeSha256"] == "hot-reloading-hash-not-available"
    assert lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
    lam.update_function_code(FunctionName=name, S3Bucket="hot-reload", S3Key=str(tmp_path))


def test_aliases_with_routing(lam):
    name = create(lam)["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Timeout=9)
    lam.publish_version(FunctionName=name)
    alias = lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        Description="prod",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert alias["AliasArn"] == arn(name, "live")
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert error(e) == (
        "ResourceConflictException",
        f"Alias already exists: {arn(name, 'live')}",
        409,
    )
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="bad", FunctionVersion="9")
    assert error(e)[1] == f"Function not found: {arn(name, '9')}"
    with pytest.raises(ClientError) as e:
        lam.create_alias(
            FunctionName=name,
            Name="two",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert error(e)[0] == "InvalidParameterValueException"
    via_alias = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    assert via_alias["Version"] == "1" and via_alias["FunctionArn"] == arn(name, "live")
    updated = lam.update_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="2",
        RoutingConfig={},
        RevisionId=alias["RevisionId"],
    )
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    with pytest.raises(ClientError) as e:
        lam.update_alias(
            FunctionName=name, Name="live", Description="x", RevisionId=alias["RevisionId"]
        )
    assert error(e)[0] == "PreconditionFailedException"
    lam.create_alias(FunctionName=name, Name="beta", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["beta", "live"]
    assert [
        a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]
    ] == ["live"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert error(e)[0] == "ResourceConflictException"
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="2")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST",
        "1",
    ]
    # Version numbers are never reused.
    lam.update_function_configuration(FunctionName=name, Timeout=11)
    assert lam.publish_version(FunctionName=name)["Version"] == "3"


def test_delete_function_and_latest(lam):
    name = create(lam)["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert error(e) == (
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
        400,
    )
    assert lam.delete_function(FunctionName=arn(name))["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name)
    assert error(e)[2] == 404
    lam.get_waiter("function_exists")  # the waiter exists; the function no longer does
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=name)


def test_list_functions_pages_and_all_versions(own_account, unchecked):
    lam, account = own_account
    names = sorted(function_name("list") for _ in range(3))
    for name in names:
        create(lam, name)
    lam.publish_version(FunctionName=names[0])
    listed = lam.list_functions()["Functions"]
    assert [f["FunctionName"] for f in listed] == names
    assert listed[0]["FunctionArn"] == arn(names[0], account=account)
    assert "State" not in listed[0]
    first = lam.list_functions(MaxItems=2)
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in first["Functions"] + second["Functions"]] == names
    assert "NextMarker" not in second
    every = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["FunctionName"], f["Version"]) for f in every] == [
        (names[0], "$LATEST"),
        (names[0], "1"),
        (names[1], "$LATEST"),
        (names[2], "$LATEST"),
    ]
    assert every[1]["FunctionArn"] == arn(names[0], "1", account=account)
    paginated = [
        f["FunctionName"]
        for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
        for f in p["Functions"]
    ]
    assert paginated == names
    with pytest.raises(ClientError) as e:
        unchecked.list_functions(MaxItems=0)
    assert error(e)[0] == "ValidationException"


def test_alias_of_a_missing_function_names_the_version(lam):
    name = function_name("missing")
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert error(e) == ("ResourceNotFoundException", f"Function not found: {arn(name, '1')}", 404)
