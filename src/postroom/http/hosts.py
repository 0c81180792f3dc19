"""Host checks against DNS rebinding: a web page on ``evil.example`` that re-points its name
at 127.0.0.1 reaches Postroom with ``Host: evil.example``; refusing names we were not told
about keeps such pages from reading answers. IP literals are always served (a rebinding
page cannot make the browser send one for its own name), as are ``localhost`` names, the
bind address and names given with ``--allow-host`` (``*`` allows any), and the SQS queue
hosts under any of those (``sqs.<region>.<name>``, ``<region>.queue.<name>``, ``queue.<name>``:
see ``sqs/endpoints.py``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from postroom.http.pipeline import Handler, Step
from postroom.http.request import Request, Response
from postroom.http.router import Router
from postroom.protocol.context import is_region
from postroom.protocol.errors import AWSError


class HostPolicy:
    def __init__(self, bind_host: str, names: Iterable[str]) -> None:
        self.names = {n.lower().rstrip(".") for n in names} | {bind_host.lower().strip("[]"), "localhost"}
        self.any = "*" in self.names

    def allows(self, host_header: str | None) -> bool:
        if self.any:
            return True
        if not host_header:
            return False
        name = _host_name(host_header)
        if name is None:
            return False
        if name in self.names or name.endswith(".localhost") or self._queue_host(name):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


    def _queue_host(self, name: str) -> bool:
        """``sqs.<region>.<allowed>``, ``<region>.queue.<allowed>`` or ``queue.<allowed>``."""
        labels = name.split(".")
        if len(labels) >= 3 and ((labels[0] == "sqs" and is_region(labels[1])) or
                                 (labels[1] == "queue" and is_region(labels[0]))):
            return ".".join(labels[2:]) in self.names
        return len(labels) >= 2 and labels[0] == "queue" and ".".join(labels[1:]) in self.names


def _host_name(header: str) -> str | None:
    """The name in a Host header without its port, lower case; None if unreadable."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else None
    name, _, port = header.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".")


def host_step(policy: HostPolicy, router: Router) -> Step:
    async def step(request: Request, after: Handler) -> Response:
        host = request.header(b"host")
        if not policy.allows(host):
            error = AWSError(
                "AccessDenied",
                f"Host {host!r} is not served here; Postroom answers requests addressed to an IP "
                "address, localhost or names allowed with --allow-host.",
                status=403, type_name="AccessDeniedException",
            )
            return router.error_response(request, error)
        return await after(request)

    return step
