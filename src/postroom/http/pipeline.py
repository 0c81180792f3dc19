"""One request pipeline: cross-cutting steps (metrics, authentication, logging) wrap the
call that routes, decodes, runs and encodes. A step is ``async (request, next) -> Response``
and may answer itself or hand the request on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from postroom.http.request import Request, Response

Handler = Callable[[Request], Awaitable[Response]]
Step = Callable[[Request, Handler], Awaitable[Response]]


def build_pipeline(steps: Sequence[Step], endpoint: Handler) -> Handler:
    """Compose ``steps`` (outermost first) around ``endpoint``."""
    handler = endpoint
    for step in reversed(steps):
        handler = _bind(step, handler)
    return handler


def _bind(step: Step, after: Handler) -> Handler:
    async def run(request: Request) -> Response:
        return await step(request, after)

    return run
