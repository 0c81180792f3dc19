"""The shape of the queue URLs Postroom answers with (``--sqs-endpoint-strategy``).

Every shape is accepted on every request whatever the option (``names.parse_queue_url``),
so tools written for any of them work; the option only picks what CreateQueue, GetQueueUrl
and ListQueues answer:

- ``off`` (default): ``<scheme>://<host the client used>/<account>/<name>``;
- ``standard``: AWS's shape, ``<scheme>://sqs.<region>.localhost:<port>/<account>/<name>``;
- ``domain``: AWS's legacy shape, ``<scheme>://<region>.queue.localhost:<port>/...``
  (``queue.localhost`` for us-east-1);
- ``path``: ``<scheme>://<host the client used>/queue/<region>/<account>/<name>``.

The host-based shapes use ``localhost`` as their domain: names under it are reserved for
loopback (RFC 6761) and resolve to it without any DNS setup where the resolver knows so
(systemd-resolved, macOS, browsers); elsewhere (plain glibc, many containers) add them to
/etc/hosts or use ``path`` or ``off``.
"""

from __future__ import annotations

from postroom.sqs.names import LEGACY_DEFAULT_REGION

STRATEGIES = ("off", "standard", "domain", "path")
DEFAULT_STRATEGY = "off"
DOMAIN = "localhost"


def queue_url(strategy: str, base_url: str, region: str, account: str, name: str) -> str:
    """The URL of queue ``name`` of ``account`` in ``region`` for a client that reached us
    at ``base_url`` (``<scheme>://<Host header>``)."""
    if strategy == "path":
        return f"{base_url}/queue/{region}/{account}/{name}"
    if strategy in ("standard", "domain"):
        scheme, _, host = base_url.partition("://")
        port = _port(host)
        if strategy == "standard":
            host = f"sqs.{region}.{DOMAIN}"
        else:
            host = f"queue.{DOMAIN}" if region == LEGACY_DEFAULT_REGION else f"{region}.queue.{DOMAIN}"
        return f"{scheme}://{host}{port}/{account}/{name}"
    return f"{base_url}/{account}/{name}"


def _port(host: str) -> str:
    """``:<port>`` of a Host header value (IPv6 literals in brackets), or ''."""
    after = host.rpartition("]")[2] if host.startswith("[") else host
    _, colon, port = after.rpartition(":")
    return f":{port}" if colon and port.isdigit() else ""
