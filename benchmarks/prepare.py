"""Untimed setup of a run: queues, the pre-fill of the drain scenario, the SNS topic."""

from __future__ import annotations

import asyncio
import os
import time
from array import array

from awsreq import (
    AwsError,
    BatchBuilder,
    Endpoint,
    count_failed,
    create_queue,
    delete_queue,
    queue_attributes,
    sns_call,
    sqs_template,
    xml_value,
)
from httpconn import Connection


class FillTooSlow(RuntimeError):
    """The server cannot be filled to the requested depth within the time allowed."""


class NoSns(RuntimeError):
    """The server does not answer SNS calls."""


def queue_name(scenario: str, index: int = 0) -> str:
    """A fresh queue name for this run."""
    return f"bench-{scenario}-{os.getpid()}-{int(time.time() * 1000) % 10**9}-{index}"


async def make_queues(ep: Endpoint, scenario: str, count: int, visibility: int) -> list[str]:
    """Create ``count`` fresh queues and return their URLs."""
    conn = Connection(ep.host, ep.port)
    try:
        return [
            await create_queue(
                conn, ep, queue_name(scenario, i), {"VisibilityTimeout": str(visibility)}
            )
            for i in range(count)
        ]
    finally:
        conn.close()


async def remove_queues(ep: Endpoint, urls: list[str]) -> None:
    """Delete queues (cleanup; failures ignored)."""
    conn = Connection(ep.host, ep.port)
    try:
        for url in urls:
            await delete_queue(conn, ep, url)
    except ConnectionError:
        pass
    finally:
        conn.close()


async def fill(
    ep: Endpoint, url: str, depth: int, connections: int, timeout: float
) -> tuple[array, float, int]:
    """SendMessageBatch ids ``0..depth-1`` as fast as possible.

    Returns (confirmed ids, seconds taken, errors); raises FillTooSlow when the rate seen
    after a few seconds says the fill would take longer than ``timeout``."""
    tmpl = sqs_template(ep, "SendMessageBatch")
    builders: dict[int, BatchBuilder] = {}
    ids = array("q")
    state = {"next": 0, "errors": 0}
    start = time.perf_counter()

    async def worker() -> None:
        conn = Connection(ep.host, ep.port)
        try:
            while True:
                first = state["next"]
                if first >= depth:
                    return
                n = min(10, depth - first)
                state["next"] = first + n
                b = builders.get(n) or builders.setdefault(n, BatchBuilder(url, n))
                try:
                    status, body = await conn.request(tmpl.build(b.build(first, 0.0)))
                except OSError:  # HttpError, refused, reset
                    state["errors"] += n
                    continue
                if status != 200 or count_failed(body):
                    # a batch with any failure counts whole as unconfirmed
                    state["errors"] += n
                    continue
                ids.extend(range(first, first + n))
                elapsed = time.perf_counter() - start
                if elapsed > 3 and len(ids) and depth / len(ids) * elapsed > timeout:
                    raise FillTooSlow(
                        f"filling {depth} would take ~{depth / len(ids) * elapsed:.0f}s "
                        f"(> {timeout:.0f}s)"
                    )
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return ids, time.perf_counter() - start, state["errors"]


async def depth_of(ep: Endpoint, url: str) -> int | None:
    """ApproximateNumberOfMessages, or None if the server does not say."""
    conn = Connection(ep.host, ep.port)
    try:
        attrs = await queue_attributes(conn, ep, url, ["ApproximateNumberOfMessages"])
        return int(attrs["ApproximateNumberOfMessages"])
    except (AwsError, ConnectionError, KeyError, ValueError):
        return None
    finally:
        conn.close()


async def make_fanout(ep: Endpoint, fan: int, visibility: int) -> tuple[str, list[str]]:
    """Create a topic with ``fan`` raw-delivery SQS subscriptions; raise NoSns."""
    conn = Connection(ep.host, ep.port)
    try:
        try:
            ans = await sns_call(conn, ep, {"Action": "CreateTopic", "Name": queue_name("topic")})
        except (AwsError, ConnectionError) as exc:
            raise NoSns(f"CreateTopic answered {exc}") from exc
        arn = xml_value(ans, "TopicArn")
        if not arn:
            raise NoSns(f"CreateTopic answered without a TopicArn: {ans[:200]}")
        urls = await make_queues(ep, "fanout", fan, visibility)
        for url in urls:
            attrs = await queue_attributes(conn, ep, url, ["QueueArn"])
            sub = await sns_call(
                conn,
                ep,
                {
                    "Action": "Subscribe",
                    "TopicArn": arn,
                    "Protocol": "sqs",
                    "Endpoint": attrs["QueueArn"],
                },
            )
            sub_arn = xml_value(sub, "SubscriptionArn")
            await sns_call(
                conn,
                ep,
                {
                    "Action": "SetSubscriptionAttributes",
                    "SubscriptionArn": sub_arn or "",
                    "AttributeName": "RawMessageDelivery",
                    "AttributeValue": "true",
                },
            )
        return arn, urls
    finally:
        conn.close()


async def remove_topic(ep: Endpoint, arn: str) -> None:
    """Delete a topic (cleanup; failures ignored)."""
    conn = Connection(ep.host, ep.port)
    try:
        await sns_call(conn, ep, {"Action": "DeleteTopic", "TopicArn": arn})
    except (AwsError, ConnectionError):
        pass
    finally:
        conn.close()
