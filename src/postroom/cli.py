"""The ``postroom`` command line."""

from __future__ import annotations

import asyncio
import logging
import os
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
    "--store", envvar="POSTROOM_STORE", metavar="URL",
    help="Keep queues, topics, functions... in PostgreSQL (postgresql://user@host/db[?schema=NAME]), "
    "shared by every node given the same URL; default: SQLite in --data-dir.",
)
@click.option(
    "--log-level", default="info", show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--sqs-max-in-flight", default=120_000, show_default=True, type=click.IntRange(1),
    help="In-flight messages per queue before ReceiveMessage answers OverLimit.",
)
@click.option(
    "--sqs-endpoint-strategy", default="off", show_default=True, envvar="POSTROOM_SQS_ENDPOINT_STRATEGY",
    type=click.Choice(["off", "standard", "domain", "path"]),
    help="Queue URLs answered: off <host>/<account>/<name>; standard sqs.<region>.localhost:<port>/...; "
         "domain <region>.queue.localhost:<port>/...; path <host>/queue/<region>/<account>/<name>. "
         "Every shape is accepted whatever this says.",
)
@click.option(
    "--lambda-retry-scale", default=1.0, show_default=True, type=click.FloatRange(0.0001, 1.0),
    help="Multiply async-invocation retry waits (AWS: about 1 and 2 minutes) by this, for tests and demos.",
)
@click.option(
    "--lambda-idle-timeout", default=300.0, show_default=True, type=click.FloatRange(0.1),
    help="Seconds an idle function environment is kept warm.",
)
@click.option(
    "--lambda-runtime", "lambda_runtimes", multiple=True, metavar="RUNTIME=EXECUTABLE",
    help="The interpreter for a runtime, e.g. python3.12=/usr/bin/python3.12 (repeatable).",
)
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
    help="A resources file (TOML) to apply once the server is ready.",
)
@click.option(
    "--init-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Run the .sh and .py scripts of DIR/ready.d once the server is ready (and --config applied).",
)
@click.option(
    "--clock", "clock_mode", default="system", show_default=True, type=click.Choice(["system", "manual"]),
    help="manual: engine time starts now and moves only on POST /_postroom/clock (for tests).",
)
@click.option(
    "--auth", "auth_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), envvar="POSTROOM_AUTH_FILE",
    help="Access keys (TOML or JSON) to verify SigV4 signatures with; default: any key is accepted.",
)
@click.option(
    "--allow-unsigned", is_flag=True, envvar="POSTROOM_ALLOW_UNSIGNED",
    help="Also serve requests without AWS authentication (curl-style local use).",
)
@click.option(
    "--allow-host", "allowed_hosts", multiple=True, metavar="NAME", envvar="POSTROOM_ALLOW_HOSTS",
    help="A Host name to serve besides IP addresses and localhost (repeatable; * for any).",
)
@click.option(
    "--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN", envvar="POSTROOM_CORS_ORIGINS",
    help="An origin whose browser requests (CORS) are allowed (repeatable; * for any).",
)
@click.option("--idle-timeout", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a connection may stay open with no request in progress.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a client may take to send a request's headers.")
@click.option("--body-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Longest pause (seconds) while a request body arrives.")
@click.option("--max-body-memory", default=256, show_default=True, type=click.IntRange(16),
              help="MiB of request bodies held at once across all connections.")
@click.option("--max-connections", default=1000, show_default=True, type=click.IntRange(1),
              help="Open connections (or running requests) above which requests answer 503.")
@click.option("--sns-queue-policies", is_flag=True, envvar="POSTROOM_SNS_QUEUE_POLICIES",
              help="SNS delivers to an SQS queue only if the queue policy allows it (as AWS does).")
@click.option("--deny-private-targets", is_flag=True, envvar="POSTROOM_DENY_PRIVATE_TARGETS",
              help="HTTP/S subscriptions may not target loopback, private or link-local addresses.")
@click.option("--lease-ttl", default=9.0, show_default=True, type=click.FloatRange(0.3, 600), envvar="POSTROOM_LEASE_TTL",
              help="Seconds a node's hold on background work lasts unrenewed: with several nodes on one "
                   "store, another node takes over a dead one's work after about 4/3 of this.")
def serve(
    host: str, port: int, data_dir: Path, in_memory: bool, store: str | None, log_level: str, sqs_max_in_flight: int,
    sqs_endpoint_strategy: str,
    lambda_retry_scale: float, lambda_idle_timeout: float, lambda_runtimes: tuple[str, ...],
    auth_file: Path | None, allow_unsigned: bool, allowed_hosts: tuple[str, ...], cors_origins: tuple[str, ...],
    idle_timeout: float, header_timeout: float, body_timeout: float, max_body_memory: int,
    max_connections: int, sns_queue_policies: bool, deny_private_targets: bool,
    clock_mode: str, config_file: Path | None, init_dir: Path | None, lease_ttl: float,
) -> None:
    """Run the server until SIGTERM or SIGINT."""
    from postroom.clock import Clock, ManualClock, SystemClock
    from postroom.declare.config import ConfigError, load
    from postroom.http.keys import KeyFileError, load_keys
    from postroom.http.limits import HttpLimits
    from postroom.server import ServerConfig
    from postroom.server import serve as run_server

    try:  # a broken file stops the start before anything listens
        resources = load(config_file) if config_file is not None else None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if auth_file is not None:
        try:
            load_keys(auth_file)  # fail here, with the file's problem, before anything starts
        except KeyFileError as exc:
            raise click.BadParameter(str(exc), param_hint="--auth") from None

    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per webhook call is noise
    config = ServerConfig(
        host=host, port=port, data_dir=None if in_memory else data_dir, store=store or None, log_level=log_level,
        sqs_max_in_flight=sqs_max_in_flight, sqs_endpoint_strategy=sqs_endpoint_strategy,
        lambda_retry_scale=lambda_retry_scale,
        lambda_idle_timeout=lambda_idle_timeout, lambda_runtimes=_runtimes(lambda_runtimes),
        resources=resources, init_dir=init_dir,
        auth_file=auth_file, allow_unsigned=allow_unsigned, allowed_hosts=_split(allowed_hosts),
        cors_origins=_split(cors_origins),
        sns_queue_policies=sns_queue_policies, deny_private_targets=deny_private_targets, lease_ttl=lease_ttl,
        http_limits=HttpLimits(
            idle_timeout=idle_timeout, header_timeout=header_timeout, body_timeout=body_timeout,
            body_memory=max_body_memory * 1024 * 1024, max_connections=max_connections,
        ),
    )
    os.umask(0o077)  # data files 0600, directories 0700: stored messages are private
    from postroom.storage.errors import StorageError

    clock: Clock = ManualClock() if clock_mode == "manual" else SystemClock()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is absent only on unsupported platforms
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(run_server(config, clock))
    except StorageError as error:  # a problem the user can fix: one clear line, no traceback
        click.echo(f"postroom: error: {error}", err=True)
        sys.exit(1)


def _runtimes(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        runtime, sep, executable = value.partition("=")
        if not sep or not runtime or not executable:
            raise click.BadParameter(f"expected RUNTIME=EXECUTABLE, got {value!r}", param_hint="--lambda-runtime")
        out[runtime] = executable
    return out


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--endpoint-url", envvar="AWS_ENDPOINT_URL", default="http://localhost:4566", show_default=True,
    help="The server to apply to (default: $AWS_ENDPOINT_URL, else this).",
)
def apply(file: Path, endpoint_url: str) -> None:
    """Create or update the queues, topics, subscriptions, functions and event source
    mappings FILE declares (nothing is deleted; applying twice changes nothing)."""
    from postroom.declare.apply import Applier
    from postroom.declare.config import ConfigError, load

    try:
        changes = Applier(endpoint_url, click.echo).apply(load(file))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # the server is unreachable, or answers something unexpected
        raise click.ClickException(f"{file}: {exc}") from None
    click.echo(f"{file}: {changes} change(s)" if changes else f"{file}: nothing to change")


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated options, each of which may also hold a comma- or space-separated list (the
    environment variables' form)."""
    return tuple(part for value in values for part in value.replace(",", " ").split())


@main.command("node-sdk")
@click.option(
    "--dir", "target", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where to install (default: $POSTROOM_NODE_SDK, else ~/.cache/postroom/node-sdk).",
)
def node_sdk(target: Path | None) -> None:
    """Install the AWS SDK for JavaScript v3 clients that Node handlers get on AWS (npm)."""
    from postroom.runtime.node_sdk import default_dir, install

    target = target or default_dir()
    try:
        install(target)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"AWS SDK for JavaScript v3 installed in {target}")
