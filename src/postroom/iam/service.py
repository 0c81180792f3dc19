"""IamService: dispatch of the IAM operations, and the lookups they share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from postroom.clock import Clock
from postroom.iam import limits, managed
from postroom.iam.api import IamApi
from postroom.iam.errors import (
    invalid_input,
    no_such_entity,
    policy_not_found,
    role_not_found,
    user_not_found,
)
from postroom.iam.names import parse_policy_arn
from postroom.protocol.constraints import check_constraints
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model
from postroom.service import RawRoute
from postroom.storage.iam import PolicyRecord, RoleRecord, UserRecord
from postroom.storage.sql.iam import SqlIamStore

Operation = Callable[["IamService", dict[str, Any], RequestContext], Awaitable[dict[str, Any] | None]]


class IamService:
    """IAM is global: every operation works on the caller's account, whatever the region."""

    name = "iam"

    def __init__(self, store: SqlIamStore, clock: Clock) -> None:
        from postroom.iam import policies, role_policies, roles, users

        self.model = load_service_model("iam")
        self.store = store
        self.clock = clock
        # Writes check the cache, then commit: one at a time, so two requests never both
        # pass a check (an existing name, a version count) that only one may.
        self._writes = asyncio.Lock()
        self.api = IamApi(store, clock, self._writes)
        self.operations: dict[str, Operation] = {
            **roles.OPERATIONS, **role_policies.OPERATIONS, **policies.OPERATIONS, **users.OPERATIONS,
        }

    async def start(self) -> None:
        pass

    def begin_shutdown(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def reset(self) -> None:
        pass  # nothing in memory but the store's caches, which the store forgets

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        handler = self.operations.get(operation)
        if handler is None:
            raise AWSError("InvalidAction", f"The action {operation} is not implemented by Postroom.")
        check_constraints(self.model, operation, params, limits.VALUES_NOT_SHOWN)
        if operation.startswith(("Get", "List")):
            return await handler(self, params, ctx)
        async with self._writes:
            return await handler(self, params, ctx)

    def http_routes(self) -> dict[str, RawRoute]:
        return {}

    # -- lookups shared by the operations ----------------------------------------------------

    def role(self, account: str, name: str) -> RoleRecord:
        record = self.store.roles.get((account, name.lower()))
        if record is None:
            raise role_not_found(name)
        return record

    def user(self, account: str, name: str) -> UserRecord:
        record = self.store.users.get((account, name.lower()))
        if record is None:
            raise user_not_found(name)
        return record

    def managed_policy(self, arn: str) -> PolicyRecord | managed.AwsManagedPolicy:
        """A customer or AWS managed policy by ARN (NoSuchEntity if there is none)."""
        account, path, name = parse_policy_arn(arn)
        if account == "aws":
            builtin = managed.BY_ARN.get(arn)
            if builtin is None:
                raise policy_not_found(arn)
            return builtin
        record = self.store.policies.get((account, name.lower()))
        if record is None or record.arn != arn:
            raise policy_not_found(arn)
        return record

    def attachment_count(self, account: str, arn: str) -> int:
        return sum(1 for (acct, _), r in self.store.roles.items() if acct == account and arn in r.attached)

    def boundary_count(self, account: str, arn: str) -> int:
        return sum(1 for (acct, _), r in self.store.roles.items()
                   if acct == account and r.permissions_boundary == arn)

    def boundary(self, account: str, arn: str) -> str:
        """A policy ARN that may serve as a permissions boundary in ``account``."""
        try:
            owner, _, _ = parse_policy_arn(arn)
        except AWSError:
            raise invalid_input(f"ARN {arn} is not valid.") from None
        try:
            if owner not in (account, "aws"):
                raise policy_not_found(arn)
            self.managed_policy(arn)
        except AWSError:
            raise no_such_entity(f"Scope ARN: {arn} does not exist or is not attachable.") from None
        return arn

    def now(self) -> int:
        return self.clock.now_ms()
