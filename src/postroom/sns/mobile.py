"""Mobile push: platform applications and their endpoints.

Nothing reaches a push service: publishes to an endpoint are validated and recorded
(``/_postroom/sns/records``), as for the other protocols Postroom cannot reach.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from postroom.ids import new_id
from postroom.protocol.context import RequestContext
from postroom.sns.errors import invalid_parameter, not_found
from postroom.sns.topics import _page
from postroom.storage.sns_mobile import PlatformApplicationRecord, PlatformEndpointRecord

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

Result = dict[str, Any] | None

PLATFORMS = frozenset({"ADM", "APNS", "APNS_SANDBOX", "BAIDU", "GCM", "MPNS", "WNS"})
_SECRET = frozenset({"PlatformCredential", "PlatformPrincipal"})  # stored, never shown
APPLICATION_ATTRIBUTES = _SECRET | frozenset({
    "Enabled", "EventEndpointCreated", "EventEndpointDeleted", "EventEndpointUpdated",
    "EventDeliveryFailure", "SuccessFeedbackRoleArn", "FailureFeedbackRoleArn",
    "SuccessFeedbackSampleRate", "ApplePlatformTeamID", "ApplePlatformBundleID", "AuthenticationMethod",
})
ENDPOINT_ATTRIBUTES = frozenset({"CustomUserData", "Enabled", "Token"})
MAX_CUSTOM_USER_DATA = 2048
_APP_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_APP_ARN = re.compile(r"^arn:aws[\w-]*:sns:[\w-]+:\d{12}:app/[A-Z_]+/[A-Za-z0-9._-]+$")
ENDPOINT_ARN = re.compile(r"^arn:aws[\w-]*:sns:[\w-]+:\d{12}:endpoint/[A-Z_]+/[A-Za-z0-9._-]+/[0-9a-f-]{36}$")


def _check_name(name: str) -> None:
    reason = None
    if not name:
        reason = "cannot be empty"
    elif len(name) > 256:
        reason = "must be at most 256 characters long"
    elif not _APP_NAME.match(name):
        reason = "must contain only characters 'a'-'z', 'A'-'Z', '0'-'9', '_', '-', and '.'"
    if reason:
        raise invalid_parameter(f"{name} Reason: {reason}")


def _check_application_attributes(attributes: dict[str, str]) -> None:
    for key, value in attributes.items():
        if key not in APPLICATION_ATTRIBUTES:
            raise invalid_parameter(f"Attributes Reason: Invalid attribute name: {key}")
        if key == "Enabled" and value not in ("true", "false"):
            raise invalid_parameter("Attributes Reason: Invalid value for attribute: Enabled: must be true or false")


def _shown(app: PlatformApplicationRecord) -> dict[str, str]:
    return {k: v for k, v in app.attributes.items() if k not in _SECRET}


def application(svc: SnsService, arn: str, ctx: RequestContext) -> PlatformApplicationRecord:
    if not _APP_ARN.match(arn or ""):
        raise invalid_parameter("PlatformApplicationArn Reason: Wrong number of slashes in relative portion of the ARN.")
    app = svc.mobile.applications.get(arn)
    if app is None or app.account != ctx.account:
        raise not_found("PlatformApplication does not exist")
    return app


def endpoint(svc: SnsService, arn: str) -> PlatformEndpointRecord:
    found = svc.mobile.endpoints.get(arn)
    if found is None:
        raise not_found("Endpoint does not exist")
    return found


async def create_platform_application(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    name, platform = p["Name"], p["Platform"]
    attributes = dict(p.get("Attributes") or {})
    _check_name(name)
    if platform not in PLATFORMS:
        raise invalid_parameter(f"Platform Reason: {platform} is not supported")
    _check_application_attributes(attributes)
    if "PlatformPrincipal" in attributes and "PlatformCredential" not in attributes:
        raise invalid_parameter("Attributes Reason: PlatformPrincipal attribute provided without PlatformCredential")
    if "PlatformCredential" in attributes and "PlatformPrincipal" not in attributes and platform != "GCM":
        raise invalid_parameter("Attributes Reason: PlatformCredential attribute provided without PlatformPrincipal")
    arn = f"arn:aws:sns:{ctx.region}:{ctx.account}:app/{platform}/{name}"
    existing = svc.mobile.applications.get(arn)
    stored = {"Enabled": "true", **(existing.attributes if existing else {}), **attributes}
    created = existing.created_at if existing else svc.clock.now_ms()
    await svc.mobile.save_application(
        PlatformApplicationRecord(arn, ctx.account, ctx.region, name, platform, stored, created)
    )
    return {"PlatformApplicationArn": arn}


async def get_platform_application_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return {"Attributes": _shown(application(svc, p["PlatformApplicationArn"], ctx))}


async def set_platform_application_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    app = application(svc, p["PlatformApplicationArn"], ctx)
    attributes = dict(p.get("Attributes") or {})
    _check_application_attributes(attributes)
    # A changed copy: the cached record changes only once the write commits.
    await svc.mobile.save_application(replace(app, attributes={**app.attributes, **attributes}))
    return None


async def delete_platform_application(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    arn = p["PlatformApplicationArn"]
    if not _APP_ARN.match(arn or ""):
        raise invalid_parameter("PlatformApplicationArn Reason: Wrong number of slashes in relative portion of the ARN.")
    if arn in svc.mobile.applications:  # deleting a missing application succeeds, as on AWS
        await svc.mobile.delete_application(arn)
    return None


async def list_platform_applications(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    apps = sorted(
        (a for a in svc.mobile.applications.values() if a.account == ctx.account and a.region == ctx.region),
        key=lambda a: a.arn,
    )
    page, token = _page(apps, p.get("NextToken"))
    out: dict[str, Any] = {
        "PlatformApplications": [{"PlatformApplicationArn": a.arn, "Attributes": _shown(a)} for a in page]
    }
    if token:
        out["NextToken"] = token
    return out


def _check_endpoint_attributes(attributes: dict[str, str]) -> None:
    for key, value in attributes.items():
        if key not in ENDPOINT_ATTRIBUTES:
            raise invalid_parameter(f"Attributes Reason: Invalid attribute name: {key}")
        if key == "Enabled" and value.lower() not in ("true", "false"):
            raise invalid_parameter("Attributes Reason: Invalid value for attribute: Enabled: must be true or false")
        if key == "Token" and not value:
            raise invalid_parameter("Attributes Reason: Invalid value for attribute: Token: cannot be empty")
    if len(attributes.get("CustomUserData", "").encode()) > MAX_CUSTOM_USER_DATA:
        raise invalid_parameter(
            "Attributes Reason: Invalid value for attribute: CustomUserData: must be at most 2048 bytes long "
            "in UTF-8 encoding"
        )


async def create_platform_endpoint(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    app = application(svc, p["PlatformApplicationArn"], ctx)
    token = p["Token"]
    if not token:
        raise invalid_parameter("Token Reason: cannot be empty")
    attributes = dict(p.get("Attributes") or {})
    _check_endpoint_attributes(attributes)
    if p.get("CustomUserData") is not None:
        attributes.setdefault("CustomUserData", p["CustomUserData"])  # the attribute wins
    wanted = {"Enabled": "true", **attributes, "Token": token}
    for existing in svc.mobile.endpoints.values():
        # AWS's idempotency: the same token gives the same endpoint, unless its attributes differ.
        if existing.application_arn == app.arn and existing.token == token:
            if existing.attributes != wanted:
                raise invalid_parameter(
                    f"Token Reason: Endpoint {existing.arn} already exists with the same Token, "
                    "but different attributes."
                )
            return {"EndpointArn": existing.arn}
    arn = f"arn:aws:sns:{app.region}:{app.account}:endpoint/{app.platform}/{app.name}/{new_id()}"
    await svc.mobile.save_endpoint(PlatformEndpointRecord(arn, app.arn, token, wanted, svc.clock.now_ms()))
    return {"EndpointArn": arn}


async def get_endpoint_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return {"Attributes": dict(endpoint(svc, p["EndpointArn"]).attributes)}


async def set_endpoint_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    found = endpoint(svc, p["EndpointArn"])
    attributes = dict(p.get("Attributes") or {})
    _check_endpoint_attributes(attributes)
    if "Enabled" in attributes:
        attributes["Enabled"] = attributes["Enabled"].lower()
    merged = {**found.attributes, **attributes}
    await svc.mobile.save_endpoint(replace(found, attributes=merged, token=merged["Token"]))
    return None


async def delete_endpoint(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    if p["EndpointArn"] in svc.mobile.endpoints:  # idempotent, as on AWS
        await svc.mobile.delete_endpoint(p["EndpointArn"])
    return None


async def list_endpoints_by_platform_application(
    svc: SnsService, p: dict[str, Any], ctx: RequestContext
) -> Result:
    app = application(svc, p["PlatformApplicationArn"], ctx)
    endpoints = sorted(
        (e for e in svc.mobile.endpoints.values() if e.application_arn == app.arn),
        key=lambda e: (e.created_at, e.arn),
    )
    page, token = _page(endpoints, p.get("NextToken"))
    out: dict[str, Any] = {"Endpoints": [{"EndpointArn": e.arn, "Attributes": dict(e.attributes)} for e in page]}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS = {
    "CreatePlatformApplication": create_platform_application,
    "GetPlatformApplicationAttributes": get_platform_application_attributes,
    "SetPlatformApplicationAttributes": set_platform_application_attributes,
    "DeletePlatformApplication": delete_platform_application,
    "ListPlatformApplications": list_platform_applications,
    "CreatePlatformEndpoint": create_platform_endpoint,
    "GetEndpointAttributes": get_endpoint_attributes,
    "SetEndpointAttributes": set_endpoint_attributes,
    "DeleteEndpoint": delete_endpoint,
    "ListEndpointsByPlatformApplication": list_endpoints_by_platform_application,
}
