"""The ceiling: an ASGI app that answers every request with a fixed SendMessage response.

Served by uvicorn with httptools and uvloop (Postroom's stack), it shows what the HTTP layer
alone can do on this machine. CreateQueue/GetQueueUrl get a fixed QueueUrl so the load
generator can set up as usual.

    python benchmarks/ceiling.py --port 4599 [--workers 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import uvicorn

SEND_ANSWER = (
    b'{"MD5OfMessageBody":"51b35e3b6b6a1b6b0d0d6c2a0b8b4b5c",'
    b'"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274"}'
)
QUEUE_ANSWER = b'{"QueueUrl":"http://127.0.0.1/000000000000/ceiling"}'
HEADERS = [(b"content-type", b"application/x-amz-json-1.0")]
START = {"type": "http.response.start", "status": 200}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI entry point."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # read (and drop) the request body
        more = (await receive()).get("more_body", False)
    answer = SEND_ANSWER
    for name, value in scope["headers"]:
        if name == b"x-amz-target" and value.endswith((b".CreateQueue", b".GetQueueUrl")):
            answer = QUEUE_ANSWER
    length = str(len(answer)).encode()
    await send({**START, "headers": [*HEADERS, (b"content-length", length)]})
    await send({"type": "http.response.body", "body": answer})


def main() -> None:
    """Serve the app."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4599)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    uvicorn.run(
        "ceiling:app" if a.workers > 1 else app,
        host=a.host,
        port=a.port,
        workers=a.workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        app_dir=str(Path(__file__).resolve().parent),
    )


if __name__ == "__main__":
    main()
