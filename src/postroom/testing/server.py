"""A throwaway Postroom server in a subprocess, driven from tests.

The server runs in memory on a port the system picks, usually with the manual clock, so a
test moves time forward (``advance``) instead of sleeping through visibility timeouts,
retention periods and retry waits.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from postroom.testing import pg

_READY = re.compile(rb"ready on (http://\S+?:\d+) ")
START_TIMEOUT_S = 30.0


class PostroomError(RuntimeError):
    """The server could not be started or refused a control request."""


class PostroomServer:
    """``python -m postroom serve --in-memory --port 0 --clock manual`` and its controls.

    With ``POSTROOM_TEST_STORE=postgresql://...`` in the environment, the server keeps its
    state in a fresh schema of that database instead of memory (dropped when it stops)."""

    def __init__(self, *, clock: str = "manual", args: list[str] | None = None,
                 log_dir: str | os.PathLike[str] | None = None) -> None:
        self.clock = clock
        self.args = list(args or [])
        self._log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="postroom-test-"))
        self.log_path = self._log_dir / "postroom.log"
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._session: Any = None  # boto3's, made on first use
        self._schema: str | None = None  # on POSTROOM_TEST_STORE's database, while running

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_S) -> PostroomServer:
        """Start the server and wait until it answers; ``url`` is then its endpoint."""
        command = [sys.executable, "-m", "postroom", "serve", "--in-memory", "--host", "127.0.0.1",
                   "--port", "0", "--clock", self.clock, "--log-level", "info", *self.args]
        base = pg.test_store()
        if base is not None:
            self._schema = pg.fresh_schema()
            command += ["--store", pg.store_url(base, self._schema)]
        with open(self.log_path, "ab") as log:
            offset = log.tell()  # a reused log directory: only this run's ready line counts
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self._log_dir, env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        deadline = time.monotonic() + timeout  # real time: this process waits for another
        while time.monotonic() < deadline:
            found = _READY.search(self.log_path.read_bytes(), offset)
            if found:
                self.url = found.group(1).decode()
                return self
            if self._proc.poll() is not None:
                raise PostroomError(f"postroom exited with code {self._proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise PostroomError(f"postroom was not ready within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        schema, self._schema = self._schema, None
        base = pg.test_store()
        if schema is not None and base is not None:
            pg.drop_schemas(base, [schema])

    def __enter__(self) -> PostroomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        """The server's log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- what tests call -------------------------------------------------------------------

    def client(self, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        """A boto3 client for ``service`` ("sqs", "sns", "lambda", ...) pointed at this server.

        Clients are made from one boto3 session, so each service model is loaded once."""
        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        options: dict[str, Any] = {
            "endpoint_url": self.url, "region_name": region,
            "aws_access_key_id": "test", "aws_secret_access_key": "test",
        }
        options.update(kwargs)
        return self._session.client(service, **options)

    def advance(self, seconds: float) -> int:
        """Move the engine's clock forward; timers due on the way fire. The new time (ms)."""
        return int(self._control("/_postroom/clock", {"advance_seconds": seconds})["now_ms"])

    def set_time(self, now_ms: int) -> int:
        """Move the engine's clock forward to ``now_ms`` (milliseconds since the epoch)."""
        return int(self._control("/_postroom/clock", {"now_ms": now_ms})["now_ms"])

    def now_ms(self) -> int:
        """The engine's time (ms since the epoch)."""
        return int(self._control("/_postroom/clock")["now_ms"])

    def reset(self) -> None:
        """Delete everything: queues, topics, functions, log groups, IAM entities..."""
        self._control("/_postroom/reset", {})

    def _control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise PostroomError(f"{path}: {exc.code} {exc.read().decode(errors='replace')}") from None
