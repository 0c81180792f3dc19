"""Code packages on disk: zips stored by content, each unpacked once, validated as AWS does.

``<root>/code/<sha256>.zip`` is written atomically (temp file, fsync, rename) before any
metadata names it; ``<root>/unpacked/<sha256>/`` is unpacked into a temp dir and renamed, so a
crash never leaves a half-unpacked tree under the final name.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from postroom.lambda_ import limits
from postroom.lambda_.errors import invalid_parameter, too_large

HOT_RELOAD_BUCKET = "hot-reload"
HOT_RELOAD_SHA = "hot-reloading-hash-not-available"
_BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A stored package: its digest (hex, for paths; base64, as AWS reports it) and size."""

    sha_hex: str
    sha256: str  # base64 of the digest: CodeSha256
    size: int
    unzipped_size: int


class CodeStore:
    """Content-addressed zips and their unpacked trees under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.zips = root / "code"
        self.unpacked = root / "unpacked"

    def zip_path(self, sha_hex: str) -> Path:
        return self.zips / f"{sha_hex}.zip"

    def code_dir(self, sha_hex: str) -> Path:
        return self.unpacked / sha_hex

    async def store(self, data: bytes) -> StoredCode:
        """Validate, store and unpack a zip (off the event loop)."""
        return await asyncio.to_thread(self._store, data)

    def _store(self, data: bytes) -> StoredCode:
        digest = hashlib.sha256(data).digest()
        sha_hex = digest.hex()
        unzipped = _check_zip(data)
        self.zips.mkdir(parents=True, exist_ok=True)
        self.unpacked.mkdir(parents=True, exist_ok=True)
        # Unpack first: a zip whose entries cannot be read (bad CRC, a file where a
        # directory must go) is refused before anything names it.
        final = self.code_dir(sha_hex)
        if not final.exists():
            temp = Path(tempfile.mkdtemp(prefix=f".{sha_hex[:12]}-", dir=self.unpacked))
            try:
                _unpack(data, temp)
                os.replace(temp, final)
            except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError):
                shutil.rmtree(temp, ignore_errors=True)
                if not final.exists():  # else another request unpacking it won the race
                    raise invalid_parameter(_BAD_ZIP) from None
        target = self.zip_path(sha_hex)
        if not target.exists():
            _write_atomically(target, data)
        return StoredCode(sha_hex, base64.b64encode(digest).decode(), len(data), unzipped)

    def read_zip(self, sha_hex: str) -> bytes | None:
        path = self.zip_path(sha_hex)
        return path.read_bytes() if path.is_file() else None


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


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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
