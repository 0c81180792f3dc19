"""The harness itself: /health, and that each client really speaks its wire protocol."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from server import http_get_json


def test_health(endpoint):
    """GET /health answers 200 with JSON {version, services, storage}."""
    status, body = http_get_json(endpoint + "/health")
    assert status == 200
    for key in ("version", "services", "storage"):
        assert key in body, body


def _header(req, name: str) -> str:
    value = req.headers[name]
    return value.decode() if isinstance(value, bytes) else value


def _record_requests(client) -> list:
    seen = []

    def hook(request, **_):
        seen.append(request)

    client.meta.events.register("before-send.sqs.*", hook)
    return seen


def test_query_client_sends_form_encoded_action(client_factory):
    """The query client posts application/x-www-form-urlencoded bodies with Action=..."""
    client = client_factory("query")
    assert client.meta.service_model.protocol == "query"
    seen = _record_requests(client)
    client.list_queues(QueueNamePrefix="nothing-here-")
    assert len(seen) == 1
    req = seen[0]
    assert _header(req, "Content-Type").startswith("application/x-www-form-urlencoded")
    body = req.body.decode() if isinstance(req.body, bytes) else req.body
    form = urllib.parse.parse_qs(body)
    assert form["Action"] == ["ListQueues"]
    assert form["Version"] == ["2012-11-05"]
    assert "X-Amz-Target" not in req.headers


def test_json_client_sends_amz_json(client_factory):
    """The JSON client posts application/x-amz-json-1.0 with X-Amz-Target: AmazonSQS.<Op>."""
    client = client_factory("json")
    assert client.meta.service_model.protocol == "json"
    seen = _record_requests(client)
    client.list_queues(QueueNamePrefix="nothing-here-")
    req = seen[0]
    assert _header(req, "X-Amz-Target") == "AmazonSQS.ListQueues"
    assert _header(req, "Content-Type").startswith("application/x-amz-json-1.0")
    assert json.loads(req.body) == {"QueueNamePrefix": "nothing-here-"}


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_response_metadata_has_request_id(client_factory, protocol):
    """Every response carries a request id (x-amzn-RequestId / <RequestId>)."""
    resp = client_factory(protocol).list_queues(QueueNamePrefix="nothing-here-")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"].get("RequestId")
