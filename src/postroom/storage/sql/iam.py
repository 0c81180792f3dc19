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
from postroom.storage.sql.txn import Committer, Connection, Txn

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

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        for cache in (self.roles, self.policies, self.users, self.access_keys, self.sessions):
            cache.clear()

    async def load(self) -> None:
        def op(conn: Connection, txn: Txn) -> tuple[list[Any], ...]:
            return tuple(
                [orjson.loads(r[0]) for r in conn.execute(f"SELECT record FROM {table}")]
                for table in ("iam_roles", "iam_policies", "iam_users", "iam_access_keys", "sts_sessions")
            )

        roles, policies, users, keys, sessions = await self._committer.run(op, drain=True)  # full disk too
        for doc in roles:
            role = _role(doc)
            self.roles[(role.account, role.key)] = role
        for doc in policies:
            policy = _policy(doc)
            self.policies[(policy.account, policy.key)] = policy
        for doc in users:
            user = _user(doc)
            self.users[(user.account, user.key)] = user
        for doc in keys:
            key = AccessKeyRecord(**doc)
            self.access_keys[key.access_key_id] = key
        for doc in sessions:
            session = SessionRecord(**doc)
            self.sessions[session.access_key_id] = session

    async def _upsert(self, table: str, account: str, key: str, record: Any) -> None:
        row = (account, key, _dumps(record))
        await self._committer.run(
            lambda conn, txn: conn.execute(
                f"INSERT OR REPLACE INTO {table} (account, key, record) VALUES (?,?,?)", row)
        )

    async def _delete(self, table: str, account: str, key: str) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute(f"DELETE FROM {table} WHERE account=? AND key=?", (account, key))
        )

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
        await self._committer.run(
            lambda conn, txn: conn.execute(
                "INSERT OR REPLACE INTO iam_access_keys (access_key_id, record) VALUES (?,?)", row)
        )
        self.access_keys[key.access_key_id] = key

    async def delete_access_key(self, access_key_id: str) -> None:
        await self._committer.run(
            lambda conn, txn: conn.execute(
                "DELETE FROM iam_access_keys WHERE access_key_id=?", (access_key_id,))
        )
        self.access_keys.pop(access_key_id, None)

    # -- STS sessions ---------------------------------------------------------------------

    async def save_session(self, session: SessionRecord, now: int) -> None:
        row = (session.access_key_id, session.expires_at, _dumps(session))

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM sts_sessions WHERE expires_at<=?", (now,))
            conn.execute(
                "INSERT OR REPLACE INTO sts_sessions (access_key_id, expires_at, record) VALUES (?,?,?)", row)

        await self._committer.run(op)
        for expired in [k for k, s in self.sessions.items() if s.expires_at <= now]:
            del self.sessions[expired]
        self.sessions[session.access_key_id] = session
