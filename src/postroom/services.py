"""The list of services Postroom serves, and how each is built.

Services are built in this order and started in it (stopped in reverse). Each factory
receives the shared ``Deps`` and publishes its typed internal API on ``deps.apis`` so
services built later (or, through late lookup at call time, earlier) can reach it.
Adding a service means one factory here; nothing else in the server changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from postroom.clock import Clock
from postroom.service import Service

if TYPE_CHECKING:
    from postroom.iam.api import IamApi
    from postroom.lambda_.api import LambdaApi
    from postroom.leases import Leases
    from postroom.logs.api import LogsApi
    from postroom.sns.api import SnsApi
    from postroom.sqs.api import SqsApi
    from postroom.storage.sql.store import SqlStore


@dataclass
class Apis:
    """The typed internal APIs services call each other through (filled in as built)."""

    sqs: SqsApi | None = None
    sns: SnsApi | None = None
    lambda_: LambdaApi | None = None
    logs: LogsApi | None = None
    iam: IamApi | None = None


@dataclass
class Settings:
    """Server options services read."""

    data_dir: Path | None = None  # None: nothing on disk
    sqs_max_in_flight: int = 120_000
    sqs_endpoint_strategy: str = "off"  # the shape of queue URLs (sqs/endpoints.py)
    endpoint_url: str = "http://127.0.0.1:4566"  # how local processes reach this server
    function_secret: str = "test"  # the secret key function environments sign with
    sns_queue_policies: bool = False  # SNS copies to SQS need the queue policy's permission
    deny_private_targets: bool = False  # HTTP/S subscriptions may reach public addresses only
    lambda_retry_scale: float = 1.0
    lambda_idle_timeout: float = 300.0
    lambda_runtimes: dict[str, str] = field(default_factory=dict)


@dataclass
class Deps:
    store: SqlStore
    clock: Clock
    settings: Settings
    apis: Apis = field(default_factory=Apis)
    leases: Leases | None = None  # this node's lease keeper; None: every lease held at once


def _sqs(deps: Deps) -> Service:
    from postroom.sqs.service import SqsService

    svc = SqsService(
        deps.store, deps.clock, max_in_flight=deps.settings.sqs_max_in_flight, leases=deps.leases,
        endpoint_strategy=deps.settings.sqs_endpoint_strategy,
    )
    deps.apis.sqs = svc.api
    return svc


def _lambda(deps: Deps) -> Service:
    from postroom.lambda_.service import LambdaService
    from postroom.runtime.api import RuntimeSettings
    from postroom.runtime.node_sdk import default_dir as default_node_sdk_dir

    settings = deps.settings
    runtime = RuntimeSettings(
        endpoint_url=settings.endpoint_url, secret_access_key=settings.function_secret,
        idle_timeout_s=settings.lambda_idle_timeout,
        interpreters=dict(settings.lambda_runtimes), node_sdk_dir=default_node_sdk_dir(),
    )
    svc = LambdaService(
        deps.store, deps.clock, settings.data_dir, deps.apis, runtime, settings.lambda_retry_scale,
        leases=deps.leases,
    )
    deps.apis.lambda_ = svc.api
    return svc


def _sns(deps: Deps) -> Service:
    from postroom.sns.service import SnsService

    assert deps.apis.sqs is not None
    svc = SnsService(
        deps.store.topics, deps.apis.sqs, deps.clock, deps.settings.data_dir, mobile=deps.store.sns_mobile,
        apis=deps.apis,
        enforce_queue_policies=deps.settings.sns_queue_policies,
        deny_private_targets=deps.settings.deny_private_targets, leases=deps.leases,
        notifier=deps.store.notifier,
    )
    deps.apis.sns = svc.api
    return svc


def _logs(deps: Deps) -> Service:
    from postroom.logs.service import LogsService

    svc = LogsService(deps.store.logs, deps.clock, leases=deps.leases)
    deps.apis.logs = svc.api
    return svc


def _iam(deps: Deps) -> Service:
    from postroom.iam.service import IamService

    svc = IamService(deps.store.iam, deps.clock)
    deps.apis.iam = svc.api
    return svc


def _sts(deps: Deps) -> Service:
    from postroom.sts.service import StsService

    assert deps.apis.iam is not None
    return StsService(deps.store.iam, deps.apis.iam, deps.clock)


FACTORIES: tuple[Callable[[Deps], Service], ...] = (
    _sqs,
    _sns,
    _logs,
    _iam,
    _sts,
    _lambda,
)


def build_services(deps: Deps) -> list[Service]:
    return [factory(deps) for factory in FACTORIES]
