"""Resolve what an invocation names to the function version to run (the invoke hot path).

Answers are cached per (account, region, name, qualifier) until any function changes; an
alias with routing weights keeps both candidates and picks one per call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from postroom.lambda_.errors import function_not_found
from postroom.lambda_.names import LATEST, is_alias, parse_function
from postroom.runtime.api import FunctionSpec
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ResolvedFunction:
    spec: FunctionSpec  # revision changes with every code/config change
    function_arn: str  # unqualified
    qualified_arn: str  # as AWS reports the invoked ARN (with :version or :alias when given)
    executed_version: str  # "$LATEST" or "3" (alias routing weights applied)
    state: str  # "Active" | "Pending" | "Inactive" | "Failed"
    reserved_concurrency: int | None
    event_invoke_config: (
        dict | None
    )  # the stored PutFunctionEventInvokeConfig shape for this qualifier
    dead_letter_arn: str | None  # DeadLetterConfig.TargetArn


@dataclass(frozen=True, slots=True)
class _Weighted:
    primary: ResolvedFunction
    other: ResolvedFunction
    weight: float  # the share of calls that run ``other``


async def resolve(
    svc: LambdaService, account: str, region: str, function: str, qualifier: str | None
) -> ResolvedFunction:
    """The version an invocation of ``function`` (name, partial or full ARN, maybe with
    ``:qualifier``) runs; ResourceNotFound / InvalidParameterValue as AWS answers them."""
    key = (account, region, function, qualifier)
    found = svc.resolve_cache.get(key)
    if found is None:
        ref = parse_function(function, account, region, qualifier)
        if ref.key not in svc.catalog.functions:
            # Another node may have created it a moment ago, before its notice arrived.
            await svc.catalog.find_function(ref.key)
        found = _build(svc, account, region, function, qualifier)
        if len(svc.resolve_cache) >= _CACHE_LIMIT:
            svc.resolve_cache.clear()
        svc.resolve_cache[key] = found
    if isinstance(found, _Weighted):
        return found.other if random.random() < found.weight else found.primary
    return found


def _build(
    svc: LambdaService, account: str, region: str, function: str, qualifier: str | None
) -> ResolvedFunction | _Weighted:
    ref = parse_function(function, account, region, qualifier)
    fn = svc.catalog.functions.get(ref.key)
    if fn is None:
        raise function_not_found(ref.qualified_arn())
    named = ref.qualifier or LATEST
    invoked_arn = ref.qualified_arn()
    if is_alias(named):
        alias = fn.aliases.get(named)
        if alias is None:
            raise function_not_found(invoked_arn)
        primary = _resolved(svc, fn, alias["FunctionVersion"], named, invoked_arn)
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        for version, weight in weights.items():
            if version in fn.versions:
                return _Weighted(
                    primary, _resolved(svc, fn, version, named, invoked_arn), float(weight)
                )
        return primary
    if named not in fn.versions:
        raise function_not_found(invoked_arn)
    return _resolved(svc, fn, named, named, invoked_arn)


def _resolved(
    svc: LambdaService, fn: FunctionRecord, version: str, named: str, invoked_arn: str
) -> ResolvedFunction:
    doc = fn.versions[version]
    code_dir, state = _code_dir(svc, doc)
    arn = f"arn:aws:lambda:{fn.region}:{fn.account}:function:{fn.name}"
    variables = (doc.get("Environment") or {}).get("Variables") or {}
    spec = FunctionSpec(
        account=fn.account,
        region=fn.region,
        function_name=fn.name,
        function_arn=arn,
        version=version,
        runtime=doc.get("Runtime", ""),
        handler=doc.get("Handler", ""),
        code_dir=code_dir,
        layer_dirs=tuple(svc.layer_code.code_dir(sha) for sha in doc.get("_layers", [])),
        environment=tuple(variables.items()),
        timeout_s=doc["Timeout"],
        memory_mb=doc["MemorySize"],
        revision=doc["RevisionId"],
        log_group=(doc.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{fn.name}",
    )
    return ResolvedFunction(
        spec=spec,
        function_arn=arn,
        qualified_arn=invoked_arn,
        executed_version=version,
        state=state,
        reserved_concurrency=fn.reserved_concurrency,
        event_invoke_config=fn.event_invoke_configs.get(named),
        dead_letter_arn=(doc.get("DeadLetterConfig") or {}).get("TargetArn"),
    )


def _code_dir(svc: LambdaService, doc: Doc) -> tuple[Path, str]:
    code = doc.get("_code") or {}
    if code.get("dir"):
        path = Path(code["dir"])
        # A hot-reload directory that has gone cannot start an environment.
        return path, "Active" if path.is_dir() else "Failed"
    return svc.code.code_dir(code.get("sha", "")), "Active"
