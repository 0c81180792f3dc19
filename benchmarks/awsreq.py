"""Pre-serialised SQS (JSON 1.0) and SNS (query) requests, plus the few control calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
from httpconn import Connection

AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{svc}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0000"
)
AMZ_DATE = "20260101T000000Z"
BODY_SIZE = 100


class AwsError(RuntimeError):
    """A control call answered with a non-200 status."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status} {error_code(body)}")
        self.status = status
        self.body = body


def error_code(body: bytes) -> str:
    """The error code of a JSON (``__type``) or XML (``<Code>``) error answer."""
    m = re.search(rb'"__type"\s*:\s*"([^"]*)"|<Code>([^<]*)</Code>', body)
    if not m:
        return body[:120].decode(errors="replace")
    return (m.group(1) or m.group(2)).decode(errors="replace").rsplit("#", 1)[-1]


@dataclass(frozen=True)
class Endpoint:
    """Where the server listens."""

    host: str
    port: int

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Parse ``http://host:port``."""
        m = re.fullmatch(r"(?:http://)?([^:/]+):(\d+)/?", url)
        if not m:
            raise ValueError(f"endpoint must look like http://127.0.0.1:4566, not {url!r}")
        return cls(m.group(1), int(m.group(2)))


class Template:
    """Request head for one operation, completed per request by the body length."""

    __slots__ = ("head",)

    def __init__(self, ep: Endpoint, headers: dict[str, str]) -> None:
        lines = ["POST / HTTP/1.1", f"Host: {ep.hostport}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

    def build(self, body: bytes) -> bytes:
        """Return the complete request bytes for ``body``."""
        return b"%s%d\r\n\r\n%s" % (self.head, len(body), body)


def sqs_template(ep: Endpoint, op: str) -> Template:
    """Template for ``AmazonSQS.<op>``."""
    return Template(
        ep,
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{op}",
            "X-Amz-Date": AMZ_DATE,
            "Authorization": AUTH.format(svc="sqs"),
        },
    )


def sns_template(ep: Endpoint) -> Template:
    """Template for an SNS query-protocol (form-encoded) call."""
    return Template(
        ep,
        {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Amz-Date": AMZ_DATE,
            "Authorization": AUTH.format(svc="sns"),
        },
    )


def sqs_raw(ep: Endpoint, op: str, payload: dict) -> bytes:
    """Complete request bytes for one SQS call."""
    return sqs_template(ep, op).build(orjson.dumps(payload))


async def sqs_call(conn: Connection, ep: Endpoint, op: str, payload: dict) -> dict:
    """Run one SQS control call and return its decoded JSON answer."""
    status, body = await conn.request(sqs_raw(ep, op, payload))
    if status != 200:
        raise AwsError(status, body)
    return orjson.loads(body) if body else {}


async def sns_call(conn: Connection, ep: Endpoint, params: dict[str, str]) -> str:
    """Run one SNS query call and return its XML answer as text."""
    params = {**params, "Version": "2010-03-31"}
    status, body = await conn.request(sns_template(ep).build(urlencode(params).encode()))
    if status != 200:
        raise AwsError(status, body)
    return body.decode()


def xml_value(text: str, tag: str) -> str | None:
    """First ``<tag>value</tag>`` in an XML answer."""
    m = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    return m.group(1) if m else None


async def create_queue(
    conn: Connection, ep: Endpoint, name: str, attrs: dict[str, str] | None = None
) -> str:
    """Create a queue and return its URL."""
    payload: dict = {"QueueName": name}
    if attrs:
        payload["Attributes"] = attrs
    return (await sqs_call(conn, ep, "CreateQueue", payload))["QueueUrl"]


async def queue_attributes(conn: Connection, ep: Endpoint, url: str, names: list[str]) -> dict:
    """GetQueueAttributes for ``names``."""
    ans = await sqs_call(conn, ep, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": names})
    return ans.get("Attributes", {})


async def delete_queue(conn: Connection, ep: Endpoint, url: str) -> None:
    """Delete a queue, ignoring failures (cleanup only)."""
    try:
        await sqs_call(conn, ep, "DeleteQueue", {"QueueUrl": url})
    except (AwsError, ConnectionError):
        pass


def fixed_body(size: int = BODY_SIZE) -> str:
    """A constant message body of ``size`` bytes."""
    return ("postroom-benchmark-" * (size // 19 + 1))[:size]


def message_body(msg_id: int, ts: float, size: int = BODY_SIZE) -> bytes:
    """Body carrying a unique id and a send timestamp (perf_counter), padded to ``size``."""
    head = b"%016x:%.6f:" % (msg_id, ts)
    return head + b"x" * (size - len(head))


def parse_body(body: str) -> tuple[int, float]:
    """Inverse of :func:`message_body`."""
    end = body.index(":", 17)
    return int(body[:16], 16), float(body[17:end])


class BatchBuilder:
    """Builds SendMessageBatch bodies of unique, timestamped messages."""

    __slots__ = ("prefix", "entry_heads")

    def __init__(self, queue_url: str, size: int = 10) -> None:
        self.prefix = b'{"QueueUrl":' + orjson.dumps(queue_url) + b',"Entries":['
        self.entry_heads = [b'{"Id":"m%d","MessageBody":"' % i for i in range(size)]

    def build(self, first_id: int, ts: float) -> bytes:
        """Entries carry ids ``first_id .. first_id + size - 1``."""
        parts = [
            head + message_body(first_id + i, ts) + b'"}' for i, head in enumerate(self.entry_heads)
        ]
        return self.prefix + b",".join(parts) + b"]}"


def count_failed(body: bytes) -> int:
    """Number of failed entries in a *Batch answer (cheap when there are none)."""
    if b'"Failed"' not in body:
        return 0
    return len(orjson.loads(body).get("Failed") or [])
