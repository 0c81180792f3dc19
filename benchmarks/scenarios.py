"""The per-process workers of each scenario (the timed part of a run)."""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from awsreq import (
    BatchBuilder,
    Endpoint,
    count_failed,
    fixed_body,
    message_body,
    parse_body,
    sns_template,
    sqs_raw,
    sqs_template,
)
from httpconn import Connection, HttpError
from stats import Board, new_result

perf = time.perf_counter  # CLOCK_MONOTONIC on Linux: comparable across processes
ID_SHIFT = 36  # message id = (producer index << ID_SHIFT) | sequence


@dataclass
class Ctx:
    """Everything a worker process needs (picklable)."""

    scenario: str
    ep: Endpoint
    t0: float  # perf_counter time at which the run starts, shared by all processes
    warmup: float
    duration: float
    producers: int
    consumers: int
    proc: int = 0
    nprocs: int = 1
    queue_urls: list[str] = field(default_factory=list)
    topic_arn: str = ""
    wait: int = 1
    depth: int = 0  # messages to drain (drain scenario)
    drain_timeout: float = 60.0
    idle: float = 5.0

    @property
    def t_start(self) -> float:
        return self.t0 + self.warmup

    @property
    def t_end(self) -> float:
        return self.t0 + self.warmup + self.duration

    def mine(self, n: int) -> list[int]:
        """Global indices (of ``n``) handled by this process."""
        return list(range(self.proc, n, self.nprocs))


async def _connect(ctx: Ctx, n: int) -> list[Connection]:
    conns = [Connection(ctx.ep.host, ctx.ep.port) for _ in range(n)]
    await asyncio.gather(*(c.connect() for c in conns))
    return conns


async def _until(t: float) -> None:
    delay = t - perf()
    if delay > 0:
        await asyncio.sleep(delay)


async def _backoff() -> None:
    await asyncio.sleep(0.01)


async def fixed_sender(
    conn: Connection, raw: bytes, per_req: int, ctx: Ctx, res: dict[str, Any]
) -> None:
    """Send the same pre-built request until the window closes."""
    t_start, t_end = ctx.t_start, ctx.t_end
    lat = res["lat"]
    await _until(ctx.t0)
    while True:
        t = perf()
        if t >= t_end:
            return
        try:
            status, body = await conn.request(raw)
        except HttpError:
            if t >= t_start:
                res["errors"] += 1
            await _backoff()
            continue
        if t < t_start:
            continue
        lat.append((perf() - t) * 1000.0)
        if status == 200:
            failed = count_failed(body) if per_req > 1 else 0
            res["ops"] += 1
            res["msgs"] += per_req - failed
            res["errors"] += failed
        else:
            res["errors"] += 1


async def batch_producer(
    conn: Connection, ctx: Ctx, res: dict[str, Any], index: int, board: Board
) -> None:
    """Send batches of 10 unique timestamped messages until the window closes."""
    tmpl = sqs_template(ctx.ep, "SendMessageBatch")
    builder = BatchBuilder(ctx.queue_urls[0])
    next_id = index << ID_SHIFT
    t_start, t_end = ctx.t_start, ctx.t_end
    sent_ids = res["sent_ids"]
    await _until(ctx.t0)
    while True:
        t = perf()
        if t >= t_end:
            return
        first, next_id = next_id, next_id + 10
        try:
            status, body = await conn.request(tmpl.build(builder.build(first, t)))
        except HttpError:
            res["errors"] += 1
            await _backoff()
            continue
        if t >= t_start:
            res["lat"].append((perf() - t) * 1000.0)
        if status != 200:
            res["errors"] += 1
            continue
        ok = _confirmed(body, first, 10)
        res["errors"] += 10 - len(ok)
        sent_ids.extend(ok)
        board.add(ctx.proc, "sent", len(ok))


def _confirmed(body: bytes, first: int, n: int) -> list[int]:
    """Ids of a SendMessageBatch that the answer lists as successful."""
    if b'"Failed"' in body:
        failed = orjson.loads(body).get("Failed") or []
        bad = {int(f["Id"][1:]) for f in failed}
        return [first + i for i in range(n) if i not in bad]
    return list(range(first, first + n))


async def consumer(
    conn: Connection, ctx: Ctx, res: dict[str, Any], board: Board, url: str, tag: int = -1
) -> None:
    """Receive up to 10 and delete them in a batch, forever (the caller cancels it).

    ``tag`` >= 0 records ids as ``id * 16 + tag`` (fan-out: one key per queue)."""
    recv_raw = sqs_raw(
        ctx.ep,
        "ReceiveMessage",
        {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": ctx.wait},
    )
    del_tmpl = sqs_template(ctx.ep, "DeleteMessageBatch")
    del_prefix = b'{"QueueUrl":' + orjson.dumps(url) + b',"Entries":'
    t_start = ctx.t_start
    t_end = ctx.t_end if ctx.duration else float("inf")  # drain: no window, all counts
    recv_ids, e2e, lat = res["recv_ids"], res["e2e"], res["rlat"]
    await _until(ctx.t0)
    while True:
        t = perf()
        try:
            status, body = await conn.request(recv_raw)
        except HttpError:
            res["errors"] += 1
            await _backoff()
            continue
        t2 = perf()
        if status != 200:
            res["errors"] += 1
            await _backoff()
            continue
        msgs = orjson.loads(body).get("Messages")
        if not msgs:
            continue
        in_window = t_start <= t2 < t_end
        if in_window:
            lat.append((t2 - t) * 1000.0)
        entries = []
        for i, m in enumerate(msgs):
            mid, ts = parse_body(m["Body"])
            recv_ids.append(mid if tag < 0 else mid * 16 + tag)
            if in_window:
                e2e.append((t2 - ts) * 1000.0)
            entries.append({"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]})
        board.add(ctx.proc, "recv", len(msgs))
        res["recv_total"] += len(msgs)
        try:
            status, body = await conn.request(
                del_tmpl.build(del_prefix + orjson.dumps(entries) + b"}")
            )
        except HttpError:
            res["errors"] += len(msgs)
            continue
        t3 = perf()
        failed = count_failed(body) if status == 200 else len(msgs)
        res["errors"] += failed
        if t_start <= t3 < t_end:
            res["msgs"] += len(msgs) - failed
        res["last_recv"] = t3
        board.set(ctx.proc, "last_recv", t3)


async def publisher(
    conn: Connection, ctx: Ctx, res: dict[str, Any], index: int, board: Board, fan: int
) -> None:
    """SNS Publish one unique timestamped message per request until the window closes."""
    tmpl = sns_template(ctx.ep)
    prefix = (
        "Action=Publish&Version=2010-03-31&TopicArn=" + quote(ctx.topic_arn, safe="") + "&Message="
    ).encode()
    next_id = index << ID_SHIFT
    t_start, t_end = ctx.t_start, ctx.t_end
    await _until(ctx.t0)
    while True:
        t = perf()
        if t >= t_end:
            return
        mid, next_id = next_id, next_id + 1
        body = prefix + message_body(mid, t).replace(b":", b"%3A")
        try:
            status, _ = await conn.request(tmpl.build(body))
        except HttpError:
            res["errors"] += 1
            await _backoff()
            continue
        if t >= t_start:
            res["lat"].append((perf() - t) * 1000.0)
            res["ops"] += 1 if status == 200 else 0
        if status != 200:
            res["errors"] += 1
            continue
        res["sent_ids"].extend(mid * 16 + q for q in range(fan))
        board.add(ctx.proc, "sent", fan)


async def _watch(ctx: Ctx, board: Board, res: dict[str, Any], target: float | None) -> None:
    """Return once every message is accounted for, the queue went idle, or time is up."""
    hard = ctx.t_end + ctx.drain_timeout
    while True:
        await asyncio.sleep(0.05)
        now = perf()
        producers_done = board.total("prod_done") >= ctx.nprocs
        if not producers_done:
            continue
        goal = board.total("sent") if target is None else target
        if board.total("recv") >= goal:
            return
        last = max(board.latest("last_recv"), ctx.t_end if target is None else ctx.t0)
        if now - last > ctx.idle:
            res["idle_stop"] = 1
            return
        if now > hard:
            res["timed_out"] = 1
            return


async def run_worker(ctx: Ctx, board: Board) -> dict[str, Any]:
    """Run this process's share of the scenario and return its raw result."""
    res = new_result()
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), perf()
    prod_idx, cons_idx = ctx.mine(ctx.producers), ctx.mine(ctx.consumers)
    pconns = await _connect(ctx, len(prod_idx))
    cconns = await _connect(ctx, len(cons_idx))
    url = ctx.queue_urls[0] if ctx.queue_urls else ""
    body = fixed_body()
    if ctx.scenario == "send":
        raw = sqs_raw(ctx.ep, "SendMessage", {"QueueUrl": url, "MessageBody": body})
        prods = [fixed_sender(c, raw, 1, ctx, res) for c in pconns]
    elif ctx.scenario == "send-batch":
        entries = [{"Id": f"m{i}", "MessageBody": body} for i in range(10)]
        raw = sqs_raw(ctx.ep, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
        prods = [fixed_sender(c, raw, 10, ctx, res) for c in pconns]
    elif ctx.scenario == "roundtrip":
        prods = [batch_producer(c, ctx, res, i, board) for c, i in zip(pconns, prod_idx)]
    elif ctx.scenario == "fanout":
        fan = len(ctx.queue_urls)
        prods = [publisher(c, ctx, res, i, board, fan) for c, i in zip(pconns, prod_idx)]
    elif ctx.scenario == "drain":
        prods = []
    else:
        raise ValueError(ctx.scenario)
    cons = []
    if ctx.scenario in ("roundtrip", "drain", "fanout"):
        for c, i in zip(cconns, cons_idx):
            q = i % len(ctx.queue_urls)
            tag = q if ctx.scenario == "fanout" else -1
            cons.append(asyncio.ensure_future(consumer(c, ctx, res, board, ctx.queue_urls[q], tag)))
    await asyncio.gather(*prods)
    board.set(ctx.proc, "prod_done", 1)
    if cons:
        await _watch(ctx, board, res, ctx.depth if ctx.scenario == "drain" else None)
        for t in cons:
            t.cancel()
        await asyncio.gather(*cons, return_exceptions=True)
    for c in pconns + cconns:
        c.close()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    res["cpu"] = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    res["wall"] = perf() - wall0
    return res
