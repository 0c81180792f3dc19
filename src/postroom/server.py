"""Start Postroom: open storage, start services, serve HTTP until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from postroom import __version__
from postroom.clock import Clock, SystemClock
from postroom.console.app import CONSOLE_PATH, Console
from postroom.declare.config import Config
from postroom.http.admin import Admin
from postroom.http.app import PostroomApp
from postroom.http.auth import AuthConfig, auth_step
from postroom.http.consistency import ReadAfterWrite, caught_up_step
from postroom.http.cors import CorsPolicy, cors_step, method_step
from postroom.http.hosts import HostPolicy, host_step
from postroom.http.keys import load_keys
from postroom.http.limits import HttpLimits
from postroom.http.protocol import protocol_class
from postroom.http.router import Router
from postroom.leases import TTL_S, Leases
from postroom.metrics.exporter import MetricsExporter
from postroom.services import Deps, Settings, build_services
from postroom.storage.open import open_store

log = logging.getLogger("postroom")


class _Server(uvicorn.Server):
    """uvicorn's server without its signal capture: uvicorn re-raises the signal after
    shutting down, so the process would end by SIGTERM instead of exiting with 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path | None = Path(".postroom")  # None: keep nothing on disk
    store: str | None = None  # a postgresql:// URL; None: SQLite in data_dir (or in memory)
    log_level: str = "info"
    sqs_max_in_flight: int = 120_000  # AWS's limit; lower it to test OverLimit handling
    sqs_endpoint_strategy: str = "off"  # the shape of queue URLs answered (sqs/endpoints.py)
    lambda_retry_scale: float = 1.0  # async-invocation retry waits multiplied by this
    lambda_idle_timeout: float = 300.0
    lambda_runtimes: dict[str, str] = field(default_factory=dict)
    resources: Config | None = None  # --config: applied once the server is ready
    init_dir: Path | None = None  # --init-dir: its ready.d/ scripts run after that
    auth_file: Path | None = None  # access keys to verify signatures with; None: any key
    allow_unsigned: bool = False  # serve unsigned requests (curl-style local use)
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides IPs and localhost ("*": any)
    cors_origins: tuple[str, ...] = ()  # origins whose CORS preflights are answered ("*": any)
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    sns_queue_policies: bool = False  # SNS copies to SQS need the queue policy's permission
    deny_private_targets: bool = False  # HTTP/S subscriptions may reach public addresses only
    lease_ttl: float = TTL_S  # seconds a node's hold on background work lasts unrenewed


async def serve(config: ServerConfig, clock: Clock | None = None) -> None:
    """Run the server until it is told to stop; shut everything down cleanly."""
    started = time.monotonic()  # real time: how long start-up took, for the ready line
    clock = clock or SystemClock()
    # Bound before anything else so that with --port 0 the port the system picked is known
    # to the log line and to the endpoint URL function environments call back on.
    try:
        sock = _bind(config.host, config.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc.strerror or exc)
        raise SystemExit(1) from None
    port = sock.getsockname()[1]
    keys = load_keys(config.auth_file) if config.auth_file is not None else None
    # With verified signatures, function environments get a secret no one else knows.
    function_secret = secrets.token_urlsafe(30) if keys is not None else "test"
    if config.data_dir is not None:
        _private_dir(config.data_dir)
    store = open_store(config.store, config.data_dir)
    await store.start()
    settings = Settings(
        data_dir=config.data_dir, sqs_max_in_flight=config.sqs_max_in_flight,
        sqs_endpoint_strategy=config.sqs_endpoint_strategy,
        endpoint_url=f"http://{_local_host(config.host)}:{port}",
        lambda_retry_scale=config.lambda_retry_scale, lambda_idle_timeout=config.lambda_idle_timeout,
        lambda_runtimes=config.lambda_runtimes, function_secret=function_secret,
        sns_queue_policies=config.sns_queue_policies, deny_private_targets=config.deny_private_targets,
    )
    # Background work runs on one node at a time, under leases in the store.
    leases = Leases.for_store(store, clock, config.lease_ttl)
    deps = Deps(store, clock, settings, leases=leases)
    services = build_services(deps)
    started_services = []
    try:
        for svc in services:
            await svc.start()
            started_services.append(svc)
    except BaseException:
        for svc in reversed(started_services):
            await svc.stop()
        await leases.close()
        await store.close()
        sock.close()
        raise
    router = Router(services, before_call=ReadAfterWrite(store))
    steps = [
        host_step(HostPolicy(config.host, config.allowed_hosts), router),
        cors_step(CorsPolicy(config.cors_origins), router),
        method_step(router),
        caught_up_step(store),  # other nodes' changes the caches have yet to apply
        auth_step(AuthConfig(
            keys, config.allow_unsigned, function_secret if keys else None,
            deps.apis.iam.issued_credentials if deps.apis.iam is not None else None,
            deps.apis.iam.find_credentials if deps.apis.iam is not None else None,
        ), router, clock),
    ]
    console = Console({svc.name: svc for svc in services}, deps.apis, clock)
    app = PostroomApp(
        services, store.description, steps, config.http_limits, router=router,
        routes={"/metrics": MetricsExporter(deps.apis, store, leases).route},
        mounts={CONSOLE_PATH: console.handle}, control=Admin(clock, services, store.reset),
    )
    server = _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=port,
            http=protocol_class(config.http_limits),
            loop="none",
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            proxy_headers=False,
            date_header=False,
            timeout_keep_alive=config.http_limits.idle_timeout,  # type: ignore[arg-type]  # a float works
            timeout_graceful_shutdown=10,
        )
    )

    def request_stop() -> None:
        if server.should_exit:
            server.force_exit = True  # a second signal: stop without waiting
        for svc in services:
            svc.begin_shutdown()  # long polls answer now instead of holding the shutdown open
        server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop)
    failed = False

    async def when_ready() -> None:
        nonlocal failed
        await _announce(server, config.host, port, store.description, started)
        if config.resources is not None or config.init_dir is not None:
            from postroom.declare.startup import on_ready

            if not await on_ready(settings.endpoint_url, config.resources, config.init_dir):
                failed = True
                request_stop()

    ready = asyncio.create_task(when_ready())
    try:
        await server.serve(sockets=[sock])
    finally:
        ready.cancel()
        for svc in reversed(services):
            await svc.stop()
        await leases.close()
        await store.close()
        log.info("postroom stopped")
    if failed:
        raise SystemExit(1)


async def _announce(server: uvicorn.Server, host: str, port: int, storage: str, started: float) -> None:
    # Real time on purpose: this waits for the socket to bind and times the start-up.
    while not server.started:
        await asyncio.sleep(0.01)
    elapsed = (time.monotonic() - started) * 1000
    log.info(
        "postroom %s ready on http://%s:%d (storage: %s, %.0f ms)",
        __version__, f"[{host}]" if ":" in host else host, port, storage, elapsed,
    )


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _local_host(host: str) -> str:
    """The address local processes (function environments) reach the server on."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _private_dir(path: Path) -> None:
    """The data directory readable by its owner only (0700): queues hold other people's
    messages. Files in it are created 0600 (``postroom serve`` sets the umask)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
    except OSError:
        pass  # opening the store reports the problem (a full disk, no permission) clearly
