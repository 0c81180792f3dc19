"""Lambda storage in SQL: every function and layer cached in memory, written through.

A change to a function rewrites that function's rows in one transaction (a function has
few rows), so a version, its alias and the function's counters always commit together.
The write is conditional on the row's ``revision`` (and ``created_at``, so a function
deleted and created again elsewhere is not mistaken for the one read): a save over another
node's change raises ``StaleRecord`` and writes nothing. Layers likewise.
"""

from __future__ import annotations

import orjson

from postroom.storage.errors import StaleRecord
from postroom.storage.functions import FunctionRecord, LayerRecord, notice_key
from postroom.storage.sql.refresh import Key as Notice
from postroom.storage.sql.refresh import Refresher, in_list, reconcile
from postroom.storage.sql.txn import Committer, Connection, Txn

_PARTS = ("versions", "aliases", "event_invoke_configs", "policies")
Key = tuple[str, str, str]


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _key(text: str) -> Key:
    account, region, name = text.split("\t")
    return (account, region, name)


class SqlFunctionStore:
    """Functions and layers; ``functions`` and ``layers`` are the in-memory copies."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.functions: dict[Key, FunctionRecord] = {}
        self.layers: dict[Key, LayerRecord] = {}
        # Channels ``functions`` and ``layers`` (keys: notice_key) from other nodes.
        self.refresher = Refresher(committer.notifier, ["functions", "layers"], self._refresh)

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        self.functions.clear()
        self.layers.clear()
        self.refresher.forget()

    async def load(self) -> None:
        await self._refresh(None)

    async def find_function(self, key: Key) -> FunctionRecord | None:
        """A function missing from the cache, looked up in the database (another node's new one)."""
        await self._refresh({("functions", notice_key(key))})
        return self.functions.get(key)

    async def reread(self, channel: str, key: str | None) -> None:
        """Read what a ``StaleRecord`` names back into the cache (``key`` None: everything,
        as an account-wide total spans every function; rare)."""
        await self._refresh(None if key is None else {(channel, key)})

    async def _refresh(self, stale: set[Notice] | None) -> list[Notice]:
        """Read functions and layers back from the database: the ``stale`` ones, or all (None)."""
        fn_keys = None if stale is None else [_key(k) for c, k in stale if c == "functions"]
        layer_keys = None if stale is None else [_key(k) for c, k in stale if c == "layers"]

        def select(conn: Connection, sql: str, keys: list[Key] | None) -> list:
            if keys is None:
                return conn.execute(sql).fetchall()
            # One key column suffices to narrow the read; the exact keys are kept below.
            wanted = set(keys)
            names_in, names = in_list({name for _, _, name in keys})
            rows = conn.execute(f"{sql} WHERE name IN {names_in}", names).fetchall()
            return [r for r in rows if tuple(r[:3]) in wanted]

        def op(conn: Connection, txn: Txn) -> tuple[list, list, list, list]:
            return (
                select(conn, "SELECT account, region, name, created_at, next_version, tags, reserved_concurrency,"
                       " revision FROM lambda_functions", fn_keys),
                select(conn, "SELECT account, region, name, kind, part, doc FROM lambda_function_parts", fn_keys),
                select(conn, "SELECT account, region, name, next_version, revision FROM lambda_layers", layer_keys),
                select(conn, "SELECT account, region, name, version, doc, policy FROM lambda_layer_versions",
                       layer_keys),
            )

        function_rows, parts, layer_rows, layer_versions = await self._committer.run(op, drain=True)
        functions: dict[Key, FunctionRecord] = {}
        for account, region, name, created, next_version, tags, reserved, revision in function_rows:
            functions[(account, region, name)] = FunctionRecord(
                account, region, name, created, next_version, orjson.loads(tags), reserved, revision=revision
            )
        for account, region, name, kind, part, doc in parts:
            fn = functions.get((account, region, name))
            if fn is not None and kind in _PARTS:
                getattr(fn, kind)[part] = orjson.loads(doc)
        layers: dict[Key, LayerRecord] = {}
        for account, region, name, next_version, revision in layer_rows:
            layers[(account, region, name)] = LayerRecord(account, region, name, next_version, revision=revision)
        for account, region, name, version, doc, policy in layer_versions:
            layer = layers.get((account, region, name))
            if layer is not None:
                layer.versions[version] = orjson.loads(doc)
                if policy:
                    layer.policies[version] = orjson.loads(policy)
        fn_candidates = set(self.functions) | set(functions) if fn_keys is None else fn_keys
        layer_candidates = set(self.layers) | set(layers) if layer_keys is None else layer_keys
        # Applied in one step (no await): readers see the old record or the new one.
        return [("functions", notice_key(k)) for k in reconcile(self.functions, functions, fn_candidates)] + [
            ("layers", notice_key(k)) for k in reconcile(self.layers, layers, layer_candidates)
        ]

    async def save_function(self, fn: FunctionRecord, *, reserved_limit: int | None = None) -> None:
        """Store ``fn`` (replacing its rows) if the stored revision is still ``fn.revision``,
        else raise StaleRecord; cache it once committed, at its new revision.

        ``reserved_limit``: the account's reserved concurrency, counted in the database in
        the same transaction, may not exceed it (StaleRecord with key None: the cache's
        totals were behind another node's)."""
        key = fn.key
        expected = fn.revision
        notice = notice_key(key)
        parts = [
            (*key, kind, part, _dumps(doc))
            for kind in _PARTS
            for part, doc in getattr(fn, kind).items()
        ]

        def op(conn: Connection, txn: Txn) -> None:
            if expected == 0:
                if conn.execute(
                    "SELECT 1 FROM lambda_functions WHERE account=? AND region=? AND name=?", key
                ).fetchone() is not None:
                    raise StaleRecord("functions", notice)  # another node created it first
                conn.execute(
                    "INSERT INTO lambda_functions (account, region, name, created_at, next_version, tags,"
                    " reserved_concurrency, revision) VALUES (?,?,?,?,?,?,?,1)",
                    (*key, fn.created_at, fn.next_version, _dumps(fn.tags), fn.reserved_concurrency),
                )
            elif conn.execute(
                "UPDATE lambda_functions SET next_version=?, tags=?, reserved_concurrency=?, revision=revision+1"
                " WHERE account=? AND region=? AND name=? AND created_at=? AND revision=?",
                (fn.next_version, _dumps(fn.tags), fn.reserved_concurrency, *key, fn.created_at, expected),
            ).rowcount != 1:
                raise StaleRecord("functions", notice)
            if reserved_limit is not None and fn.reserved_concurrency:
                total = conn.execute(
                    "SELECT SUM(reserved_concurrency) FROM lambda_functions WHERE account=? AND region=?",
                    (fn.account, fn.region),
                ).fetchone()[0]
                if (total or 0) > reserved_limit:
                    raise StaleRecord("functions", None)
            conn.execute(
                "DELETE FROM lambda_function_parts WHERE account=? AND region=? AND name=?", key
            )
            conn.executemany(
                "INSERT INTO lambda_function_parts (account, region, name, kind, part, doc) VALUES (?,?,?,?,?,?)",
                parts,
            )
            txn.notify("functions", notice)

        await self._committer.run(op)
        fn.revision = expected + 1
        _cache(self.functions, key, fn)

    async def delete_function(self, key: Key) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "DELETE FROM lambda_functions WHERE account=? AND region=? AND name=?", key
            )
            conn.execute(
                "DELETE FROM lambda_function_parts WHERE account=? AND region=? AND name=?", key
            )
            txn.notify("functions", notice_key(key))

        await self._committer.run(op, drain=True)
        self.functions.pop(key, None)

    async def save_layer(self, layer: LayerRecord) -> None:
        """Store ``layer`` with all its versions (a deleted version's row goes) if the stored
        revision is still ``layer.revision``, else raise StaleRecord."""
        key = layer.key
        expected = layer.revision
        notice = notice_key(key)
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
            if expected == 0:
                if conn.execute(
                    "SELECT 1 FROM lambda_layers WHERE account=? AND region=? AND name=?", key
                ).fetchone() is not None:
                    raise StaleRecord("layers", notice)
                conn.execute(
                    "INSERT INTO lambda_layers (account, region, name, next_version, revision) VALUES (?,?,?,?,1)",
                    (*key, layer.next_version),
                )
            elif conn.execute(
                "UPDATE lambda_layers SET next_version=?, revision=revision+1"
                " WHERE account=? AND region=? AND name=? AND revision=?",
                (layer.next_version, *key, expected),
            ).rowcount != 1:
                raise StaleRecord("layers", notice)
            conn.execute(
                "DELETE FROM lambda_layer_versions WHERE account=? AND region=? AND name=?", key
            )
            conn.executemany(
                "INSERT INTO lambda_layer_versions (account, region, name, version, doc, policy)"
                " VALUES (?,?,?,?,?,?)",
                rows,
            )
            txn.notify("layers", notice)

        await self._committer.run(op)
        layer.revision = expected + 1
        _cache(self.layers, key, layer)


def _cache(cache: dict, key: Key, record: FunctionRecord | LayerRecord) -> None:
    """Cache a record just committed, unless a refresh already brought a later revision
    (another node's change committed after this one and read back meanwhile)."""
    current = cache.get(key)
    if current is None or current.revision <= record.revision:
        cache[key] = record
