"""Helpers for function tests: zip handler code, build Lambda clients, create functions."""

from __future__ import annotations

import io
import time
import uuid
import zipfile

import boto3
from server import CLIENT_CONFIG, REGION

ROLE = "arn:aws:iam::000000000000:role/lambda-test"


def zip_code(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    """A deployment package holding ``files`` (name -> content); ``modes`` sets Unix modes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            zf.writestr(info, content)
    return buf.getvalue()


def client(endpoint: str, service: str = "lambda", access_key: str = "test"):
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=access_key,
        aws_secret_access_key="test", config=CLIENT_CONFIG,
    )


def function_name(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def create_function(lam, code: dict[str, str | bytes], *, runtime: str = "python3.12",
                    handler: str = "app.handler", name: str | None = None, **kwargs) -> str:
    """Create a function from source files and wait until it is Active; its name."""
    name = name or function_name()
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
        Code={"ZipFile": zip_code(code, kwargs.pop("modes", None))}, **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    return name


def receive_bodies(sqs, url: str, expected: int, timeout: float = 20.0) -> list[dict]:
    """Receive and delete messages until ``expected`` arrived; the messages."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"])
        for m in resp.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got
