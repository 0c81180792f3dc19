"""Lambda storage on SQLite: every function and layer cached in memory, written through.

A change to a function rewrites that function's rows in one transaction (a function has
few rows), so a version, its alias and the function's counters always commit together.
"""

from __future__ import annotations

import orjson

from postroom.storage.functions import FunctionRecord, LayerRecord
from postroom.storage.sql.txn import Committer, Connection, Txn

_PARTS = ("versions", "aliases", "event_invoke_configs", "policies")
Key = tuple[str, str, str]


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


class SqlFunctionStore:
    """Functions and layers; ``functions`` and ``layers`` are the in-memory copies."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.functions: dict[Key, FunctionRecord] = {}
        self.layers: dict[Key, LayerRecord] = {}

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        self.functions.clear()
        self.layers.clear()

    async def load(self) -> None:
        def op(conn: Connection, txn: Txn) -> tuple[list, list, list, list]:
            return (
                conn.execute(
                    "SELECT account, region, name, created_at, next_version, tags, reserved_concurrency"
                    " FROM lambda_functions"
                ).fetchall(),
                conn.execute(
                    "SELECT account, region, name, kind, part, doc FROM lambda_function_parts"
                ).fetchall(),
                conn.execute(
                    "SELECT account, region, name, next_version FROM lambda_layers"
                ).fetchall(),
                conn.execute(
                    "SELECT account, region, name, version, doc, policy FROM lambda_layer_versions"
                ).fetchall(),
            )

        functions, parts, layers, layer_versions = await self._committer.run(op, drain=True)
        for account, region, name, created, next_version, tags, reserved in functions:
            self.functions[(account, region, name)] = FunctionRecord(
                account, region, name, created, next_version, orjson.loads(tags), reserved
            )
        for account, region, name, kind, part, doc in parts:
            fn = self.functions.get((account, region, name))
            if fn is not None and kind in _PARTS:
                getattr(fn, kind)[part] = orjson.loads(doc)
        for account, region, name, next_version in layers:
            self.layers[(account, region, name)] = LayerRecord(account, region, name, next_version)
        for account, region, name, version, doc, policy in layer_versions:
            layer = self.layers.get((account, region, name))
            if layer is not None:
                layer.versions[version] = orjson.loads(doc)
                if policy:
                    layer.policies[version] = orjson.loads(policy)

    async def save_function(self, fn: FunctionRecord) -> None:
        """Store ``fn`` (replacing what was stored for it) and cache it once committed."""
        key = fn.key
        row = (*key, fn.created_at, fn.next_version, _dumps(fn.tags), fn.reserved_concurrency)
        parts = [
            (*key, kind, part, _dumps(doc))
            for kind in _PARTS
            for part, doc in getattr(fn, kind).items()
        ]

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO lambda_functions (account, region, name, created_at, next_version,"
                " tags, reserved_concurrency) VALUES (?,?,?,?,?,?,?)",
                row,
            )
            conn.execute(
                "DELETE FROM lambda_function_parts WHERE account=? AND region=? AND name=?", key
            )
            conn.executemany(
                "INSERT INTO lambda_function_parts (account, region, name, kind, part, doc) VALUES (?,?,?,?,?,?)",
                parts,
            )

        await self._committer.run(op)
        self.functions[key] = fn

    async def delete_function(self, key: Key) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "DELETE FROM lambda_functions WHERE account=? AND region=? AND name=?", key
            )
            conn.execute(
                "DELETE FROM lambda_function_parts WHERE account=? AND region=? AND name=?", key
            )

        await self._committer.run(op, drain=True)
        self.functions.pop(key, None)

    async def save_layer(self, layer: LayerRecord) -> None:
        """Store ``layer`` with all its versions (a deleted version's row goes)."""
        key = layer.key
        rows = [
            (
                *key,
                version,
                _dumps(doc),
                _dumps(layer.policies[version]) if version in layer.policies else None,
            )
            for version, doc in layer.versions.items()
        ]

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO lambda_layers (account, region, name, next_version) VALUES (?,?,?,?)",
                (*key, layer.next_version),
            )
            conn.execute(
                "DELETE FROM lambda_layer_versions WHERE account=? AND region=? AND name=?", key
            )
            conn.executemany(
                "INSERT INTO lambda_layer_versions (account, region, name, version, doc, policy)"
                " VALUES (?,?,?,?,?,?)",
                rows,
            )

        await self._committer.run(op)
        self.layers[key] = layer
