"""Function configuration: validating the settable fields, and the shape AWS answers with."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import orjson

from postroom.lambda_ import limits
from postroom.lambda_.errors import (
    check_length,
    check_range,
    constraint,
    invalid_parameter,
    unsupported,
)
from postroom.lambda_.names import function_arn, layer_arn, parse_layer
from postroom.protocol.model import load_service_model
from postroom.storage.functions import Doc, FunctionRecord

if TYPE_CHECKING:
    from postroom.lambda_.service import LambdaService

_ROLE = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_ROLE_RULE = r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
_ENV_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
_HANDLER = re.compile(r"^[^\s]+$")
_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# What ListFunctions and ListVersionsByFunction leave out of each configuration, as AWS does.
_NOT_LISTED = (
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
)
# Fields whose change means a new version is worth publishing (not timestamps or ids).
_VOLATILE = ("LastModified", "RevisionId", "Version")


def runtimes() -> list[str]:
    return load_service_model("lambda").shapes["Runtime"]["enum"]


def check_role(role: str | None) -> None:
    if role is None or not _ROLE.match(role):
        raise constraint(role, "role", _ROLE_RULE)


def check_runtime(runtime: str) -> None:
    known = runtimes()
    if runtime not in known:
        raise invalid_parameter(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(r for r in known if r not in limits.DEPRECATED_RUNTIMES)}] or be a valid ARN"
        )
    if runtime in limits.DEPRECATED_RUNTIMES:
        raise invalid_parameter(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            f"functions. We recommend you use the new runtime ({limits.DEPRECATED_RUNTIMES[runtime]}) while "
            "creating or updating functions."
        )


def check_environment(env: dict[str, Any] | None) -> dict[str, str]:
    variables = dict((env or {}).get("Variables") or {})
    for key in variables:
        if not _ENV_KEY.match(key):
            raise constraint(
                key,
                "environment.variables",
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                "[a-zA-Z]([a-zA-Z0-9_])+]",
            )
    reserved = [k for k in variables if k in limits.RESERVED_ENVIRONMENT]
    if reserved:
        raise invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment variables you "
            "have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = orjson.dumps(variables).decode()
    if len(measured.encode()) > limits.ENVIRONMENT_MAX_BYTES:
        raise invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided exceeded the 4KB limit. String measured: {measured}"
        )
    return variables


def resolve_layers(
    svc: LambdaService, arns: list[str], account: str, region: str
) -> list[tuple[Doc, str]]:
    """Each layer version ARN's (Layers entry, unpacked code sha); AWS's errors otherwise."""
    if len(arns) > limits.LAYERS_PER_FUNCTION:
        raise invalid_parameter("Cannot reference more than 5 layers.")
    seen: dict[str, str] = {}
    out = []
    for arn in arns:
        try:
            l_account, l_region, name, version = parse_layer(arn, account, region)
        except Exception:
            version = None
        if version is None or not arn.startswith("arn:"):
            raise constraint(
                f"[{arn}]",
                "layers",
                "Member must satisfy constraint: [Member must have length less than or equal to 140, Member must "
                "have length greater than or equal to 1, Member must satisfy regular expression pattern: "
                "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|"
                "(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]",
            )
        if l_region != region:
            raise invalid_parameter(
                f"Layers are not in the same region as the function. Layers are expected to be in region {region}."
            )
        layer = svc.catalog.layers.get((l_account, l_region, name))
        doc = layer.versions.get(version) if layer is not None else None
        if doc is None:
            raise invalid_parameter(f"Layer version {arn} does not exist.")
        base = layer_arn(l_region, l_account, name)
        if base in seen:
            raise invalid_parameter(
                "Two different versions of the same layer are not allowed to be referenced in the same function. "
                f"{seen[base]} and {arn} are versions of the same layer."
            )
        seen[base] = arn
        out.append(({"Arn": arn, "CodeSize": doc["Content"]["CodeSize"]}, doc["_sha"]))
    return out


def apply_settings(
    svc: LambdaService, doc: Doc, p: dict[str, Any], account: str, region: str
) -> None:
    """Validate the configuration members present in ``p`` and set them on ``doc``."""
    refuse_unsupported(p)
    if "Role" in p:
        check_role(p["Role"])
        doc["Role"] = p["Role"]
    if p.get("Runtime") is not None:
        check_runtime(p["Runtime"])
        doc["Runtime"] = p["Runtime"]
    if "Handler" in p:
        check_length(p["Handler"], "handler", limits.HANDLER_MAX)
        if p["Handler"] and not _HANDLER.match(p["Handler"]):
            raise constraint(
                p["Handler"], "handler", "Member must satisfy regular expression pattern: [^\\s]+"
            )
        doc["Handler"] = p["Handler"]
    if "Description" in p:
        check_length(p["Description"], "description", limits.DESCRIPTION_MAX)
        doc["Description"] = p["Description"] or ""
    if "Timeout" in p:
        check_range(p["Timeout"], "timeout", limits.TIMEOUT_MIN, limits.TIMEOUT_MAX)
        doc["Timeout"] = p["Timeout"]
    if "MemorySize" in p:
        check_range(p["MemorySize"], "memorySize", limits.MEMORY_MIN, limits.MEMORY_MAX)
        doc["MemorySize"] = p["MemorySize"]
    if "EphemeralStorage" in p:
        size = (p["EphemeralStorage"] or {}).get("Size")
        check_range(size, "ephemeralStorage.size", limits.EPHEMERAL_MIN, limits.EPHEMERAL_MAX)
        doc["EphemeralStorage"] = {"Size": size or limits.EPHEMERAL_DEFAULT}
    if "Environment" in p:
        doc["Environment"] = {"Variables": check_environment(p["Environment"])}
    if "TracingConfig" in p:
        mode = (p["TracingConfig"] or {}).get("Mode") or "PassThrough"
        if mode not in ("Active", "PassThrough"):
            raise constraint(
                mode,
                "tracingConfig.mode",
                "Member must satisfy enum value set: [Active, PassThrough]",
            )
        doc["TracingConfig"] = {"Mode": mode}
    if "DeadLetterConfig" in p:
        target = (p["DeadLetterConfig"] or {}).get("TargetArn")
        if target:
            service = target.split(":")[2] if target.count(":") >= 5 else ""
            if not target.startswith("arn:") or service not in ("sqs", "sns"):
                raise invalid_parameter(
                    f"The provided target arn {target} is invalid: only SQS queues and SNS topics are valid targets."
                )
            doc["DeadLetterConfig"] = {"TargetArn": target}
        else:
            doc.pop("DeadLetterConfig", None)
    if "KMSKeyArn" in p:
        if p["KMSKeyArn"]:
            doc["KMSKeyArn"] = p["KMSKeyArn"]
        else:
            doc.pop("KMSKeyArn", None)
    if "Layers" in p:
        resolved = resolve_layers(svc, list(p["Layers"] or []), account, region)
        doc["Layers"] = [entry for entry, _ in resolved]
        doc["_layers"] = [sha for _, sha in resolved]
        if not doc["Layers"]:
            doc.pop("Layers")
    if "LoggingConfig" in p:
        doc["LoggingConfig"] = _logging_config(p["LoggingConfig"] or {}, doc)
    if "Architectures" in p:
        arch = p["Architectures"] or ["x86_64"]
        if len(arch) != 1:
            raise constraint(
                f"[{', '.join(arch)}]",
                "architectures",
                "Member must have length less than or equal to 1",
            )
        if arch[0] not in ("x86_64", "arm64"):
            raise constraint(
                f"[{', '.join(arch)}]",
                "architectures",
                "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], "
                "Member must not be null]",
            )
        doc["Architectures"] = list(arch)


def _logging_config(given: dict[str, Any], doc: Doc) -> Doc:
    current = dict(doc.get("LoggingConfig") or {})
    fmt = given.get("LogFormat") or current.get("LogFormat") or "Text"
    if fmt not in ("JSON", "Text"):
        raise constraint(
            fmt, "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]"
        )
    out: Doc = {"LogFormat": fmt}
    for key, path in (
        ("ApplicationLogLevel", "applicationLogLevel"),
        ("SystemLogLevel", "systemLogLevel"),
    ):
        level = given.get(key) or current.get(key)
        if level is not None and level not in _LOG_LEVELS:
            raise constraint(
                level,
                f"loggingConfig.{path}",
                f"Member must satisfy enum value set: [{', '.join(_LOG_LEVELS)}]",
            )
        if fmt == "JSON":
            out[key] = level or "INFO"
        elif given.get(key):
            raise invalid_parameter(f"{key} can be set only when LogFormat is JSON.")
    out["LogGroup"] = (
        given.get("LogGroup") or current.get("LogGroup") or f"/aws/lambda/{doc['FunctionName']}"
    )
    return out


def refuse_unsupported(p: dict[str, Any]) -> None:
    """Clear errors for features Postroom does not offer."""
    if p.get("PackageType") == "Image" or p.get("ImageConfig"):
        raise unsupported("PackageType Image (container image functions)")
    if (p.get("SnapStart") or {}).get("ApplyOn") not in (None, "None"):
        raise unsupported("SnapStart")
    if p.get("CodeSigningConfigArn"):
        raise unsupported("Code signing")
    vpc = p.get("VpcConfig") or {}
    if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"):
        raise unsupported("VpcConfig")
    if p.get("FileSystemConfigs"):
        raise unsupported("FileSystemConfigs (EFS)")
    if p.get("CapacityProviderConfig"):
        raise unsupported("CapacityProviderConfig (capacity providers)")
    if p.get("DurableConfig"):
        raise unsupported("DurableConfig (durable executions)")
    if p.get("TenancyConfig"):
        raise unsupported("TenancyConfig")
    if p.get("PublishTo"):
        raise unsupported("PublishTo")


def digest(doc: Doc) -> str:
    """What a published version is compared on: everything but timestamps and ids."""
    stable = {k: v for k, v in doc.items() if k not in _VOLATILE}
    return hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()


def configuration(
    fn: FunctionRecord,
    doc: Doc,
    *,
    qualified: str | None = None,
    update_status: str | None = "Successful",
    state: str = "Active",
) -> Doc:
    """The FunctionConfiguration AWS answers with for one stored version."""
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    out["FunctionArn"] = function_arn(fn.region, fn.account, fn.name, qualified)
    if out.get("Runtime"):
        # AWS names the managed runtime build a function runs on; one stable id per runtime.
        build = hashlib.sha256(out["Runtime"].encode()).hexdigest()
        out["RuntimeVersionConfig"] = {
            "RuntimeVersionArn": f"arn:aws:lambda:{fn.region}::runtime:{build}"
        }
    if state == "Pending":
        out.update(
            State="Pending",
            StateReason="The function is being created.",
            StateReasonCode="Creating",
        )
    else:
        out["State"] = state
    if update_status == "InProgress":
        out.update(
            LastUpdateStatus="InProgress",
            LastUpdateStatusReason="The function is being created.",
            LastUpdateStatusReasonCode="Creating",
        )
    elif update_status is not None:
        out["LastUpdateStatus"] = update_status
    return out


def version_configuration(fn: FunctionRecord, version: str, *, qualified: bool) -> Doc:
    """A stored version as read back: Active, its last update Successful."""
    doc = fn.versions[version]
    return configuration(
        fn,
        doc,
        qualified=version if qualified else None,
        update_status="Successful",
    )


def listed(config: Doc) -> Doc:
    """A configuration as the List* operations show it."""
    for key in _NOT_LISTED:
        config.pop(key, None)
    return config
