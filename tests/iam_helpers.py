"""Helpers for the IAM and STS suites: clients in a fresh account, documents, errors."""

from __future__ import annotations

import json
import random

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})
TRUST_DOC = json.loads(TRUST)
SQS_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}],
})
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"


def new_account() -> str:
    """A 12-digit account id no other test uses (the access key selects the account)."""
    return f"{random.randrange(10**11, 10**12)}"


def client(service: str, endpoint: str, access_key: str = "test", secret: str = "test",
           token: str | None = None, validate: bool = True):
    """A boto3 client; ``validate=False`` turns off botocore's own checks of the input, so
    the server's answers to out-of-range values can be tested."""
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret,
                        aws_session_token=token, config=Config(parameter_validation=validate))


def expect_error(code: str, status: int, call, *args, **kwargs) -> dict:
    """Call, assert the AWS error code and HTTP status it fails with, return the error."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    response = e.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    return response["Error"]
