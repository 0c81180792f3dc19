"""StsService: GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken
and GetAccessKeyInfo. Roles come from IAM's typed API; sessions are stored so the
credentials keep their identity across restarts."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from postroom.accesskeys import account_in_key
from postroom.clock import Clock
from postroom.iam.api import IamApi, RoleInfo
from postroom.protocol.constraints import check_constraints
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.model import load_service_model
from postroom.service import RawRoute
from postroom.storage.sql.iam import SqlIamStore
from postroom.sts import limits
from postroom.sts.credentials import credentials, new_session
from postroom.sts.errors import (
    access_denied,
    invalid_identity_token,
    invalid_parameter_value,
    session_credentials_not_allowed,
    validation_error,
)


def _timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StsService:
    name = "sts"

    def __init__(self, store: SqlIamStore, iam: IamApi, clock: Clock) -> None:
        self.model = load_service_model("sts")
        self.store = store
        self.iam = iam
        self.clock = clock
        self.operations = {
            "GetCallerIdentity": self.get_caller_identity,
            "AssumeRole": self.assume_role,
            "AssumeRoleWithWebIdentity": self.assume_role_with_web_identity,
            "GetSessionToken": self.get_session_token,
            "GetAccessKeyInfo": self.get_access_key_info,
        }

    async def start(self) -> None:
        pass

    def begin_shutdown(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def reset(self) -> None:
        pass  # nothing in memory but the store's caches, which the store forgets

    def http_routes(self) -> dict[str, RawRoute]:
        return {}

    async def call(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        handler = self.operations.get(operation)
        if handler is None:
            raise AWSError("InvalidAction", f"The action {operation} is not implemented by Postroom.")
        check_constraints(self.model, operation, params)
        return await handler(params, ctx)

    # -- operations ---------------------------------------------------------------------------

    async def get_caller_identity(self, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        who = self.iam.identity(ctx.account, ctx.access_key)
        return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}

    async def get_access_key_info(self, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        key = p["AccessKeyId"]
        return {"Account": account_in_key(key) or ctx.account}

    async def assume_role(self, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        _check_session_tags(p.get("Tags") or [], p.get("TransitiveTagKeys") or [])
        role = self._role(p["RoleArn"], "AssumeRole", ctx)
        return await self._assume(role, p, ctx, {})

    async def assume_role_with_web_identity(self, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        role = self._role(p["RoleArn"], "AssumeRoleWithWebIdentity", ctx)
        claims = _jwt_claims(p["WebIdentityToken"])
        extra: dict[str, Any] = {"SubjectFromWebIdentityToken": str(claims.get("sub", ""))}
        if claims.get("iss"):
            extra["Provider"] = str(claims["iss"]).removeprefix("https://")
        audience = claims.get("aud")
        if audience:
            extra["Audience"] = audience if isinstance(audience, str) else str(audience[0])
        return await self._assume(role, p, ctx, extra)

    async def get_session_token(self, p: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        if ctx.access_key in self.store.sessions:
            raise session_credentials_not_allowed()
        who = self.iam.identity(ctx.account, ctx.access_key)
        if who.arn.endswith(":root"):
            default = limit = limits.ROOT_MAX_SESSION_TOKEN_SECONDS
        else:
            default, limit = limits.DEFAULT_SESSION_TOKEN_SECONDS, None
        seconds = p.get("DurationSeconds") or default
        if limit is not None:
            seconds = min(seconds, limit)  # AWS shortens a root session rather than failing
        expires = self.clock.now_ms() + seconds * 1000
        key_id = self.iam.new_access_key_id("ASIA", who.account)
        session = new_session(key_id, who.account, who.arn, who.user_id, expires)
        await self.store.save_session(session, self.clock.now_ms())
        return {"Credentials": credentials(session, _timestamp(expires))}

    # -- helpers ------------------------------------------------------------------------------

    def _role(self, arn: str, action: str, ctx: RequestContext) -> RoleInfo:
        parts = arn.split(":", 5)
        # arn:partition:service:region:account:resource, with the region and account optional.
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
            raise validation_error(f"{arn} is invalid")
        role = self.iam.role(arn)
        if role is None:
            # AWS does not say whether the role exists: it denies the call.
            caller = self.iam.identity(ctx.account, ctx.access_key).arn
            raise access_denied(caller, action, arn)
        return role

    async def _assume(
        self, role: RoleInfo, p: dict[str, Any], ctx: RequestContext, extra: dict[str, Any]
    ) -> dict[str, Any]:
        seconds = p.get("DurationSeconds") or limits.DEFAULT_ROLE_SESSION_SECONDS
        if seconds > role.max_session_duration:
            raise validation_error(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        caller = self.store.sessions.get(ctx.access_key)
        if caller is not None and ":assumed-role/" in caller.arn and seconds > limits.ROLE_CHAINING_MAX_SECONDS:
            raise validation_error(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
        session_name = p["RoleSessionName"]
        now = self.clock.now_ms()
        expires = now + seconds * 1000
        arn = f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}"
        user_id = f"{role.role_id}:{session_name}"
        key_id = self.iam.new_access_key_id("ASIA", role.account)
        session = new_session(key_id, role.account, arn, user_id, expires)
        await self.store.save_session(session, now)
        await self.iam.note_role_used(role.arn, ctx.region)
        return {
            "Credentials": credentials(session, _timestamp(expires)),
            "AssumedRoleUser": {"AssumedRoleId": user_id, "Arn": arn},
            "PackedPolicySize": 0 if p.get("Policy") or p.get("PolicyArns") else None,
            **extra,
        }


def _check_session_tags(tags: list[dict[str, Any]], transitive: list[str]) -> None:
    """Session tags are checked as STS checks them (and then not kept)."""
    keys = {t["Key"].lower() for t in tags}
    if len(keys) != len(tags):
        raise invalid_parameter_value("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    if any(k.lower() not in keys for k in transitive):
        raise invalid_parameter_value("The specified transitive tag key must be included in the requested tags.")


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking its signature (nothing is verified)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise invalid_identity_token()
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = orjson.loads(payload)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid_identity_token() from None
    if not isinstance(claims, dict):
        raise invalid_identity_token()
    return claims
