"""Issue 11, defects 6 and 7: connection timeouts, bounded request memory, oversized bodies
refused before they are read, methods AWS does not accept, malformed HTTP answered as AWS
errors. One private server with short timeouts serves the whole module."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET

import pytest
from http_raw import closed_within, connect, read_response, request
from server import make_client

TIMEOUTS = ["--idle-timeout", "1", "--header-timeout", "1", "--body-timeout", "1"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    from server import ServerProcess

    proc = ServerProcess(tmp_path_factory.mktemp("limits"), args=TIMEOUTS).start()
    yield proc
    proc.stop()


def _xml_code(body: bytes) -> str:
    root = ET.fromstring(body)
    return root.find("./{*}Error/{*}Code").text


def test_idle_connection_is_closed(limited):
    with connect(limited.port) as sock:
        took = closed_within(sock, 5)
    assert took is not None and took < 3


def test_keep_alive_connection_is_closed_after_idle_timeout(limited):
    with connect(limited.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, _ = read_response(sock)
        assert status == 200
        took = closed_within(sock, 5)
    assert took is not None and took < 3


def test_slowloris_headers_are_cut_off(limited):
    """Headers sent a line at a time, never finished: closed after the header timeout even
    though bytes keep arriving."""
    with connect(limited.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 5:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if closed_within(sock, 0.2) is not None:
                closed = True
                break
        assert closed and time.monotonic() - start < 3


def test_stalled_body_answers_request_timeout(limited):
    with connect(limited.port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nAction=Li"
        )
        start = time.monotonic()
        status, headers, body = read_response(sock)
        assert time.monotonic() - start < 3
        assert status == 400 and _xml_code(body) == "RequestTimeout"
        assert headers.get("connection") == "close"


def test_oversized_body_is_refused_before_it_is_sent(limited):
    """A declared 9 MiB body gets 413 at once: the server does not wait for (or buffer) it."""
    with connect(limited.port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 9437184\r\n\r\n"
        )
        status, headers, body = read_response(sock)
    assert status == 413 and _xml_code(body) == "RequestEntityTooLarge"
    assert headers.get("connection") == "close"


def test_oversized_chunked_body_is_refused(limited):
    chunk = b"a" * (1 << 20)
    with connect(limited.port, timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        status = None
        try:
            for _ in range(12):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = read_response(sock)
    assert status == 413 and _xml_code(body) == "RequestEntityTooLarge"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "TRACE", "PATCH"])
def test_query_methods_aws_does_not_accept(limited, method):
    status, headers, body = request(
        limited.port, f"{method} /?Action=ListQueues HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert status == 405 and _xml_code(body) == "MethodNotAllowed"
    assert headers["allow"] == "GET, POST"


def test_json_protocol_accepts_only_post(limited):
    status, headers, body = request(
        limited.port,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n\r\n")
    assert status == 405 and headers["allow"] == "POST"
    assert b"MethodNotAllowed" in body and headers["content-type"].startswith("application/x-amz-json")


def test_purge_by_get_with_other_method_does_not_run(limited):
    """A PUT carrying a valid signed-looking action never reaches the service."""
    sqs = make_client(limited.endpoint, "json")
    url = sqs.create_queue(QueueName="method-check")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    status, _, _ = request(
        limited.port,
        b"DELETE /000000000000/method-check?Action=PurgeQueue HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
        b"SignedHeaders=host, Signature=00\r\n\r\n")
    assert status == 405
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\x00\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
])
def test_malformed_http_gets_an_aws_error(limited, raw):
    status, headers, body = request(limited.port, raw)
    assert status == 400
    assert headers["content-type"] == "text/xml"
    assert _xml_code(body) == "MalformedHttpRequestException"


def test_malformed_json_request_gets_a_json_error(limited):
    status, headers, body = request(
        limited.port,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n"
        b"Content-Length: 1x\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/x-amz-json-1.0"
    assert b"MalformedHttpRequestException" in body


def test_headers_too_large_are_refused(limited):
    big = b"X-Big: " + b"a" * (70 * 1024) + b"\r\n"
    with connect(limited.port) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + big + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = read_response(sock)
    assert status == 400 and _xml_code(body) == "MalformedHttpRequestException"


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_rss_returns_near_idle_after_a_burst_of_large_bodies(limited):
    """30 concurrent 7 MiB bodies: memory is bounded while they run and given back after."""
    sqs = make_client(limited.endpoint, "json")
    url = sqs.create_queue(QueueName="rss-burst")["QueueUrl"]
    body = b"Action=SendMessage&QueueUrl=" + url.encode() + b"&MessageBody=" + b"x" * (7 << 20)
    head = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
        b"SignedHeaders=host, Signature=00\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    pid = limited.proc.pid
    request(limited.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    idle = _rss_kb(pid)
    statuses: list[int] = []

    def send() -> None:
        with connect(limited.port, timeout=30) as sock:
            sock.sendall(head + body)
            statuses.append(read_response(sock)[0])

    threads = [threading.Thread(target=send) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == 30 and all(s == 400 for s in statuses), statuses  # too long for SQS
    time.sleep(0.5)
    after = _rss_kb(pid)
    assert after - idle < 24 * 1024, (idle, after)  # without giving heap back: ~40 MiB more


def test_connections_over_the_limit_get_503_until_idle_ones_close(tmp_path):
    from server import ServerProcess

    proc = ServerProcess(tmp_path / "data", args=["--max-connections", "3", "--idle-timeout", "1"]).start()
    try:
        idle = [connect(proc.port) for _ in range(3)]
        status, headers, body = request(proc.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert status == 503 and _xml_code(body) == "ServiceUnavailable"
        for sock in idle:
            assert closed_within(sock, 5) is not None
            sock.close()
        status, _, _ = request(proc.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert status == 200
    finally:
        proc.stop()
