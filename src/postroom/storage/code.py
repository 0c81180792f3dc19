"""Interface of Lambda code packages in storage: zips by their SHA-256, shared by every node.

A package row is written before any function or layer version names it; a node that lacks
a package's unpacked tree fetches the zip from here (see lambda_/code.py).
"""

from __future__ import annotations

from typing import Protocol


class CodePackageStore(Protocol):
    async def put(self, sha_hex: str, data: bytes, now: int) -> None:
        """Store ``data`` under its digest (committed when this returns); storing it again
        only marks it as put at ``now``, which keeps it from ``delete_unreferenced``."""
        ...

    async def get(self, sha_hex: str) -> bytes | None: ...

    async def stored(self, shas: list[str]) -> set[str]:
        """Which of ``shas`` are stored."""
        ...

    async def delete_unreferenced(self, shas: list[str] | None, put_before: int) -> list[str]:
        """Delete those of ``shas`` (None: every package) that no function or layer version
        names and that were last put before ``put_before`` (a package being put now may not
        be named yet); the deleted ones."""
        ...
