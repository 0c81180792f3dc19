"""The servers under test: how to install (peers get their own venvs), start, probe, stop."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
VENVS = WORK / "venvs"
PROJECT_VENV = ROOT / ".venv"

# Versions measured in /work/shared/PEERS.md; bump deliberately, the results record them.
PEER_PACKAGES = {"ministack": ["ministack==1.5.33"], "moto": ["moto[server]==5.2.5"]}


@dataclass
class Server:
    """One server kind: a command template with ``{port}``, ``{data_dir}``, ``{venv}``."""

    name: str
    command: str
    venv: Path
    package: str  # distribution whose version is recorded
    env: dict[str, str] = field(default_factory=dict)
    sqs: bool = True  # False: only the send scenarios make sense (the ceiling)

    def argv(self, port: int, data_dir: Path) -> list[str]:
        """The command line for ``port``."""
        cmd = self.command.format(port=port, data_dir=data_dir, venv=self.venv, bench=BENCH)
        return shlex.split(cmd)

    def environ(self, port: int) -> dict[str, str]:
        """Process environment for ``port``."""
        extra = {k: v.format(port=port) for k, v in self.env.items()}
        return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def known_servers() -> dict[str, Server]:
    """The servers the runner knows by name."""
    py = PROJECT_VENV / "bin" / "python"
    postroom = "{venv}/bin/postroom serve --port {port} --log-level warning"
    return {
        "postroom": Server(
            "postroom",
            postroom + " --data-dir {data_dir}",
            PROJECT_VENV,
            "postroom",
        ),
        "postroom-mem": Server(
            "postroom-mem",
            postroom + " --in-memory",
            PROJECT_VENV,
            "postroom",
        ),
        "ministack": Server(
            "ministack",
            "{venv}/bin/ministack",
            VENVS / "ministack",
            "ministack",
            env={"GATEWAY_PORT": "{port}", "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"},
        ),
        "moto": Server(
            "moto", "{venv}/bin/moto_server -H 127.0.0.1 -p {port}", VENVS / "moto", "moto"
        ),
        "ceiling": Server(
            "ceiling",
            f"{py} {{bench}}/ceiling.py --port {{port}}",
            PROJECT_VENV,
            "uvicorn",
            sqs=False,
        ),
    }


def ensure_venv(server: Server, log: Path) -> None:
    """Create a peer's private virtualenv on first use (never the project's own)."""
    if server.venv == PROJECT_VENV or installed_version(server) is not None:
        return
    packages = PEER_PACKAGES[server.name]
    print(f"[run] creating {server.venv} with {' '.join(packages)}", file=sys.stderr)
    with log.open("a") as out:
        subprocess.run(
            [sys.executable, "-m", "venv", str(server.venv)], check=True, stdout=out, stderr=out
        )
        subprocess.run(
            [str(server.venv / "bin" / "pip"), "install", "-q", *packages],
            check=True,
            stdout=out,
            stderr=out,
        )


def installed_version(server: Server) -> str | None:
    """Version of ``server.package`` in its venv, or None."""
    py = server.venv / "bin" / "python"
    if not py.exists():
        return None
    code = f"import importlib.metadata as m; print(m.version({server.package!r}))"
    proc = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    """True once something HTTP answers a ListQueues call (any status below 500)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request(
            "POST",
            "/",
            body=b"{}",
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "AmazonSQS.ListQueues",
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"
                "sqs/aws4_request, SignedHeaders=host, Signature=0000",
            },
        )
        status = conn.getresponse().status
        conn.close()
        return status < 500
    except (OSError, http.client.HTTPException):
        return False


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> dict[str, float]:
    """Current RSS and peak RSS (VmHWM) of the process tree, MB."""
    pids = tree_pids(pid)
    return {
        "rss_mb": round(sum(_status_kb(p, "VmRSS") for p in pids) / 1024, 1),
        "peak_mb": round(sum(_status_kb(p, "VmHWM") for p in pids) / 1024, 1),
    }


class Running:
    """A started server process (its own session, so its whole group can be stopped)."""

    def __init__(self, server: Server, port: int, data_dir: Path, log: Path) -> None:
        self.server, self.port, self.log = server, port, log
        self.argv = server.argv(port, data_dir)
        self.started = time.perf_counter()
        self.log_file = log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=server.environ(port),
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(WORK),
        )

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from start until the server answers; raise RuntimeError otherwise."""
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.server.name} exited with {self.proc.returncode}; see {self.log}"
                )
            if answers(self.port):
                return round(time.perf_counter() - self.started, 3)
            time.sleep(0.05)
        raise RuntimeError(f"{self.server.name} did not answer within {timeout}s; see {self.log}")

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.proc.poll() is None

    def memory(self) -> dict[str, float]:
        """RSS of the server and its children."""
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.log_file.close()
