"""Function benchmarks, Postroom side by side with MiniStack's Lambda on this machine.

For a no-op Python handler: warm synchronous invokes/s with p50/p99 at 1 and 16 concurrent
callers, cold start (first invoke after CreateFunction, and after a configuration change),
and asynchronous (``Event``) invokes accepted/s. Requests are pre-built rest-json Invoke
calls on keep-alive connections (benchmarks/httpconn.py), so the client costs little.

    .venv/bin/python benchmarks/lambda_bench.py                      # both servers, 10 s each
    .venv/bin/python benchmarks/lambda_bench.py --servers postroom --duration 5

Prints one JSON line per server and writes results/lambda-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import json
import shutil
import sys
import time
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from httpconn import Connection  # noqa: E402
from servers import WORK, Running, ensure_venv, free_port, installed_version, known_servers  # noqa: E402
from stats import percentile  # noqa: E402

HANDLER = "def handler(event, context):\n    return {}\n"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", HANDLER)
    return buf.getvalue()


def _client(port: int):
    return boto3.client(
        "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def _invoke_request(name: str, invocation_type: str = "RequestResponse") -> bytes:
    body = b"{}"
    return (
        f"POST /2015-03-31/functions/{name}/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Amz-Invocation-Type: {invocation_type}\r\nContent-Type: application/json\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host, Signature=0\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _load(port: int, raw: bytes, connections: int, duration: float, ok: int) -> dict:
    """Send ``raw`` on ``connections`` keep-alive connections for ``duration`` seconds."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        conn = Connection("127.0.0.1", port)
        await conn.connect()
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            status, _ = await conn.request(raw)
            if status == ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return {
        "per_s": round(len(latencies) / elapsed, 1), "ok": len(latencies), "errors": errors,
        "p50_ms": round(p50 * 1000, 2) if p50 is not None else None,
        "p99_ms": round(p99 * 1000, 2) if p99 is not None else None,
    }


def measure(server_name: str, duration: float) -> dict:
    server = known_servers()[server_name]
    log = WORK / "logs" / f"lambda-{server_name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    ensure_venv(server, log)
    data_dir = WORK / f"data-lambda-{server_name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = free_port()
    running = Running(server, port, data_dir, log)
    try:
        running.wait_ready()
        lam = _client(port)
        name = f"noop-{int(time.time())}"
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                            Role="arn:aws:iam::000000000000:role/x", Code={"ZipFile": _zip()})
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
        t0 = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        cold_create = time.perf_counter() - t0
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"RUN": "2"}})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
        t0 = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        cold_update = time.perf_counter() - t0
        raw = _invoke_request(name)
        asyncio.run(_load(port, raw, 16, 2.0, 200))  # warm 16 environments
        out = {
            "server": server_name, "version": installed_version(server),
            "cold_start_ms": round(cold_create * 1000, 1), "cold_after_update_ms": round(cold_update * 1000, 1),
            "sync_1": asyncio.run(_load(port, raw, 1, duration, 200)),
            "sync_16": asyncio.run(_load(port, raw, 16, duration, 200)),
            "async_16": asyncio.run(_load(port, _invoke_request(name, "Event"), 16, duration, 202)),
            "rss_mb": running.memory(),
        }
        return out
    finally:
        running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="postroom,ministack")
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    results = []
    for name in args.servers.split(","):
        result = measure(name, args.duration)
        print(json.dumps(result), flush=True)
        results.append(result)
    out = BENCH / "results" / f"lambda-{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
