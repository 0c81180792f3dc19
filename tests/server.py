"""Helpers for the conformance suite: run Postroom as a subprocess and build SQS clients."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from postroom.testing import pg

TESTS_DIR = Path(__file__).resolve().parent
CACHE_DIR = TESTS_DIR / ".cache"
OLD_BOTOCORE = "1.29.165"  # last botocore whose SQS model has "protocol": "query"
MODEL_MEMBER = "botocore/data/sqs/2012-11-05/service-2.json"

ACCOUNT = "000000000000"
REGION = "us-east-1"
START_TIMEOUT = 15.0
_READY = re.compile(rb" ready on http://\S+?:(\d+) ")  # the server's log line once it listens

# Query-protocol error codes (botocore 1.29.165 SQS model, "error": {"code": ...}). botocore
# reports these as Error.Code in both protocols (JSON via the x-amzn-query-error header).
QUERY_CODES = {
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}


def query_code(name: str) -> str:
    """Map an SQS error shape name to the code botocore surfaces as Error.Code."""
    return QUERY_CODES.get(name, name)


def unique_name(prefix: str = "t") -> str:
    """A queue name no other test uses (alphanumerics, '-' and '_', <= 80 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get_json(url: str, timeout: float = 5.0) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read())


# POSTROOM_TEST_STORE=postgresql://...: every server keeps its state in a schema of its own
# there; one with a data directory reuses that directory's schema when it restarts.
TEST_STORE = pg.test_store()
SCHEMAS: set[str] = set()  # created by this run's servers: dropped at the session's end


def on_postgres() -> bool:
    return TEST_STORE is not None


class ServerProcess:
    """A Postroom server subprocess on a free port, logging to a file.

    Without ``port`` the server binds port 0 and the port it got is read from its ready
    line, so no other process (a parallel worker, another suite) can take the port between
    choosing it and binding it; a restart reuses that port."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        in_memory: bool = False,
        port: int | None = None,
        log_dir: Path | str | None = None,
        args: list[str] | None = None,
    ):
        self.args = list(args or [])
        # 0: bound by the first start (whose ready line, logged at "info", names it).
        quiet = any(a.startswith("--log-level") for a in self.args)
        self.port = port or (free_port() if quiet else 0)
        self.host = "127.0.0.1"
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="pr-data-"))
        self.in_memory = in_memory
        self.schema: str | None = None  # its schema on POSTROOM_TEST_STORE's database
        log_dir = Path(log_dir) if log_dir else self.data_dir.parent
        self.log_path = log_dir / f"postroom-{uuid.uuid4().hex[:8]}.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        self._log_offset = 0

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "postroom", "serve", "--host", self.host]
        cmd += ["--port", str(self.port)]
        cmd += ["--in-memory"] if self.in_memory else ["--data-dir", str(self.data_dir)]
        if TEST_STORE is not None:
            if self.schema is None:  # in memory: empty at each start, as memory is
                self.schema = pg.fresh_schema(None if self.in_memory else self.data_dir)
                SCHEMAS.add(self.schema)
            cmd += ["--store", pg.store_url(TEST_STORE, self.schema)]
        return cmd + self.args

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_offset = self._log_file.tell()  # a restart appends: only its ready line counts
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(self.data_dir.parent),
        )
        self.wait_ready(timeout)
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def health(self, timeout: float = 2.0) -> dict | None:
        try:
            status, body = http_get_json(self.endpoint + "/health", timeout=timeout)
        except (OSError, ValueError, urllib.error.URLError):
            return None
        return body if status == 200 else None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"postroom exited with code {self.proc.returncode} before becoming ready:\n"
                    f"{' '.join(self.command())}\n{self.log()}"
                )
            if self.port == 0:
                self.port = self._bound_port()
            if self.port != 0 and self.health() is not None:
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"postroom did not answer /health within {timeout} s:\n"
            f"{' '.join(self.command())}\n{self.log()}"
        )

    def _bound_port(self) -> int:
        """The port named by this start's ready line (0 while there is none yet)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                found = _READY.search(f.read())
        except OSError:
            return 0
        return int(found.group(1)) if found else 0

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()
        self._forget_memory()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (kill -9): no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close_log()
        self._forget_memory()

    @contextlib.contextmanager
    def database(self):
        """The (stopped) server's database, for tests that plant or inspect rows: a
        connection taking SQLite-style SQL on either backend; commits on success."""
        if self.schema is None:
            import sqlite3

            conn = sqlite3.connect(self.data_dir / "postroom.sqlite3")
            try:
                with conn:
                    yield conn
            finally:
                conn.close()
            return
        import psycopg

        from postroom.storage.postgres.connection import PgConnection
        from postroom.storage.postgres.store import parse_url

        assert TEST_STORE is not None
        conninfo, _ = parse_url(TEST_STORE)
        with psycopg.connect(**{**conninfo, "options": f"-csearch_path={self.schema}"}) as raw:
            yield PgConnection(raw)

    def drop_schema(self) -> None:
        """Drop the server's schema (it has stopped for good)."""
        schema, self.schema = self.schema, None
        if schema is not None and TEST_STORE is not None:
            SCHEMAS.discard(schema)
            pg.drop_schemas(TEST_STORE, [schema])

    def _forget_memory(self) -> None:
        if self.in_memory:
            self.drop_schema()  # what was in memory is gone once the process is

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


# --------------------------------------------------------------------------- clients


def query_model_dir() -> Path:
    """A data-loader directory holding botocore 1.29.165's query-protocol SQS model.

    Downloaded once with pip into tests/.cache/ and reused afterwards.
    """
    root = CACHE_DIR / f"botocore-{OLD_BOTOCORE}-data"
    target = root / "sqs" / "2012-11-05" / "service-2.json"
    if target.exists():
        return root
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    wheels = list(CACHE_DIR.glob(f"botocore-{OLD_BOTOCORE}-*.whl"))
    if not wheels:
        # Parallel workers may all get here: each downloads into a directory of its own and
        # renames the wheel into place, so nobody reads a half-written one.
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="download-") as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                 f"botocore=={OLD_BOTOCORE}", "-d", tmp],
                check=True,
                timeout=300,
            )
            for wheel in Path(tmp).glob(f"botocore-{OLD_BOTOCORE}-*.whl"):
                os.replace(wheel, CACHE_DIR / wheel.name)
        wheels = list(CACHE_DIR.glob(f"botocore-{OLD_BOTOCORE}-*.whl"))
    model = zipfile.ZipFile(wheels[0]).read(MODEL_MEMBER)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(model)
    tmp.replace(target)
    return root


CLIENT_CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"},
    read_timeout=60,
    connect_timeout=10,
)


def make_client(
    endpoint: str,
    protocol: str = "json",
    *,
    access_key: str = "test",
    region: str = REGION,
):
    """A botocore SQS client speaking AWS JSON 1.0 ("json") or the AWS query protocol."""
    if protocol == "json":
        return boto3.session.Session().client(
            "sqs",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key="test",
            config=CLIENT_CONFIG,
        )
    if protocol == "query":
        session = botocore.session.Session()
        session.get_component("data_loader").search_paths.insert(0, str(query_model_dir()))
        client = session.create_client(
            "sqs",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key="test",
            config=CLIENT_CONFIG,
        )
        assert client.meta.service_model.protocol == "query"
        return client
    raise ValueError(protocol)


def error_code(exc) -> str:
    return exc.response["Error"]["Code"]


def queue_arn(name: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def advance_clock(endpoint: str, seconds: float) -> int:
    """Move a ``--clock manual`` server's time forward; the new time (ms)."""
    request = urllib.request.Request(endpoint + "/_postroom/clock", method="POST",
                                     data=json.dumps({"advance_seconds": seconds}).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["now_ms"]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1):
    """Poll predicate() until it returns a truthy value; return that value (or the last)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


# --------------------------------------------------------------------------- digests


def md5_hex(data: str | bytes) -> str:
    import hashlib

    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def md5_of_message_attributes(attributes: dict) -> str:
    """AWS's digest of message attributes: names sorted; each field length-prefixed
    (4-byte big-endian), then a transport byte (1 string/number, 2 binary) and the value."""
    import hashlib
    import struct

    def field(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    buf = b""
    for name in sorted(attributes):
        attr = attributes[name]
        data_type = attr["DataType"]
        buf += field(name.encode("utf-8")) + field(data_type.encode("utf-8"))
        if "BinaryValue" in attr:
            value = attr["BinaryValue"]
            if isinstance(value, str):
                value = value.encode("utf-8")
            buf += b"\x02" + field(value)
        else:
            buf += b"\x01" + field(attr["StringValue"].encode("utf-8"))
    return hashlib.md5(buf).hexdigest()


def receive_all(sqs, url, expected: int, timeout: float = 10.0, **kwargs) -> list[dict]:
    """Receive until `expected` messages have arrived (or `timeout` seconds pass)."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   **kwargs)
        got += resp.get("Messages", [])
    return got


def signed_request(url: str, access_key: str = "test", secret: str = "test", service: str = "sqs",
                   method: str = "GET", data: bytes | None = None,
                   headers: dict[str, str] | None = None) -> urllib.request.Request:
    """A urllib request signed with SigV4 (botocore's signer), as an SDK would send it."""
    aws = AWSRequest(method=method, url=url, data=data, headers=headers or {})
    SigV4Auth(Credentials(access_key, secret), service, REGION).add_auth(aws)
    return urllib.request.Request(url, data=data, headers=dict(aws.headers.items()), method=method)
