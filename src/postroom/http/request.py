"""The request and response every pipeline step sees: plain data, no ASGI details."""

from __future__ import annotations

from dataclasses import dataclass, field

from postroom.protocol.context import RequestContext


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent (path labels may hold encoded '/')
    query_string: str
    headers: dict[bytes, bytes]  # lower-case names
    body: bytes
    scheme: str
    ctx: RequestContext

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None


@dataclass(slots=True)
class Response:
    status: int
    content_type: bytes
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
