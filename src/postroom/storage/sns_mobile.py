"""Typed records for SNS mobile push and SMS settings (platform applications, endpoints,
per-account SMS attributes and phone-number lists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass
class PlatformApplicationRecord:
    arn: str
    account: str
    region: str
    name: str
    platform: str
    attributes: dict[str, str]  # includes the (never shown) credentials
    created_at: int


@dataclass
class PlatformEndpointRecord:
    arn: str
    application_arn: str
    token: str
    attributes: dict[str, str]  # Token, Enabled, CustomUserData
    created_at: int


class SnsMobileStore(Protocol):
    """Durable mobile-push and SMS state, cached in memory and written through."""

    applications: dict[str, PlatformApplicationRecord]
    endpoints: dict[str, PlatformEndpointRecord]

    async def save_application(self, app: PlatformApplicationRecord) -> None: ...
    async def delete_application(self, arn: str) -> None: ...
    async def save_endpoint(self, endpoint: PlatformEndpointRecord) -> None: ...
    async def delete_endpoint(self, arn: str) -> None: ...
    def sms_attributes(self, account: str, region: str) -> dict[str, str]: ...
    async def save_sms_attributes(self, account: str, region: str, attributes: dict[str, str]) -> None: ...
    def phone_numbers(self, account: str, kind: str) -> dict[str, str]:
        """Numbers of one list ("opted-out" or "sandbox") -> their status."""
        ...
    async def set_phone_number(self, account: str, kind: str, number: str, status: str | None) -> None:
        """Add or update a number in a list; ``status=None`` removes it."""
        ...
