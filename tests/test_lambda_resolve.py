"""In-process: the Lambda service over an in-memory store, for what boto3 cannot see:
resolve() (the invoke hot path), code packages on disk, and in-memory clean-up."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections import Counter
from pathlib import Path

import pytest
from lambda_helpers import ROLE, zip_code

from postroom.clock import SystemClock
from postroom.lambda_.resolve import resolve
from postroom.lambda_.service import LambdaService
from postroom.protocol.context import RequestContext, make_context
from postroom.protocol.errors import AWSError
from postroom.services import Apis
from postroom.storage.sqlite import SqliteStore

ACCOUNT, REGION = "000000000000", "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, "test", "http://localhost:4566", "req")
CODE = {"app.py": "def handler(event, context):\n    return event\n"}


class Pool:
    """Records retirements, as the environment pool would act on them."""

    def __init__(self) -> None:
        self.retired: list[str] = []

    def retire(self, function_arn: str) -> None:
        self.retired.append(function_arn)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def run(scenario, data_dir: Path | None = None):
    async def main():
        store = SqliteStore(None)
        await store.start()
        svc = LambdaService(store, SystemClock(), data_dir, Apis())
        svc.environments = Pool()
        await svc.start()
        try:
            return await scenario(svc)
        finally:
            await svc.stop()
            await store.close()

    return asyncio.run(main())


async def create(svc: LambdaService, name: str = "fn", **kwargs) -> dict:
    params = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": zip_code(CODE)},
        **kwargs,
    }
    return await svc.call("CreateFunction", params, CTX)


def test_resolve_names_versions_aliases_and_weights():
    async def scenario(svc):
        await create(svc, Environment={"Variables": {"COLOR": "red"}}, Timeout=5)
        await svc.call("PublishVersion", {"FunctionName": "fn"}, CTX)
        await svc.call("UpdateFunctionConfiguration", {"FunctionName": "fn", "Timeout": 6}, CTX)
        await svc.call("PublishVersion", {"FunctionName": "fn"}, CTX)
        await svc.call(
            "CreateAlias",
            {
                "FunctionName": "fn",
                "Name": "live",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.3}},
            },
            CTX,
        )
        latest = await resolve(svc, ACCOUNT, REGION, "fn", None)
        assert (
            latest.function_arn
            == latest.qualified_arn
            == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
        )
        assert latest.executed_version == "$LATEST" and latest.state == "Active"
        assert latest.spec.timeout_s == 6 and latest.spec.environment == (("COLOR", "red"),)
        assert (latest.spec.code_dir / "app.py").read_text() == CODE["app.py"]
        assert latest.spec.log_group == "/aws/lambda/fn"
        one = await resolve(
            svc, ACCOUNT, REGION, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:1", None
        )
        assert one.executed_version == "1" and one.spec.timeout_s == 5
        assert one.qualified_arn.endswith("function:fn:1")
        picks = Counter()
        for _ in range(400):
            got = await resolve(svc, ACCOUNT, REGION, "fn", "live")
            assert got.qualified_arn.endswith("function:fn:live")
            picks[got.executed_version] += 1
        assert set(picks) == {"1", "2"} and 60 < picks["2"] < 180, picks
        for function, qualifier, message in (
            ("nope", None, f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope"),
            ("fn", "9", f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:9"),
            (
                "fn:beta",
                None,
                f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:beta",
            ),
        ):
            with pytest.raises(AWSError) as e:
                await resolve(svc, ACCOUNT, REGION, function, qualifier)
            assert (e.value.code, e.value.message, e.value.status) == (
                "ResourceNotFoundException",
                message,
                404,
            )
        with pytest.raises(AWSError) as e:
            await resolve(svc, ACCOUNT, REGION, "fn:1", "2")
        assert e.value.code == "InvalidParameterValueException"

    run(scenario)


def test_resolve_cache_follows_every_change_and_retires_environments():
    async def scenario(svc):
        await create(svc)
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
        first = await resolve(svc, ACCOUNT, REGION, "fn", None)
        assert await resolve(svc, ACCOUNT, REGION, "fn", None) is first  # cached
        await svc.call(
            "UpdateFunctionConfiguration", {"FunctionName": "fn", "MemorySize": 512}, CTX
        )
        second = await resolve(svc, ACCOUNT, REGION, "fn", None)
        assert second.spec.memory_mb == 512 and second.spec.revision != first.spec.revision
        await svc.call(
            "UpdateFunctionCode",
            {"FunctionName": "fn", "ZipFile": zip_code({"app.py": "x=1"})},
            CTX,
        )
        third = await resolve(svc, ACCOUNT, REGION, "fn", None)
        assert third.spec.code_dir != second.spec.code_dir
        await svc.call(
            "PutFunctionConcurrency", {"FunctionName": "fn", "ReservedConcurrentExecutions": 2}, CTX
        )
        await svc.call(
            "PutFunctionEventInvokeConfig", {"FunctionName": "fn", "MaximumRetryAttempts": 1}, CTX
        )
        fourth = await resolve(svc, ACCOUNT, REGION, "fn", None)
        assert (
            fourth.reserved_concurrency == 2
            and fourth.event_invoke_config["MaximumRetryAttempts"] == 1
        )
        assert svc.environments.retired == [arn, arn]
        await svc.call("DeleteFunction", {"FunctionName": "fn"}, CTX)
        assert svc.environments.retired == [arn, arn, arn]
        with pytest.raises(AWSError):
            await resolve(svc, ACCOUNT, REGION, "fn", None)

    run(scenario)


def test_hot_reload_state_follows_the_directory(tmp_path):
    code = tmp_path / "src"
    code.mkdir()

    async def scenario(svc):
        await create(svc, Code={"S3Bucket": "hot-reload", "S3Key": str(code)})
        resolved = await resolve(svc, ACCOUNT, REGION, "fn", None)
        assert resolved.spec.code_dir == code and resolved.state == "Active"
        code.rmdir()
        svc.resolve_cache.clear()
        assert (await resolve(svc, ACCOUNT, REGION, "fn", None)).state == "Failed"

    run(scenario)


def _inflate_declared_size(package: bytes, size: int) -> bytes:
    """The same zip, its central directory claiming ``size`` uncompressed bytes."""
    at = package.index(b"PK\x01\x02")
    return package[: at + 24] + struct.pack("<I", size) + package[at + 28 :]


def test_code_store_limits_and_layout(tmp_path):
    async def scenario(svc):
        big = _inflate_declared_size(zip_code(CODE), 262_144_001)
        with pytest.raises(AWSError) as e:
            await create(svc, Code={"ZipFile": big})
        assert e.value.message == "Unzipped size must be smaller than 262144000 bytes"
        for bad in ({"/abs.py": "x"}, {"a/../../up.py": "x"}):
            with pytest.raises(AWSError) as e:
                await create(svc, Code={"ZipFile": zip_code(bad)})
            assert e.value.code == "InvalidParameterValueException"
        corrupt = zip_code({"app.py": "x = 1"}).replace(b"x = 1", b"y = 2")  # stored: CRC fails
        clash = zip_code({"a": "file", "a/b": "under a file"})
        for bad in (corrupt, clash):
            with pytest.raises(AWSError) as e:
                await create(svc, Code={"ZipFile": bad})
            assert e.value.code == "InvalidParameterValueException" and e.value.status == 400
        assert await svc.store.code.stored([hashlib.sha256(bad).hexdigest() for bad in (corrupt, clash)]) == set()
        package = zip_code({"app.py": "x = 1", "bin/run": "#!/bin/sh\n"}, modes={"bin/run": 0o755})
        created = await create(svc, Code={"ZipFile": package})
        sha_hex = hashlib.sha256(package).hexdigest()
        assert await svc.store.code.get(sha_hex) == package
        assert not (tmp_path / "lambda" / "code").exists()  # zips live in storage only
        unpacked = tmp_path / "lambda" / "unpacked" / sha_hex
        assert (unpacked / "bin" / "run").stat().st_mode & 0o111
        assert not [
            p for p in (tmp_path / "lambda" / "unpacked").iterdir() if p.name.startswith(".")
        ]
        assert created["CodeSize"] == len(package)
        anyone = make_context(None, "localhost", "http", "r")
        status, kind, body = await svc.http_routes()["/_postroom/lambda/code"](f"sha={sha_hex}", anyone)
        assert (status, body) == (200, package)
        assert (await svc.http_routes()["/_postroom/lambda/code"](f"sha={'0' * 64}", anyone))[0] == 404
        assert (await svc.http_routes()["/_postroom/lambda/code"]("sha=../../etc", anyone))[0] == 400

    run(scenario, data_dir=tmp_path)


def test_in_memory_code_directory_goes_at_stop():
    roots = []

    async def scenario(svc):
        await create(svc)
        roots.append(svc.code.root)
        assert any(svc.code.root.iterdir())

    run(scenario)
    assert not roots[0].exists()
