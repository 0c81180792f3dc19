"""Read-after-write across nodes: a request waits until its node's caches reflect every
change other nodes had announced when it arrived.

Each node serves metadata (queues, topics, subscriptions, functions, mappings, IAM) from
caches that other nodes' notices refresh. A client that changes something on one node and
at once reads it on another (create, then list; subscribe, then publish) would otherwise
race the refresh: the other node's answer follows its commit, whose notice reached this
node before the client's next request could, but its refresh (a read of the database)
may still be under way. With one node (SQLite) no notice ever arrives and nothing waits.
"""

from __future__ import annotations

from typing import Protocol

from postroom.http.pipeline import Handler, Step
from postroom.http.request import Request, Response

# Longest wait for the caches (a database outage keeps their refreshes failing): past it the
# request is answered from the cache as it is.
CATCH_UP_WAIT_S = 2.0


class CatchingUp(Protocol):
    def behind(self) -> list: ...

    async def caught_up(self, within_s: float) -> None: ...


# Answered from this node's own state: a load balancer's health check or a scrape must not
# wait for the database (refreshes retrying while it is away).
_OWN_STATE_PATHS = frozenset({"/health", "/metrics"})


def caught_up_step(store: CatchingUp) -> Step:
    async def step(request: Request, after: Handler) -> Response:
        if store.behind() and request.path not in _OWN_STATE_PATHS:
            await store.caught_up(CATCH_UP_WAIT_S)
        return await after(request)

    return step
