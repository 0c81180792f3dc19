"""Start Postroom: open storage, start services, serve HTTP until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from postroom import __version__
from postroom.clock import Clock, SystemClock
from postroom.http.app import PostroomApp
from postroom.sqs.service import SqsService
from postroom.storage.sqlite import SqliteStore

log = logging.getLogger("postroom")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path | None = Path(".postroom")  # None: keep nothing on disk
    log_level: str = "info"


async def serve(config: ServerConfig, clock: Clock | None = None) -> None:
    """Run the server until it is told to stop; shut everything down cleanly."""
    started = time.monotonic()
    clock = clock or SystemClock()
    store = SqliteStore(config.data_dir)
    await store.start()
    sqs = SqsService(store, clock)
    await sqs.start()
    app = PostroomApp([sqs], store.description)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            http="httptools",
            loop="none",
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            proxy_headers=False,
            date_header=False,
            timeout_keep_alive=75,
        )
    )
    ready = asyncio.create_task(_announce(server, config, store.description, started))
    try:
        await server.serve()
    finally:
        ready.cancel()
        await sqs.stop()
        await store.close()
        log.info("postroom stopped")


async def _announce(server: uvicorn.Server, config: ServerConfig, storage: str, started: float) -> None:
    while not server.started:
        await asyncio.sleep(0.01)
    elapsed = (time.monotonic() - started) * 1000
    log.info(
        "postroom %s ready on http://%s:%d (storage: %s, %.0f ms)",
        __version__, config.host, config.port, storage, elapsed,
    )
