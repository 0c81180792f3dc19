"""The ``postroom`` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from postroom import __version__


@click.group()
@click.version_option(__version__, prog_name="postroom")
def main() -> None:
    """Postroom: self-hosted, durable SQS, SNS and Lambda."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4566, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--data-dir", default=".postroom", show_default=True, type=click.Path(file_okay=False, path_type=Path),
    help="Where data is kept.",
)
@click.option("--in-memory", is_flag=True, help="Keep nothing on disk (tests, throwaway use).")
@click.option(
    "--log-level", default="info", show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--sqs-max-in-flight", default=120_000, show_default=True, type=click.IntRange(1),
    help="In-flight messages per queue before ReceiveMessage answers OverLimit.",
)
def serve(
    host: str, port: int, data_dir: Path, in_memory: bool, log_level: str, sqs_max_in_flight: int
) -> None:
    """Run the server until SIGTERM or SIGINT."""
    from postroom.server import ServerConfig
    from postroom.server import serve as run_server

    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per webhook call is noise
    config = ServerConfig(
        host=host, port=port, data_dir=None if in_memory else data_dir, log_level=log_level,
        sqs_max_in_flight=sqs_max_in_flight,
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is absent only on unsupported platforms
        asyncio.run(run_server(config))
    else:
        uvloop.run(run_server(config))
