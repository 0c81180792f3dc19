"""IAM and STS storage on SQLite: every entity is one JSON row, cached in memory and
written through (IAM state is small and read far more often than written)."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from postroom.storage.iam import (
    AccessKeyRecord,
    PolicyRecord,
    PolicyVersionRecord,
    RoleRecord,
    SessionRecord,
    UserRecord,
)
from postroom.storage.sql.refresh import Key as Notice
from postroom.storage.sql.refresh import Refresher
from postroom.storage.sql.txn import Committer, Connection, Txn
from postroom.storage.sql.upsert import upsert

Key = tuple[str, str]  # (account, lower-cased name)


def _dumps(record: Any) -> str:
    return orjson.dumps(dataclasses.asdict(record)).decode()


def _role(doc: dict[str, Any]) -> RoleRecord:
    doc["tags"] = [tuple(t) for t in doc["tags"]]
    return RoleRecord(**doc)


def _policy(doc: dict[str, Any]) -> PolicyRecord:
    doc["tags"] = [tuple(t) for t in doc["tags"]]
    doc["versions"] = {k: PolicyVersionRecord(**v) for k, v in doc["versions"].items()}
    return PolicyRecord(**doc)


def _user(doc: dict[str, Any]) -> UserRecord:
    doc["tags"] = [tuple(t) for t in doc["tags"]]
    return UserRecord(**doc)


class SqlIamStore:
    """Roles, customer managed policies, users, access keys and STS sessions."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.roles: dict[Key, RoleRecord] = {}
        self.policies: dict[Key, PolicyRecord] = {}
        self.users: dict[Key, UserRecord] = {}
        self.access_keys: dict[str, AccessKeyRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        # Channel ``iam`` (key: a table's name) from other nodes: that table is read again.
        self.refresher = Refresher(committer.notifier, ["iam"], self._refresh)

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        for cache in (self.roles, self.policies, self.users, self.access_keys, self.sessions):
            cache.clear()
        self.refresher.forget()

    async def load(self) -> None:
        await self._refresh(None)

    async def _refresh(self, stale: set[Notice] | None) -> list[Notice]:
        tables = list(_TABLES) if stale is None else [key for _, key in stale if key in _TABLES]

        def op(conn: Connection, txn: Txn) -> dict[str, list[Any]]:
            return {
                table: [orjson.loads(r[0]) for r in conn.execute(f"SELECT record FROM {table}")]
                for table in tables
            }

        docs = await self._committer.run(op, drain=True)  # full disk too
        # Built first, swapped in without an await between: never an emptied cache.
        for table, rows in docs.items():
            cache, build, key = _TABLES[table], _BUILD[table], _KEY[table]
            fresh = {key(record): record for record in map(build, rows)}
            target: dict[Any, Any] = getattr(self, cache)
            target.clear()
            target.update(fresh)
        return [("iam", table) for table in docs]

    async def find_credentials(self, access_key_id: str) -> bool:
        """Whether an access key or STS session missing from the cache is in the database
        (another node issued it a moment ago); cached from then on."""

        def op(conn: Connection, txn: Txn) -> tuple[Any, Any]:
            key = conn.execute("SELECT record FROM iam_access_keys WHERE access_key_id=?", (access_key_id,)).fetchone()
            session = conn.execute("SELECT record FROM sts_sessions WHERE access_key_id=?", (access_key_id,)).fetchone()
            return key, session

        key, session = await self._committer.run(op, drain=True)
        if key is not None:
            self.access_keys[access_key_id] = AccessKeyRecord(**orjson.loads(key[0]))
        if session is not None:
            self.sessions[access_key_id] = SessionRecord(**orjson.loads(session[0]))
        return key is not None or session is not None

    async def _upsert(self, table: str, account: str, key: str, record: Any) -> None:
        row = (account, key, _dumps(record))

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(upsert(table, ("account", "key", "record"), 2), row)
            txn.notify("iam", table)

        await self._committer.run(op)

    async def _delete(self, table: str, account: str, key: str) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(f"DELETE FROM {table} WHERE account=? AND key=?", (account, key))
            txn.notify("iam", table)

        await self._committer.run(op)

    # -- roles ----------------------------------------------------------------------------

    async def save_role(self, role: RoleRecord) -> None:
        await self._upsert("iam_roles", role.account, role.key, role)
        self.roles[(role.account, role.key)] = role

    async def delete_role(self, role: RoleRecord) -> None:
        await self._delete("iam_roles", role.account, role.key)
        self.roles.pop((role.account, role.key), None)

    # -- managed policies -----------------------------------------------------------------

    async def save_policy(self, policy: PolicyRecord) -> None:
        await self._upsert("iam_policies", policy.account, policy.key, policy)
        self.policies[(policy.account, policy.key)] = policy

    async def delete_policy(self, policy: PolicyRecord) -> None:
        await self._delete("iam_policies", policy.account, policy.key)
        self.policies.pop((policy.account, policy.key), None)

    # -- users and access keys --------------------------------------------------------------

    async def save_user(self, user: UserRecord) -> None:
        await self._upsert("iam_users", user.account, user.key, user)
        self.users[(user.account, user.key)] = user

    async def delete_user(self, user: UserRecord) -> None:
        await self._delete("iam_users", user.account, user.key)
        self.users.pop((user.account, user.key), None)

    async def save_access_key(self, key: AccessKeyRecord) -> None:
        row = (key.access_key_id, _dumps(key))
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(upsert("iam_access_keys", ("access_key_id", "record"), 1), row)
            txn.notify("iam", "iam_access_keys")

        await self._committer.run(op)
        self.access_keys[key.access_key_id] = key

    async def delete_access_key(self, access_key_id: str) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM iam_access_keys WHERE access_key_id=?", (access_key_id,))
            txn.notify("iam", "iam_access_keys")

        await self._committer.run(op)
        self.access_keys.pop(access_key_id, None)

    # -- STS sessions ---------------------------------------------------------------------

    async def save_session(self, session: SessionRecord, now: int) -> None:
        row = (session.access_key_id, session.expires_at, _dumps(session))

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM sts_sessions WHERE expires_at<=?", (now,))
            conn.execute(upsert("sts_sessions", ("access_key_id", "expires_at", "record"), 1), row)
            txn.notify("iam", "sts_sessions")

        await self._committer.run(op)
        for expired in [k for k, s in self.sessions.items() if s.expires_at <= now]:
            del self.sessions[expired]
        self.sessions[session.access_key_id] = session


# Each table: the cache attribute holding it, how a record is built and keyed.
_TABLES = {
    "iam_roles": "roles", "iam_policies": "policies", "iam_users": "users",
    "iam_access_keys": "access_keys", "sts_sessions": "sessions",
}
_BUILD: dict[str, Any] = {
    "iam_roles": _role, "iam_policies": _policy, "iam_users": _user,
    "iam_access_keys": lambda doc: AccessKeyRecord(**doc), "sts_sessions": lambda doc: SessionRecord(**doc),
}
_KEY: dict[str, Any] = {
    "iam_roles": lambda r: (r.account, r.key), "iam_policies": lambda r: (r.account, r.key),
    "iam_users": lambda r: (r.account, r.key), "iam_access_keys": lambda r: r.access_key_id,
    "sts_sessions": lambda r: r.access_key_id,
}
