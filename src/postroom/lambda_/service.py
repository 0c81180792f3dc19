"""LambdaService: the Lambda control plane (every operation but invocation) and its state."""

from __future__ import annotations

import asyncio
import copy
import re
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postroom.clock import Clock
from postroom.lambda_.code import CodeStore
from postroom.lambda_.errors import alias_not_found, conflict, function_not_found, invalid_parameter
from postroom.lambda_.names import (
    LATEST,
    FunctionRef,
    function_arn,
    is_alias,
    parse_function,
    parse_layer,
)
from postroom.lambda_.slots import ReservedSlots
from postroom.lambda_.stats import LambdaCounters
from postroom.leases import Leases
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model
from postroom.runtime.api import FunctionSpec, RuntimeSettings
from postroom.runtime.pool import EnvironmentPool
from postroom.service import RawRoute
from postroom.storage.errors import StaleRecord
from postroom.storage.functions import Doc, FunctionRecord, FunctionStore, notice_key

if TYPE_CHECKING:
    from postroom.services import Apis
    from postroom.storage.sql.store import SqlStore

Operation = Callable[
    ["LambdaService", dict[str, Any], RequestContext], Awaitable[dict[str, Any] | None]
]
CODE_PATH = "/_postroom/lambda/code"
# Tries of an operation whose write another node's change made stale (each reads it again).
STALE_ATTEMPTS = 8
_SHA = re.compile(r"^[0-9a-f]{64}$")


class LambdaService:
    """Dispatches Lambda operations; functions and layers live in ``catalog`` (cached there)."""

    name = "lambda"

    def __init__(
        self, store: SqlStore, clock: Clock, data_dir: Path | None, apis: Apis,
        runtime: RuntimeSettings | None = None, retry_scale: float = 1.0, leases: Leases | None = None,
    ) -> None:
        from postroom.lambda_ import (
            aliases,
            concurrency,
            event_invoke,
            functions,
            invoke,
            layers,
            mappings,
            permissions,
            tags,
            unsupported,
            versions,
        )
        from postroom.lambda_.api import LambdaApi
        from postroom.lambda_.async_invoke import AsyncInvoker
        from postroom.pollers.sqs import MappingPollers

        self.model = load_service_model("lambda")
        self.store = store  # the whole store: invocation code reads ``store.invocations``
        self.catalog: FunctionStore = store.functions  # functions and layers
        self.clock = clock
        self._temp_root: Path | None = None
        if data_dir is None:
            # --in-memory: code still needs a directory; it goes with the server.
            self._temp_root = Path(tempfile.mkdtemp(prefix="postroom-lambda-"))
            root = self._temp_root
        else:
            root = Path(data_dir) / "lambda"
        # Zips live in storage (shared by every node); root holds this node's unpacked trees.
        self.code = CodeStore(root, store.code, clock)
        self.layer_code = CodeStore(root / "layers", store.code, clock)
        self.apis = apis  # other services' typed APIs (destinations, dead-letter queues)
        runtime = runtime or RuntimeSettings()
        if runtime.work_dir is None:
            runtime.work_dir = root / "environments"
        self.environments: EnvironmentPool | None = EnvironmentPool(
            clock, runtime, _LogsSink(apis), prepare=self._fetch_code
        )
        self.async_invoker = AsyncInvoker(self, retry_scale)
        self.counters = LambdaCounters()
        self.pollers = MappingPollers(store.mappings, apis, clock)  # event source mappings at work
        # Each on one node at a time; what other nodes enqueue or change reaches it by notice.
        # One lease for every mapping's pollers, not one per mapping: the first node up would
        # take every per-mapping lease anyway (nothing would balance them), and one holder
        # keeps the settling of mapping states (Creating -> Enabled, ...) in one place.
        leases = leases or Leases.private(clock)
        # Invocations of functions with reserved concurrency hold a row in storage (the limit
        # holds across nodes), renewed on the lease keeper's time-to-live.
        self.slots = ReservedSlots(store.running, clock, leases.owner, leases.ttl_ms, exclusive=leases.exclusive)
        self._async = leases.lease(
            "lambda.async", self.async_invoker.start, self.async_invoker.stop, wake={"async": self.async_invoker.wake},
        )
        self._polling = leases.lease(
            "lambda.pollers", self.pollers.start, self.pollers.stop, wake={"mappings": self.pollers.changed},
        )
        self.api = LambdaApi(self)
        # Read-modify-write of a function is serialised on this node (so its own requests
        # never make each other's writes stale); across nodes, saves are conditional on the
        # stored revision (storage/sql/functions.py) and ``call`` redoes a stale operation.
        self.lock = asyncio.Lock()
        self.resolve_cache: dict[tuple[str, str, str, str | None], Any] = {}
        # Another node changed or deleted a function: once the cache holds the news, what
        # was derived from the old record goes, as after a local change (any change retires
        # the warm environments: remote notices do not say what changed).
        store.notifier.on("functions.refreshed", self._function_refreshed)
        self.operations: dict[str, Operation] = {
            **functions.OPERATIONS,
            **versions.OPERATIONS,
            **aliases.OPERATIONS,
            **concurrency.OPERATIONS,
            **event_invoke.OPERATIONS,
            **permissions.OPERATIONS,
            **tags.OPERATIONS,
            **layers.OPERATIONS,
            **unsupported.OPERATIONS,
            **invoke.OPERATIONS,
            **mappings.OPERATIONS,
        }

    async def start(self) -> None:
        assert self.environments is not None
        for code in (self.code, self.layer_code):
            await code.migrate()
        await self.code.forget_unused(None)  # packages left unnamed by a delete in their grace
        await self.slots.start()
        await self.environments.start()
        await self._async.begin()
        await self._polling.begin()

    def begin_shutdown(self) -> None:
        pass

    async def reset(self) -> None:
        await self._polling.end()
        await self._async.end()
        if self.environments is not None:
            await self.environments.stop()  # every environment of every function ends
        await self.slots.stop()
        self.resolve_cache.clear()

    async def stop(self) -> None:
        await self._polling.end()
        await self._async.end()
        if self.environments is not None:
            await self.environments.stop()
        await self.slots.stop()
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)

    async def call(
        self, operation: str, params: dict[str, Any], ctx: RequestContext
    ) -> dict[str, Any] | None:
        handler = self.operations.get(operation)
        if handler is None:
            raise invalid_parameter(f"Action {operation} is not supported by Postroom yet.")
        looked_elsewhere = False
        for _ in range(STALE_ATTEMPTS):
            try:
                return await handler(self, params, ctx)
            except StaleRecord as stale:
                # Another node changed the function (or layer) between this node's read and
                # its write, which wrote nothing: read it again and redo the operation on
                # what is stored now (a RevisionId the caller gave is checked against that).
                await self.catalog.reread(stale.channel, stale.key)
            except AWSError as error:
                # The cache may be behind another node's change (its notice not here yet):
                # look in the database once, and answer again if that changes anything.
                if looked_elsewhere or not await self._behind_elsewhere(error, params, ctx):
                    raise
                looked_elsewhere = True
        # Changed elsewhere every time: AWS's answer to a function busy with other updates.
        name = params.get("FunctionName") or params.get("LayerName") or params.get("Resource") or ""
        raise conflict(f"The operation cannot be performed at this time. An update is in progress for resource: {name}")

    async def _behind_elsewhere(self, error: AWSError, params: dict[str, Any], ctx: RequestContext) -> bool:
        """Whether the function or layer ``error`` was about reads differently from storage:
        another node created or changed it a moment ago (a function, version, alias or layer
        version not found here; a RevisionId the caller read from that node looks wrong here)."""
        if error.type_name not in ("ResourceNotFoundException", "PreconditionFailedException"):
            return False
        function, layer = params.get("FunctionName"), params.get("LayerName")
        try:
            if isinstance(function, str) and function:
                key = parse_function(function, ctx.account, ctx.region, params.get("Qualifier")).key
                channel, cache = "functions", self.catalog.functions
            elif isinstance(layer, str) and layer:
                key = parse_layer(layer, ctx.account, ctx.region)[:3]
                channel, cache = "layers", self.catalog.layers
            else:
                return False
        except AWSError:
            return False
        before = cache.get(key)
        await self.catalog.reread(channel, notice_key(key))
        after = cache.get(key)
        return after is not None and (before is None or after.revision != before.revision)

    def _function_refreshed(self, key: str) -> None:
        # A full reload (after a lost link to the other nodes) announces each changed key too.
        self.resolve_cache.clear()
        account, region, name = key.split("\t")
        self.retire_environments(function_arn(region, account, name))

    def http_routes(self) -> dict[str, RawRoute]:
        """``GET /_postroom/lambda/code?sha=<hex>``: a function's or layer's zip (Code.Location)."""

        async def code(query: str, ctx: RequestContext) -> tuple[int, bytes, bytes]:
            sha = ""
            for pair in query.split("&"):
                key, _, value = pair.partition("=")
                if key == "sha":
                    sha = value
            if not _SHA.match(sha):
                return 400, b"text/plain", b"sha must be 64 hex digits"
            data = await self.code.read_zip(sha)  # functions' and layers' zips share storage
            if data is not None:
                return 200, b"application/zip", data
            return 404, b"text/plain", b"no such code"

        return {CODE_PATH: code}

    # -- helpers the operations share -------------------------------------------------

    def code_location(self, ctx: RequestContext, sha_hex: str) -> str:
        return f"{ctx.base_url}{CODE_PATH}?sha={sha_hex}"

    def function(self, ref: FunctionRef, qualified_error: bool = False) -> FunctionRecord:
        """The function ``ref`` names (a copy-free read); ResourceNotFound as AWS words it."""
        fn = self.catalog.functions.get(ref.key)
        if fn is None:
            raise function_not_found(ref.qualified_arn() if qualified_error else ref.arn)
        return fn

    def version_of(
        self, fn: FunctionRecord, ref: FunctionRef, alias_error: str = "function"
    ) -> str:
        """The stored version key ``ref``'s qualifier selects ($LATEST, a number, or an alias's)."""
        qualifier = ref.qualifier or LATEST
        if is_alias(qualifier):
            alias = fn.aliases.get(qualifier)
            if alias is None:
                arn = ref.qualified_arn()
                raise alias_not_found(arn) if alias_error == "alias" else function_not_found(arn)
            return alias["FunctionVersion"]
        if qualifier not in fn.versions:
            raise function_not_found(ref.qualified_arn())
        return qualifier

    async def save(self, fn: FunctionRecord, *, reserved_limit: int | None = None) -> None:
        """Store ``fn`` (a changed copy): StaleRecord if another node changed it since it was read."""
        before = self.catalog.functions.get(fn.key)
        await self.catalog.save_function(fn, reserved_limit=reserved_limit)
        self.resolve_cache.clear()
        if before is not None:
            await self.code.forget_unused(sorted(_packages(before) - _packages(fn)))

    async def delete(self, fn: FunctionRecord) -> None:
        await self.catalog.delete_function(fn.key)
        self.resolve_cache.clear()
        await self.code.forget_unused(sorted(_packages(fn)))

    async def _fetch_code(self, spec: FunctionSpec) -> None:
        """Before an environment starts: its code and layers unpacked on this node."""
        for store, directory in ((self.code, spec.code_dir), *((self.layer_code, d) for d in spec.layer_dirs)):
            sha = store.sha_of(directory)
            if sha is not None:
                await store.ensure(sha)  # if it cannot, the environment fails as for bad code

    def retire_environments(self, function_arn: str) -> None:
        """Code or configuration changed (or the function went): stop its environments."""
        if self.environments is not None:
            self.environments.retire(function_arn)

    def now_text(self) -> str:
        """A timestamp as Lambda writes LastModified: 2024-01-31T12:00:00.000+0000."""
        moment = datetime.fromtimestamp(self.clock.now_ms() / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"

    @staticmethod
    def new_revision() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def copy(fn: FunctionRecord) -> FunctionRecord:
        """A deep copy to change: the cached record is replaced only once the change commits."""
        return copy.deepcopy(fn)


class _LogsSink:
    """Environments' output to CloudWatch Logs, when that service is served."""

    def __init__(self, apis: Apis) -> None:
        self._apis = apis

    def write(self, account: str, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        logs = getattr(self._apis, "logs", None)
        if logs is not None:
            logs.write(account, region, group, stream, events)


def _packages(fn: FunctionRecord) -> set[str]:
    """The code packages (function and layer zips) the versions of ``fn`` name."""
    found: set[str] = set()
    for doc in fn.versions.values():
        found.update(_version_packages(doc))
    return found


def _version_packages(doc: Doc) -> list[str]:
    sha = (doc.get("_code") or {}).get("sha")
    return ([sha] if sha else []) + list(doc.get("_layers") or [])
