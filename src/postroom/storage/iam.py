"""Typed records of the IAM and STS storage area (roles, managed policies, users, sessions).

Timestamps are epoch milliseconds. Names are unique per account without regard to case,
as in IAM; ``key`` is the lower-cased name used for that uniqueness.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RoleRecord:
    account: str
    name: str
    path: str
    role_id: str
    assume_role_policy: str
    description: str | None
    max_session_duration: int
    tags: list[tuple[str, str]]
    created_at: int
    last_used_at: int | None = None
    last_used_region: str | None = None
    inline_policies: dict[str, str] = field(default_factory=dict)  # name -> document
    attached: list[str] = field(default_factory=list)  # policy ARNs, in attach order
    permissions_boundary: str | None = None  # a managed policy ARN

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"


@dataclass
class PolicyVersionRecord:
    version_id: str
    document: str
    created_at: int


@dataclass
class PolicyRecord:
    """A customer managed policy (AWS managed ones are built in, never stored)."""

    account: str
    name: str
    path: str
    policy_id: str
    description: str | None
    tags: list[tuple[str, str]]
    created_at: int
    updated_at: int
    default_version: str
    next_version: int  # the number the next CreatePolicyVersion gets
    versions: dict[str, PolicyVersionRecord] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:policy{self.path}{self.name}"


@dataclass
class UserRecord:
    account: str
    name: str
    path: str
    user_id: str
    tags: list[tuple[str, str]]
    created_at: int

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"


@dataclass
class AccessKeyRecord:
    access_key_id: str
    account: str
    user_name: str
    secret: str
    status: str
    created_at: int


@dataclass
class SessionRecord:
    """Temporary credentials issued by STS, and the identity they stand for."""

    access_key_id: str
    account: str
    arn: str
    user_id: str
    secret: str
    token: str
    expires_at: int
