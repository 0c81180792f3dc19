"""What every service offers the server: its model, its operations and its lifecycle.

Services are protocol-agnostic: the HTTP layer decodes a request with the codec the
service's model names (AWS JSON, Query, rest-json), calls ``call`` with a plain dict shaped
like the operation's input, and encodes the dict it returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from postroom.protocol.context import RequestContext
from postroom.protocol.model import ServiceModel

# An extra HTTP route a service serves outside the AWS protocols (certificates, records):
# called with the raw query string and the caller, answers (status, content type, body).
RawRoute = Callable[[str, RequestContext], Awaitable[tuple[int, bytes, bytes]]]


class Service(Protocol):
    name: str  # the SigV4 signing name ("sqs", "lambda", ...)
    model: ServiceModel

    async def start(self) -> None: ...

    def begin_shutdown(self) -> None:
        """The server is stopping: answer waiting requests (long polls) now."""
        ...

    async def stop(self) -> None: ...

    async def reset(self) -> None:
        """Forget everything held in memory (caches, cool-downs) and stop background work,
        as ``stop`` does but keeping resources; the server then empties storage and calls
        ``start`` again (``POST /_postroom/reset``)."""
        ...

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None: ...

    def http_routes(self) -> dict[str, RawRoute]:
        """Extra GET paths served outside the AWS protocols ({} for none)."""
        ...
