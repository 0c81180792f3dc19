"""Trigger benchmarks: an SQS queue feeding a no-op Python function through an event source
mapping, Postroom side by side with MiniStack's mapping on this machine.

Throughput: ``--messages`` messages are queued first, then the mapping is created; the rate
is messages over the time until the queue is empty (the cold start included), for batch
size 10 and batch size 1. Latency: with batch size 1 and no batching window, one message
every 10 ms; the handler writes ``now - SentTimestamp`` to a file (functions run as local
processes), so the figure is send-to-handler-start, p50/p99 after the first 20.

    .venv/bin/python benchmarks/triggers_bench.py                      # both servers
    .venv/bin/python benchmarks/triggers_bench.py --servers postroom --messages 20000

Prints one JSON line per server and writes results/triggers-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from servers import WORK, Running, ensure_venv, free_port, installed_version, known_servers  # noqa: E402
from stats import percentile  # noqa: E402

NOOP = "def handler(event, context):\n    return {}\n"
LATENCY = """
import os, time
def handler(event, context):
    now = time.time() * 1000
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(f"{now - int(record['attributes']['SentTimestamp'])}\\n")
"""
SENDERS = 8
LATENCY_MESSAGES = 320
LATENCY_WARMUP = 20
TIMEOUT_S = 300


def _zip(code: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", code)
    return buf.getvalue()


def _client(port: int, service: str):
    return boto3.client(
        service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 2}, read_timeout=120),
    )


class Setup:
    def __init__(self, port: int) -> None:
        self.port = port
        self.lam, self.sqs = _client(port, "lambda"), _client(port, "sqs")

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def function(self, name: str, code: str, env: dict[str, str] | None = None) -> str:
        self.lam.create_function(
            FunctionName=name, Runtime="python3.12", Handler="app.handler",
            Role="arn:aws:iam::000000000000:role/x", Code={"ZipFile": _zip(code)},
            Environment={"Variables": env or {}},
        )
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
        return name

    def fill(self, url: str, count: int) -> None:
        def send(n: int) -> None:
            sqs = _client(self.port, "sqs")
            for _ in range(n // 10):
                sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "MessageBody": "x" * 64} for i in range(10)])

        threads = [threading.Thread(target=send, args=(count // SENDERS,)) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def empty(self, url: str) -> bool:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def throughput(setup: Setup, batch: int, messages: int) -> dict:
    tag = f"b{batch}-{int(time.time())}"
    url, arn = setup.queue(f"bench-{tag}")
    setup.fill(url, messages)
    name = setup.function(f"noop-{tag}", NOOP)
    started = time.perf_counter()
    setup.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=batch)
    while not setup.empty(url):
        if time.perf_counter() - started > TIMEOUT_S:
            return {"per_s": None, "error": "timed out"}
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return {"per_s": round(messages / elapsed, 1), "messages": messages, "seconds": round(elapsed, 2)}


def latency(setup: Setup) -> dict:
    tag = f"lat-{int(time.time())}"
    out = Path(tempfile.mkdtemp(prefix="triggers-")) / "latency.txt"
    out.touch()
    url, arn = setup.queue(f"bench-{tag}")
    name = setup.function(f"latency-{tag}", LATENCY, {"OUT": str(out)})
    setup.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    time.sleep(2)  # the mapping is polling
    for i in range(LATENCY_MESSAGES):
        setup.sqs.send_message(QueueUrl=url, MessageBody=str(i))
        time.sleep(0.01)
    deadline = time.monotonic() + 30
    values: list[float] = []
    while time.monotonic() < deadline:
        values = [float(v) for v in out.read_text().split()]
        if len(values) >= LATENCY_MESSAGES:
            break
        time.sleep(0.1)
    shutil.rmtree(out.parent, ignore_errors=True)
    measured = sorted(values[LATENCY_WARMUP:])
    p50, p99 = percentile(measured, 50), percentile(measured, 99)
    return {
        "received": len(values), "p50_ms": round(p50, 2) if p50 is not None else None,
        "p99_ms": round(p99, 2) if p99 is not None else None,
    }


def measure(server_name: str, messages: int) -> dict:
    server = known_servers()[server_name]
    log = WORK / "logs" / f"triggers-{server_name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    ensure_venv(server, log)
    data_dir = WORK / f"data-triggers-{server_name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = free_port()
    running = Running(server, port, data_dir, log)
    try:
        running.wait_ready()
        setup = Setup(port)
        return {
            "server": server_name, "version": installed_version(server),
            "batch_10": throughput(setup, 10, messages),
            "batch_1": throughput(setup, 1, max(messages // 5, 10)),
            "send_to_handler": latency(setup),
            "rss_mb": running.memory(),
        }
    finally:
        running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="postroom,ministack")
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    results = []
    for name in args.servers.split(","):
        result = measure(name, args.messages)
        print(json.dumps(result), flush=True)
        results.append(result)
    out = BENCH / "results" / f"triggers-{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
