"""The typed internal API IAM offers other services (STS, Lambda): roles by ARN, the
caller's identity, and recording that a role was used."""

from __future__ import annotations

import asyncio
import copy
import re
from dataclasses import dataclass

import orjson

from postroom.accesskeys import new_access_key_id
from postroom.clock import Clock
from postroom.storage.sql.iam import SqlIamStore

_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[^/]+/)*([^/]+)$")


@dataclass(frozen=True)
class RoleInfo:
    arn: str
    account: str
    name: str
    role_id: str
    max_session_duration: int


@dataclass(frozen=True)
class Identity:
    """Who a request's access key stands for (GetCallerIdentity's answer)."""

    account: str
    arn: str
    user_id: str


@dataclass(frozen=True)
class IssuedCredentials:
    """An access key Postroom's IAM or STS issued, as signature checks need it."""

    account: str
    secret: str
    active: bool
    session_token: str | None = None  # STS: the X-Amz-Security-Token that must come with it
    expires_at: int | None = None  # STS: epoch ms


class IamApi:
    def __init__(self, store: SqlIamStore, clock: Clock, writes: asyncio.Lock) -> None:
        self._store = store
        self._clock = clock
        self._writes = writes  # IAM's write lock: this update must not race an UpdateRole

    def role(self, arn: str) -> RoleInfo | None:
        """The role an ARN names, if it exists (the ARN's path must match too)."""
        match = _ROLE_ARN.match(arn)
        if match is None:
            return None
        record = self._store.roles.get((match.group(1), match.group(2).lower()))
        if record is None or record.arn != arn:
            return None
        return RoleInfo(record.arn, record.account, record.name, record.role_id, record.max_session_duration)

    def trusts_service(self, arn: str, service: str) -> bool:
        """Whether the role's trust policy lets ``service`` (e.g. "lambda.amazonaws.com")
        assume it: an Allow statement naming the service, or any principal ("*"). Conditions
        are not evaluated. Lambda asks this before taking a function's execution role."""
        info = self.role(arn)
        if info is None:
            return False
        document = self._store.roles[(info.account, info.name.lower())].assume_role_policy
        try:
            statements = orjson.loads(document).get("Statement", [])
        except (orjson.JSONDecodeError, AttributeError):
            return False
        for statement in [statements] if isinstance(statements, dict) else statements:
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal")
            if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
                return True
            named = principal.get("Service", []) if isinstance(principal, dict) else []
            if service in ([named] if isinstance(named, str) else named):
                return True
        return False

    async def note_role_used(self, arn: str, region: str) -> None:
        """Record RoleLastUsed (date and region) for the role ``arn`` names."""
        async with self._writes:
            info = self.role(arn)
            if info is None:
                return
            record = copy.deepcopy(self._store.roles[(info.account, info.name.lower())])
            record.last_used_at = self._clock.now_ms()
            record.last_used_region = region
            await self._store.save_role(record)

    def new_access_key_id(self, prefix: str, account: str) -> str:
        """A key id (AKIA or ASIA) for ``account`` that no live key or session uses."""
        while True:
            key = new_access_key_id(prefix, account)
            if key not in self._store.access_keys and key not in self._store.sessions:
                return key

    async def find_credentials(self, access_key: str) -> bool:
        """Look up a key ``issued_credentials`` does not know in storage (another node may
        have issued it a moment ago); True if it is known now."""
        if access_key in self._store.access_keys or access_key in self._store.sessions:
            return False  # known already: nothing new to find
        return await self._store.find_credentials(access_key)

    def issued_credentials(self, access_key: str) -> IssuedCredentials | None:
        """The secret (and, for STS sessions, token and expiry) of a key Postroom issued."""
        session = self._store.sessions.get(access_key)
        if session is not None:
            return IssuedCredentials(session.account, session.secret, True, session.token, session.expires_at)
        key = self._store.access_keys.get(access_key)
        if key is not None:
            return IssuedCredentials(key.account, key.secret, key.status == "Active")
        return None

    def identity(self, account: str, access_key: str) -> Identity:
        """The identity behind ``access_key``: an STS session, an IAM user's key, or the
        account's root user (any other key)."""
        session = self._store.sessions.get(access_key)
        if session is not None:
            return Identity(session.account, session.arn, session.user_id)
        key = self._store.access_keys.get(access_key)
        if key is not None:
            user = self._store.users.get((key.account, key.user_name.lower()))
            if user is not None:
                return Identity(user.account, user.arn, user.user_id)
        return Identity(account, f"arn:aws:iam::{account}:root", account)
