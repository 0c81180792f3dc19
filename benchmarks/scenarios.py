"""The per-process workers of each scenario (the timed part of a run)."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Coroutine
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
from fastsend import run_fixed
from httpconn import Connection
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
    rate: float = 0.0  # roundtrip/fanout: total messages/s offered by all producers (0: max)
    max_backlog: int = 0  # roundtrip/fanout: producers pause while more are unreceived (0: off)
    eps: tuple[Endpoint, ...] = ()  # several nodes: connection k talks to eps[k % len(eps)]

    @property
    def t_start(self) -> float:
        return self.t0 + self.warmup

    @property
    def t_end(self) -> float:
        return self.t0 + self.warmup + self.duration

    def mine(self, n: int) -> list[int]:
        """Global indices (of ``n``) handled by this process."""
        return list(range(self.proc, n, self.nprocs))

    def ep_at(self, k: int) -> Endpoint:
        """The node of connection ``k`` (producers first, then consumers): round-robin."""
        return self.eps[k % len(self.eps)] if self.eps else self.ep


async def _connect(ctx: Ctx, ks: list[int]) -> list[Connection]:
    """One connection per global connection index in ``ks``, each to its own node."""
    conns = [Connection(ctx.ep_at(k).host, ctx.ep_at(k).port) for k in ks]
    await asyncio.gather(*(c.connect() for c in conns))
    return conns


async def _until(t: float) -> None:
    delay = t - perf()
    if delay > 0:
        await asyncio.sleep(delay)


async def _backoff() -> None:
    await asyncio.sleep(0.01)


class Pacer:
    """Spaces one producer's requests so that all producers together offer ``ctx.rate``."""

    __slots__ = ("interval", "next")

    def __init__(self, ctx: Ctx, per_request: int, index: int) -> None:
        self.interval = per_request * ctx.producers / ctx.rate if ctx.rate > 0 else 0.0
        self.next = ctx.t0 + self.interval * index / max(ctx.producers, 1)

    async def wait(self, ctx: Ctx, board: Board) -> None:
        """Sleep until this producer's next slot (no catch-up bursts when behind) and while
        the backlog (confirmed sent, not yet received) is above ``ctx.max_backlog``."""
        if ctx.max_backlog:
            while board.total("sent") - board.total("recv") > ctx.max_backlog:
                if perf() >= ctx.t_end:
                    return
                await asyncio.sleep(0.001)
        if self.interval:
            now = perf()
            if self.next > now:
                await asyncio.sleep(self.next - now)
            self.next = max(self.next, now) + self.interval


async def batch_producer(
    conn: Connection, ctx: Ctx, res: dict[str, Any], index: int, board: Board
) -> None:
    """Send batches of 10 unique timestamped messages until the window closes."""
    tmpl = sqs_template(ctx.ep_at(index), "SendMessageBatch")
    builder = BatchBuilder(ctx.queue_urls[0])
    next_id = index << ID_SHIFT
    t_start, t_end = ctx.t_start, ctx.t_end
    sent_ids = res["sent_ids"]
    pacer = Pacer(ctx, 10, index)
    await _until(ctx.t0)
    while True:
        await pacer.wait(ctx, board)
        t = perf()
        if t >= t_end:
            return
        first, next_id = next_id, next_id + 10
        try:
            status, body = await conn.request(tmpl.build(builder.build(first, t)))
        except OSError:  # HttpError, refused, reset
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
    conn: Connection,
    ctx: Ctx,
    res: dict[str, Any],
    board: Board,
    url: str,
    tag: int = -1,
    ep: Endpoint | None = None,
) -> None:
    """Receive up to 10 and delete them in a batch, forever (the caller cancels it).

    ``tag`` >= 0 records ids as ``id * 16 + tag`` (fan-out: one key per queue); ``ep`` is
    the node ``conn`` talks to (default ``ctx.ep``)."""
    ep = ep or ctx.ep
    recv_raw = sqs_raw(
        ep,
        "ReceiveMessage",
        {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": ctx.wait},
    )
    del_tmpl = sqs_template(ep, "DeleteMessageBatch")
    del_prefix = b'{"QueueUrl":' + orjson.dumps(url) + b',"Entries":'
    t_start = ctx.t_start
    t_end = ctx.t_end if ctx.duration else float("inf")  # drain: no window, all counts
    recv_ids, e2e, lat = res["recv_ids"], res["e2e"], res["rlat"]
    await _until(ctx.t0)
    while True:
        t = perf()
        try:
            status, body = await conn.request(recv_raw)
        except OSError:  # HttpError, refused, reset
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
        except OSError:  # HttpError, refused, reset
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
    tmpl = sns_template(ctx.ep_at(index))
    prefix = (
        "Action=Publish&Version=2010-03-31&TopicArn=" + quote(ctx.topic_arn, safe="") + "&Message="
    ).encode()
    next_id = index << ID_SHIFT
    t_start, t_end = ctx.t_start, ctx.t_end
    pacer = Pacer(ctx, 1, index)
    await _until(ctx.t0)
    while True:
        await pacer.wait(ctx, board)
        t = perf()
        if t >= t_end:
            return
        mid, next_id = next_id, next_id + 1
        body = prefix + message_body(mid, t).replace(b":", b"%3A")
        try:
            status, _ = await conn.request(tmpl.build(body))
        except OSError:  # HttpError, refused, reset
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


def _producers(
    ctx: Ctx, res: dict[str, Any], board: Board, conns: list[Connection]
) -> list[Coroutine[Any, Any, None]]:
    idx = ctx.mine(ctx.producers)
    url = ctx.queue_urls[0] if ctx.queue_urls else ""
    body = fixed_body()
    window = (ctx.t0, ctx.t_start, ctx.t_end)
    if ctx.scenario in ("send", "send-batch"):
        op, per, payload = "SendMessage", 1, {"QueueUrl": url, "MessageBody": body}
        if ctx.scenario == "send-batch":
            entries = [{"Id": f"m{i}", "MessageBody": body} for i in range(10)]
            op, per, payload = "SendMessageBatch", 10, {"QueueUrl": url, "Entries": entries}
        eps = [ctx.ep_at(i) for i in idx]
        return [
            run_fixed(ep.host, ep.port, sqs_raw(ep, op, payload), per, window, res) for ep in eps
        ]
    if ctx.scenario == "roundtrip":
        return [batch_producer(c, ctx, res, i, board) for c, i in zip(conns, idx, strict=True)]
    if ctx.scenario == "fanout":
        fan = len(ctx.queue_urls)
        return [publisher(c, ctx, res, i, board, fan) for c, i in zip(conns, idx, strict=True)]
    return []


async def run_worker(ctx: Ctx, board: Board) -> dict[str, Any]:
    """Run this process's share of the scenario and return its raw result."""
    res = new_result()
    prod_idx, cons_idx = ctx.mine(ctx.producers), ctx.mine(ctx.consumers)
    fixed = ctx.scenario in ("send", "send-batch")  # callback-driven, own connections
    pconns = await _connect(ctx, [] if fixed else prod_idx)
    cconns = await _connect(ctx, [ctx.producers + i for i in cons_idx])
    # start everything now (fixed senders connect); all of it waits for t0 itself
    prods = [asyncio.ensure_future(p) for p in _producers(ctx, res, board, pconns)]
    cons = [
        asyncio.ensure_future(
            consumer(c, ctx, res, board, ctx.queue_urls[q], tag, ctx.ep_at(ctx.producers + i))
        )
        for c, i in zip(cconns, cons_idx, strict=True)
        for q in [i % len(ctx.queue_urls)]
        for tag in [q if ctx.scenario == "fanout" else -1]
    ]
    await _until(ctx.t0)
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), perf()
    if prods:  # a request the server never answers must not hang the run
        _, pending = await asyncio.wait(prods, timeout=ctx.t_end + 30 - perf())
        for t in pending:
            t.cancel()
            res["errors"] += 1
        await asyncio.gather(*pending, return_exceptions=True)
        res["stuck"] = len(pending)
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
