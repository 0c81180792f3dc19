"""Event source mappings on SQLite: one JSON row per mapping, cached in memory."""

from __future__ import annotations

import dataclasses

import orjson

from postroom.storage.mappings import MappingRecord
from postroom.storage.sql.refresh import Key, Refresher, in_list, reconcile
from postroom.storage.sql.txn import Committer, Connection, Txn
from postroom.storage.sql.upsert import upsert


class SqlMappingStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.mappings: dict[str, MappingRecord] = {}
        # Channel ``mappings`` (keys: UUIDs) from other nodes.
        self.refresher = Refresher(committer.notifier, ["mappings"], self._refresh)

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        self.mappings.clear()
        self.refresher.forget()

    async def load(self) -> None:
        await self._refresh(None)

    async def _refresh(self, stale: set[Key] | None) -> list[Key]:
        uuids = None if stale is None else {key for _, key in stale}

        def op(conn: Connection, txn: Txn) -> list[tuple]:
            sql = "SELECT doc FROM lambda_event_source_mappings"
            if uuids is None:
                return conn.execute(sql).fetchall()
            marks, params = in_list(uuids)
            return conn.execute(f"{sql} WHERE uuid IN {marks}", params).fetchall()

        # drain: a read, so a restart on a full disk still loads the mappings
        rows = await self._committer.run(op, drain=True)
        fresh = {m.uuid: m for m in (MappingRecord(**orjson.loads(doc)) for (doc,) in rows)}
        candidates = set(self.mappings) | set(fresh) if uuids is None else uuids
        return [("mappings", uuid) for uuid in reconcile(self.mappings, fresh, candidates)]

    async def reload(self, uuid: str) -> MappingRecord | None:
        """Read one mapping again (another node changed it); None if it is gone."""
        row = await self._committer.run(
            lambda conn, txn: conn.execute(
                "SELECT doc FROM lambda_event_source_mappings WHERE uuid=?", (uuid,)
            ).fetchone(),
            drain=True,
        )
        if row is None:
            self.mappings.pop(uuid, None)
            return None
        mapping = MappingRecord(**orjson.loads(row[0]))
        self.mappings[uuid] = mapping
        return mapping

    async def reload_all(self) -> list[str]:
        """Read every mapping again (changed in place: never an empty cache); their UUIDs."""
        rows = await self._committer.run(
            lambda conn, txn: conn.execute("SELECT doc FROM lambda_event_source_mappings").fetchall(), drain=True,
        )
        fresh = {m.uuid: m for m in (MappingRecord(**orjson.loads(doc)) for (doc,) in rows)}
        self.mappings.update(fresh)
        for uuid in [u for u in self.mappings if u not in fresh]:
            del self.mappings[uuid]
        return list(fresh)

    async def save(self, mapping: MappingRecord) -> None:
        row = (mapping.uuid, orjson.dumps(dataclasses.asdict(mapping)).decode())

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(upsert("lambda_event_source_mappings", ("uuid", "doc"), 1), row)
            txn.notify("mappings", mapping.uuid)  # the node running the pollers acts on it

        await self._committer.run(op)
        self.mappings[mapping.uuid] = mapping

    async def delete(self, uuid: str) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM lambda_event_source_mappings WHERE uuid=?", (uuid,))
            txn.notify("mappings", uuid)

        await self._committer.run(op, drain=True)  # frees space, so it runs on a full disk too
        self.mappings.pop(uuid, None)
