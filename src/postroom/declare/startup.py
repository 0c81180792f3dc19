"""What ``postroom serve`` does once it is ready: apply ``--config``, then run the init
hooks in ``--init-dir``/``ready.d`` (LocalStack's layout, for drop-in migration)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from pathlib import Path

from postroom.declare.apply import Applier
from postroom.declare.config import Config, ConfigError

log = logging.getLogger("postroom.init")


async def on_ready(endpoint_url: str, resources: Config | None, init_dir: Path | None) -> bool:
    """Apply the resources, then run the hooks; False when the resources could not be applied."""
    if resources is not None:
        try:
            changes = await asyncio.to_thread(Applier(endpoint_url, log.info).apply, resources)
        except ConfigError as exc:
            log.error("%s", exc)
            return False
        log.info("applied %s: %d change(s)", resources.path, changes)
    if init_dir is not None:
        await run_hooks(init_dir / "ready.d", endpoint_url)
    return True


def hook_command(script: Path) -> list[str] | None:
    """How a hook runs: ``.sh`` with bash (else sh), ``.py`` with this Python; else not at all."""
    if script.suffix == ".sh":
        return [shutil.which("bash") or "sh", str(script)]
    if script.suffix == ".py":
        return [sys.executable, str(script)]
    return None


async def run_hooks(directory: Path, endpoint_url: str) -> None:
    """Run each script of ``directory`` in name order, one at a time, logging its output."""
    if not directory.is_dir():
        log.info("no init hooks: %s is not a directory", directory)
        return
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint_url)
    for key, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        env.setdefault(key, value)
    for script in sorted(p for p in directory.iterdir() if p.is_file()):
        command = hook_command(script)
        if command is None:
            log.warning("init hook %s skipped: only .sh and .py scripts run", script.name)
            continue
        log.info("init hook %s: running", script.name)
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=directory, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            assert proc.stdout is not None
            async for line in proc.stdout:
                log.info("init hook %s: %s", script.name, line.decode(errors="replace").rstrip())
            code = await proc.wait()
        except asyncio.CancelledError:  # the server is stopping
            proc.kill()
            await proc.wait()
            raise
        if code == 0:
            log.info("init hook %s: done", script.name)
        else:
            log.error("init hook %s: exited with %d", script.name, code)


__all__ = ["ConfigError", "on_ready", "run_hooks"]
