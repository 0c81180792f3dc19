"""Code packages: zips stored by content in storage (shared by every node), each unpacked
once per node into a local cache, validated as AWS does.

The zip is committed to storage before any metadata names it. ``<cache>/unpacked/<sha256>/``
is unpacked into a temp dir and renamed, so a crash never leaves a half-unpacked tree under
the final name; a node that lacks the tree (another node stored the zip, or the cache was
removed) fetches the zip from storage before an environment starts. Zips that older
releases kept on disk (``<cache>/code/<sha256>.zip``) move into storage at start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from postroom.clock import Clock
from postroom.lambda_ import limits
from postroom.lambda_.errors import invalid_parameter, too_large
from postroom.storage.code import CodePackageStore

log = logging.getLogger("postroom.lambda")

HOT_RELOAD_BUCKET = "hot-reload"
HOT_RELOAD_SHA = "hot-reloading-hash-not-available"
_BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
# zipfile raises NotImplementedError for a compression method it lacks: a bad package.
_UNPACK_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A stored package: its digest (hex, for paths; base64, as AWS reports it) and size."""

    sha_hex: str
    sha256: str  # base64 of the digest: CodeSha256
    size: int
    unzipped_size: int


class CodeStore:
    """Packages in storage, unpacked on demand into the node-local ``root/unpacked``."""

    def __init__(self, root: Path, packages: CodePackageStore, clock: Clock) -> None:
        self.root = root
        self.legacy_zips = root / "code"  # where releases before shared storage kept zips
        self.unpacked = root / "unpacked"
        self._packages = packages
        self._clock = clock
        self._unpacking: dict[str, asyncio.Lock] = {}

    def code_dir(self, sha_hex: str) -> Path:
        return self.unpacked / sha_hex

    def sha_of(self, code_dir: Path) -> str | None:
        """The package whose unpacked tree ``code_dir`` is (None for other directories)."""
        return code_dir.name if code_dir.parent == self.unpacked else None

    async def store(self, data: bytes) -> StoredCode:
        """Validate and unpack a zip (off the event loop), then commit it to storage."""
        digest = hashlib.sha256(data).digest()
        sha_hex = digest.hex()
        unzipped = await asyncio.to_thread(self._validate_and_unpack, data, sha_hex)
        await self._packages.put(sha_hex, data, self._clock.now_ms())
        return StoredCode(sha_hex, base64.b64encode(digest).decode(), len(data), unzipped)

    def _validate_and_unpack(self, data: bytes, sha_hex: str) -> int:
        unzipped = _check_zip(data)
        # Unpack first: a zip whose entries cannot be read (bad CRC, a file where a
        # directory must go) is refused before anything names it.
        if not self._unpack(data, sha_hex):
            raise invalid_parameter(_BAD_ZIP)
        return unzipped

    def _unpack(self, data: bytes, sha_hex: str) -> bool:
        """Unpack into the cache under a temp name, then rename; False if it cannot be read."""
        final = self.code_dir(sha_hex)
        if final.exists():
            return True
        self.unpacked.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{sha_hex[:12]}-", dir=self.unpacked))
        try:
            _unpack(data, temp)
            os.replace(temp, final)
        except _UNPACK_ERRORS:
            shutil.rmtree(temp, ignore_errors=True)
            return final.exists()  # another request unpacking it may have won the race
        return True

    async def ensure(self, sha_hex: str) -> bool:
        """Make sure the package's tree is in this node's cache, fetching the zip from
        storage if need be (concurrent callers fetch once); False if storage lacks it."""
        if self.code_dir(sha_hex).is_dir():
            return True
        # One lock per package this node has fetched (a few bytes each, kept).
        async with self._unpacking.setdefault(sha_hex, asyncio.Lock()):
            if self.code_dir(sha_hex).is_dir():
                return True
            data = await self._packages.get(sha_hex)
            if data is None:
                log.error("code package %s is not in storage: its environments cannot start", sha_hex)
                return False
            unpacked = await asyncio.to_thread(self._unpack, data, sha_hex)
            del data  # up to 50 MB: not kept while the environment starts
            if not unpacked:
                log.error("code package %s could not be unpacked", sha_hex)
            return unpacked

    async def read_zip(self, sha_hex: str) -> bytes | None:
        return await self._packages.get(sha_hex)

    async def forget_unused(self, shas: list[str] | None) -> list[str]:
        """Delete from storage those of ``shas`` (None: every package) that no version names
        any more; the cached trees stay (an environment may still run in one)."""
        if shas is not None and not shas:
            return []
        chosen = None if shas is None else sorted(set(shas))
        return await self._packages.delete_unreferenced(chosen, self._clock.now_ms() - PUT_GRACE_MS)

    async def migrate(self) -> int:
        """Move zips an older release kept under ``root/code`` into storage; how many."""
        if not self.legacy_zips.is_dir():
            return 0
        found = {p.stem: p for p in self.legacy_zips.glob("*.zip") if len(p.stem) == 64}
        stored = await self._packages.stored(sorted(found)) if found else set()
        moved = 0
        for sha_hex, path in sorted(found.items()):
            if sha_hex not in stored:
                data = await asyncio.to_thread(path.read_bytes)
                if hashlib.sha256(data).hexdigest() != sha_hex:
                    log.warning("%s does not hold the package its name says: left in place", path)
                    continue
                await self._packages.put(sha_hex, data, self._clock.now_ms())
                moved += 1
            path.unlink()  # committed in storage: the file is no longer the copy of record
        for leftover in self.legacy_zips.glob(".tmp-*"):  # an interrupted write of old
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.legacy_zips.rmdir()  # only when empty
        if moved:
            log.info("moved %d code package(s) from %s into storage", moved, self.legacy_zips)
        return moved


# A package's row outlives its last reference by at least this long: a request that has
# just put a package (perhaps one already stored) names it in its next transaction.
PUT_GRACE_MS = 15 * 60 * 1000


def _check_zip(data: bytes) -> int:
    """The unzipped size; InvalidParameterValue for anything AWS would refuse."""
    if len(data) > limits.ZIP_MAX_BYTES:
        raise too_large(f"Zipped size must be smaller than {limits.ZIP_MAX_BYTES} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        raise invalid_parameter(_BAD_ZIP) from None
    total = 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or ".." in parts:
            raise invalid_parameter(_BAD_ZIP)
        total += info.file_size
    if total > limits.UNZIPPED_MAX_BYTES:
        raise invalid_parameter(
            f"Unzipped size must be smaller than {limits.UNZIPPED_MAX_BYTES} bytes"
        )
    return total


def _unpack(data: bytes, into: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            target = into / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = (info.external_attr >> 16) & 0o777
            if stat.S_ISLNK(info.external_attr >> 16):
                # Symlinks inside a package are kept as files holding their target text.
                mode = 0
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            # Keep the execute bit (bootstrap files of custom runtimes need it).
            os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def hot_reload_dir(key: str | None) -> Path:
    """The directory a hot-reload ``S3Key`` names (absolute, existing)."""
    if not key or not os.path.isabs(key):
        raise invalid_parameter(
            f"Hot-reload code needs an absolute directory path as S3Key, got: {key}"
        )
    path = Path(key)
    if not path.is_dir():
        raise invalid_parameter(f"Hot-reload directory does not exist: {key}")
    return path
