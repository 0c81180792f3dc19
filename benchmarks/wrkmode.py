"""Single SendMessage measured by wrk (a C load generator), for a client-cost-free check."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import orjson
from awsreq import AMZ_DATE, AUTH, Endpoint, fixed_body

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def lua_script(queue_url: str) -> str:
    """wrk script POSTing one pre-serialised SendMessage."""
    body = orjson.dumps({"QueueUrl": queue_url, "MessageBody": fixed_body()}).decode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.SendMessage",
        "X-Amz-Date": AMZ_DATE,
        "Authorization": AUTH.format(svc="sqs"),
    }
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    lines += [f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not m:
        raise ValueError(f"unexpected wrk time {value!r}")
    return round(float(m.group(1)) * UNITS_MS[m.group(2)], 3)


def parse_output(text: str) -> dict[str, Any]:
    """Throughput, p50/p99 and error counts from ``wrk --latency`` output."""
    out: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["throughput"] = float(m.group(1)) if m else None
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        out[key] = _ms(m.group(1)) if m else None
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    out["errors"] = errors
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    return out


def run_wrk(args: argparse.Namespace) -> dict[str, Any]:
    """Create a queue, run wrk against it, return the scenario's JSON line."""
    import prepare
    from loadgen import arun

    line: dict[str, Any] = {
        "scenario": "wrk",
        "server": args.server,
        "connections": args.connections,
        "procs": args.wrk_threads,
    }
    wrk = shutil.which("wrk")
    if not wrk:
        return {**line, "skipped": "wrk not installed (apt-get install -y wrk)"}
    ep = Endpoint.parse(args.endpoint)
    urls = arun(prepare.make_queues(ep, "wrk", 1, args.visibility))
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(lua_script(urls[0]))
        cmd = [
            wrk,
            f"-t{min(args.wrk_threads, args.connections)}",
            f"-c{args.connections}",
            f"-d{max(1, round(args.duration))}s",
            "--latency",
            "-s",
            f.name,
            f"http://{ep.hostport}/",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
        Path(f.name).unlink(missing_ok=True)
        if proc.returncode != 0:
            return {**line, "skipped": f"wrk failed: {proc.stderr.strip()[:200]}"}
        parsed = parse_output(proc.stdout)
    finally:
        if not args.keep:
            arun(prepare.remove_queues(ep, urls))
    return {
        **line,
        "duration": max(1, round(args.duration)),
        "throughput": parsed["throughput"],
        "unit": "req/s",
        "p50_ms": parsed["p50_ms"],
        "p99_ms": parsed["p99_ms"],
        "latency": "request",
        "errors": parsed["errors"],
        "lost": None,
        "duplicated": None,
        "requests": parsed.get("requests"),
    }
