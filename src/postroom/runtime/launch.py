"""How an execution environment's process is started: its command line and environment.

One function per runtime family (Python through AWS's own runtime client, Node through the
project's bootstrap, custom runtimes through the code's ``bootstrap``); the variables are
AWS's "Defined runtime environment variables", with the function's own on top except the
reserved ones.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from postroom.runtime.api import FunctionSpec, RuntimeSettings

log = logging.getLogger("postroom.runtime")

NODE_BOOTSTRAP = Path(__file__).with_name("node") / "bootstrap.mjs"

# Variables a function may not set (AWS rejects them at CreateFunction; here they just win).
RESERVED = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

_warned_versions: set[str] = set()


class LaunchError(Exception):
    """The environment cannot be started; answered to the invocation as an init error."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True, slots=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def family(runtime: str) -> str:
    """"python", "node" or "provided"; LaunchError for runtimes Postroom cannot run."""
    if runtime.startswith("python3"):
        return "python"
    if runtime.startswith("nodejs"):
        return "node"
    if runtime == "provided" or runtime.startswith("provided."):
        return "provided"
    raise LaunchError("Runtime.InvalidRuntime",
                      f"Postroom cannot run the {runtime} runtime (python3.x, nodejs*, provided*)")


def build(spec: FunctionSpec, settings: RuntimeSettings, *, runtime_api: str, stream: str,
          tmp_dir: Path) -> Launch:
    """The command line and complete environment for one environment of ``spec``."""
    kind = family(spec.runtime)
    layer_bins = [str(d / "bin") for d in spec.layer_dirs]
    env = {
        "PATH": os.pathsep.join([*layer_bins, os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")]),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LD_LIBRARY_PATH": os.pathsep.join(
            [str(spec.code_dir), str(spec.code_dir / "lib"), *(str(d / "lib") for d in spec.layer_dirs)]),
        "TMPDIR": str(tmp_dir),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    if kind == "python":
        argv = [_python(spec.runtime, settings), "-m", "awslambdaric", spec.handler]
        runtime_dir = Path(argv[0]).parent
        env["PYTHONPATH"] = os.pathsep.join(_python_path(spec))
        env["PYTHONUNBUFFERED"] = "1"
    elif kind == "node":
        argv = ["node", str(NODE_BOOTSTRAP)]
        runtime_dir = NODE_BOOTSTRAP.parent
        env["NODE_PATH"] = os.pathsep.join(_node_path(spec, settings))
    else:
        argv = [str(_bootstrap(spec))]
        runtime_dir = Path(argv[0]).parent
    env.update({k: v for k, v in spec.environment if k not in RESERVED})
    env.update({
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group or f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),  # AWS: /var/runtime, where the runtime lives
        # Credentials for the function's account: a 12-digit access key id is the account;
        # the secret is the server's function secret when signatures are verified.
        "AWS_ACCESS_KEY_ID": spec.account,
        "AWS_ACCESS_KEY": spec.account,
        "AWS_SECRET_ACCESS_KEY": settings.secret_access_key,
        "AWS_SESSION_TOKEN": "test",
        "AWS_ENDPOINT_URL": settings.endpoint_url,
    })
    if kind != "provided":  # AWS leaves it unset on OS-only runtimes
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    return Launch(argv=argv, env=env, cwd=spec.code_dir)


def _python(runtime: str, settings: RuntimeSettings) -> str:
    configured = settings.interpreters.get(runtime)
    if configured:
        return configured
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != ours and runtime not in _warned_versions:
        _warned_versions.add(runtime)
        log.warning("%s functions run on the server's own interpreter (%s); configure an "
                    "interpreter for %s to match AWS", runtime, ours, runtime)
    return sys.executable


def _python_path(spec: FunctionSpec) -> list[str]:
    version = spec.runtime.removeprefix("python")  # "3.12"
    paths = [str(spec.code_dir)]
    for layer in spec.layer_dirs:
        paths.append(str(layer / "python"))
        paths.append(str(layer / "python" / "lib" / f"python{version}" / "site-packages"))
    return paths


def _node_path(spec: FunctionSpec, settings: RuntimeSettings) -> list[str]:
    major = spec.runtime.removeprefix("nodejs").split(".")[0]  # "nodejs20.x" -> "20"
    paths = []
    for layer in spec.layer_dirs:
        paths.append(str(layer / "nodejs" / f"node{major}" / "node_modules"))
        paths.append(str(layer / "nodejs" / "node_modules"))
    for base in (settings.node_sdk_dir, settings.work_dir):
        if base is not None and (base / "node_modules").is_dir():
            paths.append(str(base / "node_modules"))  # stands in for the SDK AWS's runtime bundles
    return paths


def _bootstrap(spec: FunctionSpec) -> Path:
    # AWS looks in the function's code, then in the layers (/opt).
    candidates = [spec.code_dir / "bootstrap", *(d / "bootstrap" for d in spec.layer_dirs)]
    for path in candidates:
        if path.is_file():
            if not os.access(path, os.X_OK):
                raise LaunchError("Runtime.InvalidEntrypoint",
                                  f"fork/exec {path}: permission denied")
            return path
    raise LaunchError("Runtime.InvalidEntrypoint",
                      "Couldn't find valid bootstrap(s): ["
                      + " ".join(str(p) for p in candidates) + "]")
