"""The AWS SDK for JavaScript v3 for Node handlers.

AWS's Node runtimes give handlers the SDK without bundling it. Postroom cannot ship it in a
Python package, so ``postroom node-sdk`` installs the common clients with npm once into a
per-user directory that every Node environment finds through ``NODE_PATH`` (``require``;
ES modules resolve packages without ``NODE_PATH``, so ESM handlers bundle the SDK or use
``createRequire``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PACKAGES = (
    "@aws-sdk/client-sqs", "@aws-sdk/client-sns", "@aws-sdk/client-lambda",
    "@aws-sdk/client-cloudwatch-logs", "@aws-sdk/client-iam", "@aws-sdk/client-sts",
    "@aws-sdk/client-s3", "@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb",
)


def default_dir() -> Path:
    """``$POSTROOM_NODE_SDK``, else ``~/.cache/postroom/node-sdk``."""
    configured = os.environ.get("POSTROOM_NODE_SDK")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "postroom" / "node-sdk"


def install(target: Path, packages: tuple[str, ...] = PACKAGES) -> None:
    """npm-install ``packages`` into ``target`` (its ``node_modules``). Raises RuntimeError."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: Node functions will run without the AWS SDK")
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(target), *packages],
        capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm install failed: {done.stderr.strip()[-2000:]}")
