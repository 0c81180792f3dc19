"""Lambda code packages in SQL: one row per zip, keyed by its hex SHA-256."""

from __future__ import annotations

import re

from postroom.storage.sql.txn import Committer, Connection, Txn

# A version names its packages inside its JSON doc (function versions: ``_code.sha`` and
# ``_layers``; layer versions: ``_sha``). Any 64-hex-digit string there counts as a
# reference: one pass over the docs, and a false match only keeps a package longer.
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAMING_DOCS = (
    "SELECT doc FROM lambda_function_parts WHERE kind='versions'",
    "SELECT doc FROM lambda_layer_versions",
)


class SqlCodeStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def put(self, sha_hex: str, data: bytes, now: int) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "INSERT INTO lambda_code (sha, data, size, created_at) VALUES (?,?,?,?)"
                " ON CONFLICT (sha) DO UPDATE SET created_at=excluded.created_at",
                (sha_hex, data, len(data), now),
            )

        await self._committer.run(op)

    async def get(self, sha_hex: str) -> bytes | None:
        def op(conn: Connection, txn: Txn) -> bytes | None:
            row = conn.execute("SELECT data FROM lambda_code WHERE sha=?", (sha_hex,)).fetchone()
            return None if row is None else bytes(row[0])

        return await self._committer.run(op, drain=True)

    async def stored(self, shas: list[str]) -> set[str]:
        def op(conn: Connection, txn: Txn) -> set[str]:
            return {
                sha for sha in shas
                if conn.execute("SELECT 1 FROM lambda_code WHERE sha=?", (sha,)).fetchone() is not None
            }

        return await self._committer.run(op, drain=True)

    async def delete_unreferenced(self, shas: list[str] | None, put_before: int) -> list[str]:
        def op(conn: Connection, txn: Txn) -> list[str]:
            # One transaction: a version committed before it is seen; one committed after
            # names a package put within the grace, which this leaves alone.
            old = [
                sha for (sha,) in conn.execute("SELECT sha FROM lambda_code WHERE created_at<?", (put_before,))
            ]
            candidates = old if shas is None else sorted(set(shas) & set(old))
            if not candidates:
                return []
            named: set[str] = set()
            for query in _NAMING_DOCS:
                for (doc,) in conn.execute(query).fetchall():
                    named.update(_HEX64.findall(doc))
            gone = [sha for sha in candidates if sha not in named]
            conn.executemany("DELETE FROM lambda_code WHERE sha=?", [(sha,) for sha in gone])
            return gone

        return await self._committer.run(op, drain=True)  # frees space: runs on a full disk too
