"""Helpers for the CloudWatch Logs suites: clients, unique names, error checks."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"


def logs_client(endpoint: str, access_key: str = "test", region: str = REGION, validate: bool = True):
    """A CloudWatch Logs client; ``validate=False`` sends what botocore would refuse."""
    return boto3.session.Session().client(
        "logs", endpoint_url=endpoint, region_name=region,
        aws_access_key_id=access_key, aws_secret_access_key="test",
        config=Config(parameter_validation=validate),
    )


def group_name(prefix: str = "/postroom/test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:16]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def expect_error(code: str, call, *args, message: str | None = None, **kwargs) -> ClientError:
    """Call and assert the AWS error code (and, if given, the exact message) it fails with."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    error = e.value.response["Error"]
    assert error["Code"] == code, e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert error["Message"] == message
    return e.value


def put(client, group: str, stream: str, messages: list[str], start: int | None = None, step: int = 1) -> int:
    """Put ``messages`` at start, start+step, ...; return the first timestamp."""
    start = now_ms() - 60_000 if start is None else start
    client.put_log_events(
        logGroupName=group, logStreamName=stream,
        logEvents=[{"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)],
    )
    return start
