"""Lambda code packages in SQL: one row per zip, keyed by its hex SHA-256."""

from __future__ import annotations

from postroom.storage.sql.txn import Committer, Connection, Txn

# A version names its package inside its JSON doc (function versions: ``_code.sha`` and
# ``_layers``; layer versions: ``_sha``): a 64-hex-digit digest matches nothing else.
_UNREFERENCED = (
    "DELETE FROM lambda_code WHERE sha=? AND created_at<?"
    " AND NOT EXISTS (SELECT 1 FROM lambda_function_parts WHERE kind='versions' AND doc LIKE ?)"
    " AND NOT EXISTS (SELECT 1 FROM lambda_layer_versions WHERE doc LIKE ?)"
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
            gone = []
            candidates = shas if shas is not None else [
                row[0] for row in conn.execute("SELECT sha FROM lambda_code WHERE created_at<?", (put_before,))
            ]
            for sha in candidates:
                pattern = f"%{sha}%"  # a parameter: no literal % in SQL (PostgreSQL's paramstyle)
                if conn.execute(_UNREFERENCED, (sha, put_before, pattern, pattern)).rowcount:
                    gone.append(sha)
            return gone

        return await self._committer.run(op, drain=True)  # frees space: runs on a full disk too
