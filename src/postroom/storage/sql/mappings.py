"""Event source mappings in SQL: one JSON row per mapping, cached in memory.

Saves and deletes are conditional on the row's ``revision`` (the one the record was read
at): a write over another node's change raises ``StaleRecord`` and writes nothing, so the
caller reads the mapping again and decides on what is stored (storage/mappings.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from postroom.storage.errors import DuplicateRecord, StaleRecord
from postroom.storage.mappings import DELETING, MappingRecord
from postroom.storage.sql.refresh import Key, Refresher, in_list, reconcile
from postroom.storage.sql.txn import Committer, Connection, Txn

_SELECT = "SELECT doc, revision FROM lambda_event_source_mappings"


def _record(doc: str, revision: int) -> MappingRecord:
    fields: dict[str, Any] = orjson.loads(doc)
    fields.pop("revision", None)  # the column is the truth (docs hold none; old ones may)
    return MappingRecord(**fields, revision=revision)


def _doc(mapping: MappingRecord) -> str:
    fields = dataclasses.asdict(mapping)
    del fields["revision"]
    return orjson.dumps(fields).decode()


def _check_unique(conn: Connection, mapping: MappingRecord) -> None:
    """DuplicateRecord if another stored mapping joins the same source and function. Read
    inside the saving transaction (the writer lock), so two nodes creating the same pair at
    once cannot both pass; the docs are few (one per mapping)."""
    rows = conn.execute(
        "SELECT uuid, doc, revision FROM lambda_event_source_mappings WHERE uuid<>?", (mapping.uuid,)
    ).fetchall()
    for uuid, doc, revision in rows:
        other = _record(doc, revision)
        if (
            other.source_arn == mapping.source_arn and other.function_arn == mapping.function_arn
            and other.state != DELETING
        ):
            raise DuplicateRecord("mappings", uuid)


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
            if uuids is None:
                return conn.execute(_SELECT).fetchall()
            marks, params = in_list(uuids)
            return conn.execute(f"{_SELECT} WHERE uuid IN {marks}", params).fetchall()

        # drain: a read, so a restart on a full disk still loads the mappings
        rows = await self._committer.run(op, drain=True)
        fresh = {m.uuid: m for m in (_record(doc, revision) for doc, revision in rows)}
        candidates = set(self.mappings) | set(fresh) if uuids is None else uuids
        return [("mappings", uuid) for uuid in reconcile(self.mappings, fresh, candidates)]

    async def reload(self, uuid: str) -> MappingRecord | None:
        """Read one mapping again (another node changed it); None if it is gone."""
        row = await self._committer.run(
            lambda conn, txn: conn.execute(f"{_SELECT} WHERE uuid=?", (uuid,)).fetchone(), drain=True,
        )
        if row is None:
            self.mappings.pop(uuid, None)
            return None
        mapping = _record(*row)
        self.mappings[uuid] = mapping
        return mapping

    async def reload_all(self) -> list[str]:
        """Read every mapping again (changed in place: never an empty cache); their UUIDs."""
        rows = await self._committer.run(lambda conn, txn: conn.execute(_SELECT).fetchall(), drain=True)
        fresh = {m.uuid: m for m in (_record(doc, revision) for doc, revision in rows)}
        self.mappings.update(fresh)
        for uuid in [u for u in self.mappings if u not in fresh]:
            del self.mappings[uuid]
        return list(fresh)

    async def save(self, mapping: MappingRecord, *, unique: bool = False) -> None:
        expected = mapping.revision
        doc = _doc(mapping)

        def op(conn: Connection, txn: Txn) -> None:
            if unique:
                _check_unique(conn, mapping)
            if expected == 0:
                if conn.execute(
                    "SELECT 1 FROM lambda_event_source_mappings WHERE uuid=?", (mapping.uuid,)
                ).fetchone() is not None:
                    raise StaleRecord("mappings", mapping.uuid)
                conn.execute(
                    "INSERT INTO lambda_event_source_mappings (uuid, doc, revision) VALUES (?,?,1)",
                    (mapping.uuid, doc),
                )
            elif conn.execute(
                "UPDATE lambda_event_source_mappings SET doc=?, revision=revision+1 WHERE uuid=? AND revision=?",
                (doc, mapping.uuid, expected),
            ).rowcount != 1:
                raise StaleRecord("mappings", mapping.uuid)  # changed or deleted elsewhere
            txn.notify("mappings", mapping.uuid)  # the node running the pollers acts on it

        await self._committer.run(op)
        mapping.revision = expected + 1
        current = self.mappings.get(mapping.uuid)
        # Unless a refresh brought a later revision meanwhile (another node's, committed after).
        if current is None or current.revision <= mapping.revision:
            self.mappings[mapping.uuid] = mapping

    async def delete(self, uuid: str, revision: int) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            if conn.execute(
                "DELETE FROM lambda_event_source_mappings WHERE uuid=? AND revision=?", (uuid, revision)
            ).rowcount != 1:
                if conn.execute(
                    "SELECT 1 FROM lambda_event_source_mappings WHERE uuid=?", (uuid,)
                ).fetchone() is not None:
                    raise StaleRecord("mappings", uuid)
                return  # gone already
            txn.notify("mappings", uuid)

        await self._committer.run(op, drain=True)  # frees space, so it runs on a full disk too
        self.mappings.pop(uuid, None)
