"""Read-after-write across nodes.

Each node serves metadata (queues, topics, subscriptions, functions, mappings, IAM) from
caches that other nodes' notices refresh. A client that changes something on one node and
at once reads it on another (create, then list; update, then get) would otherwise race
that refresh. Two waits close the race:

- every request first waits until its node's caches have applied the notices that had
  reached the node when it came in (``caught_up_step``; no database round trip);
- a control-plane operation (anything but sending, receiving and deleting messages,
  publishing, invoking and logs) also waits for a read barrier through the database
  (``ReadAfterWrite``): then every change another node committed before it is applied,
  including one whose notice was still on its way. A round trip; sends and receives skip
  it, as they read little metadata and AWS documents the rest as eventually consistent.

With one node (SQLite) no notice ever arrives, the barrier is free and nothing waits.
"""

from __future__ import annotations

from typing import Protocol

from postroom.http.pipeline import Handler, Step
from postroom.http.request import Request, Response

# Longest wait for the caches (a database outage keeps their refreshes failing): past it the
# request is answered from the cache as it is.
CATCH_UP_WAIT_S = 2.0

# Answered from this node's own state: a load balancer's health check or a scrape must not
# wait for the database (refreshes retrying while it is away).
_OWN_STATE_PATHS = frozenset({"/health", "/metrics"})

# The data plane: operations that skip the barrier (services whose every operation does:
# None). Their metadata reads are the queue, topic or function they name, which a node
# missing it looks up in the store anyway.
_DATA_PLANE: dict[str, frozenset[str] | None] = {
    "sqs": frozenset({
        "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
        "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
    }),
    "sns": frozenset({"Publish", "PublishBatch"}),  # the store checks a fan-out's subscriptions
    "lambda": frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"}),
    "logs": None,  # log groups and events are not waited for at all (AWS: a delay too)
}


class CatchingUp(Protocol):
    def behind(self) -> list: ...

    async def caught_up(self, within_s: float, *, strict: bool = False) -> None: ...


def caught_up_step(store: CatchingUp) -> Step:
    async def step(request: Request, after: Handler) -> Response:
        if store.behind() and request.path not in _OWN_STATE_PATHS:
            await store.caught_up(CATCH_UP_WAIT_S)
        return await after(request)

    return step


def is_data_plane(service: str, operation: str) -> bool:
    operations = _DATA_PLANE.get(service, frozenset())
    return operations is None or operation in operations


class ReadAfterWrite:
    """Called by the router before a service runs an operation."""

    def __init__(self, store: CatchingUp) -> None:
        self._store = store

    async def __call__(self, service: str, operation: str) -> None:
        if not is_data_plane(service, operation):
            await self._store.caught_up(CATCH_UP_WAIT_S, strict=True)
