"""SNS mobile push and SMS state on SQLite (cached in memory, written through)."""

from __future__ import annotations

import orjson

from postroom.storage.sns_mobile import PlatformApplicationRecord, PlatformEndpointRecord
from postroom.storage.sql.refresh import Key, Refresher
from postroom.storage.sql.txn import Committer, Connection, Txn
from postroom.storage.sql.upsert import upsert

CHANNEL = "sns_mobile"  # any change: other nodes reload this (small) sub-store whole

_APP_COLUMNS = "arn, account, region, name, platform, attributes, created_at"
_ENDPOINT_COLUMNS = "arn, application_arn, token, attributes, created_at"


def _dumps(value: dict[str, str]) -> str:
    return orjson.dumps(value).decode()


class SqlSnsMobileStore:
    """Platform applications, their endpoints, SMS attributes and phone-number lists."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.applications: dict[str, PlatformApplicationRecord] = {}
        self.endpoints: dict[str, PlatformEndpointRecord] = {}
        self._sms: dict[tuple[str, str], dict[str, str]] = {}
        self._numbers: dict[tuple[str, str], dict[str, str]] = {}
        self.refresher = Refresher(committer.notifier, [CHANNEL], self._reload)

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        for cache in (self.applications, self.endpoints, self._sms, self._numbers):
            cache.clear()
        self.refresher.forget()

    async def find(self, arn: str) -> bool:
        """Whether an application or endpoint missing from the cache is in the database
        (another node's new one); the cache is reloaded to hold it."""
        await self._reload(None)
        return arn in self.applications or arn in self.endpoints

    async def _reload(self, stale: set[Key] | None) -> list[Key]:
        await self.load()
        return [(CHANNEL, "")]

    async def load(self) -> None:
        """Read everything, then swap it in at once (no await in between)."""
        def op(conn: Connection, txn: Txn) -> tuple[list[tuple], ...]:
            return (
                conn.execute(f"SELECT {_APP_COLUMNS} FROM sns_platform_applications").fetchall(),
                conn.execute(f"SELECT {_ENDPOINT_COLUMNS} FROM sns_platform_endpoints").fetchall(),
                conn.execute("SELECT account, region, attributes FROM sns_sms_attributes").fetchall(),
                conn.execute("SELECT account, kind, number, status FROM sns_phone_numbers").fetchall(),
            )

        apps, endpoints, sms, numbers = await self._committer.run(op, drain=True)  # runs on a full disk
        applications = {
            arn: PlatformApplicationRecord(arn, account, region, name, platform, orjson.loads(attributes), created)
            for arn, account, region, name, platform, attributes, created in apps
        }
        endpoint_records = {
            arn: PlatformEndpointRecord(arn, app, token, orjson.loads(attributes), created)
            for arn, app, token, attributes, created in endpoints
        }
        sms_attributes = {(account, region): orjson.loads(attributes) for account, region, attributes in sms}
        phone_numbers: dict[tuple[str, str], dict[str, str]] = {}
        for account, kind, number, status in numbers:
            phone_numbers.setdefault((account, kind), {})[number] = status
        for cache, fresh in (
            (self.applications, applications), (self.endpoints, endpoint_records),
            (self._sms, sms_attributes), (self._numbers, phone_numbers),
        ):
            cache.clear()
            cache.update(fresh)

    async def save_application(self, app: PlatformApplicationRecord) -> None:
        row = (app.arn, app.account, app.region, app.name, app.platform, _dumps(app.attributes), app.created_at)
        await self._committer.run(lambda conn, txn: _changed(txn, conn.execute(
            upsert("sns_platform_applications", tuple(_APP_COLUMNS.split(", ")), 1), row
        )))
        self.applications[app.arn] = app

    async def delete_application(self, arn: str) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM sns_platform_applications WHERE arn=?", (arn,))
            conn.execute("DELETE FROM sns_platform_endpoints WHERE application_arn=?", (arn,))
            txn.notify(CHANNEL, "")

        await self._committer.run(op, drain=True)
        self.applications.pop(arn, None)
        for endpoint_arn in [e.arn for e in self.endpoints.values() if e.application_arn == arn]:
            del self.endpoints[endpoint_arn]

    async def save_endpoint(self, endpoint: PlatformEndpointRecord) -> None:
        row = (endpoint.arn, endpoint.application_arn, endpoint.token, _dumps(endpoint.attributes),
               endpoint.created_at)
        await self._committer.run(lambda conn, txn: _changed(txn, conn.execute(
            upsert("sns_platform_endpoints", tuple(_ENDPOINT_COLUMNS.split(", ")), 1), row
        )))
        self.endpoints[endpoint.arn] = endpoint

    async def delete_endpoint(self, arn: str) -> None:
        await self._committer.run(
            lambda conn, txn: _changed(txn, conn.execute("DELETE FROM sns_platform_endpoints WHERE arn=?", (arn,))),
            drain=True,
        )
        self.endpoints.pop(arn, None)

    def sms_attributes(self, account: str, region: str) -> dict[str, str]:
        return dict(self._sms.get((account, region), {}))

    async def save_sms_attributes(self, account: str, region: str, attributes: dict[str, str]) -> None:
        row = (account, region, _dumps(attributes))
        await self._committer.run(lambda conn, txn: _changed(txn, conn.execute(
            upsert("sns_sms_attributes", ("account", "region", "attributes"), 2), row
        )))
        self._sms[(account, region)] = dict(attributes)

    def phone_numbers(self, account: str, kind: str) -> dict[str, str]:
        return dict(self._numbers.get((account, kind), {}))

    async def set_phone_number(self, account: str, kind: str, number: str, status: str | None) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            if status is None:
                conn.execute(
                    "DELETE FROM sns_phone_numbers WHERE account=? AND kind=? AND number=?", (account, kind, number)
                )
            else:
                conn.execute(
                    upsert("sns_phone_numbers", ("account", "kind", "number", "status"), 3),
                    (account, kind, number, status),
                )
            txn.notify(CHANNEL, "")

        await self._committer.run(op)
        numbers = self._numbers.setdefault((account, kind), {})
        if status is None:
            numbers.pop(number, None)
        else:
            numbers[number] = status


def _changed(txn: Txn, result: object) -> object:
    txn.notify(CHANNEL, "")
    return result
