"""SMS: account settings, the opt-out list, the sandbox's destination numbers.

No text message is ever sent: one-time passwords for sandbox numbers are recorded
(``/_postroom/sns/records``) for the user to read, like every SMS publish.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

import orjson

from postroom.protocol.context import RequestContext
from postroom.sns.errors import invalid_parameter, invalid_parameter_bare
from postroom.sns.topics import _page
from postroom.storage.sns_records import DIRECT_RECORD_PREFIX

if TYPE_CHECKING:
    from postroom.sns.service import SnsService

Result = dict[str, Any] | None

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
SMS_ATTRIBUTES = frozenset({
    "DeliveryStatusIAMRole", "DeliveryStatusSuccessSamplingRate", "DefaultSenderID", "DefaultSMSType",
    "MonthlySpendLimit", "UsageReportS3Bucket",
})
SMS_DEFAULTS = {"MonthlySpendLimit": "1"}
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
OPTED_OUT = "opted-out"
SANDBOX = "sandbox"


def check_phone_number(number: str | None) -> str:
    if not number or not E164.match(number):
        raise invalid_parameter("PhoneNumber Reason: input incorrectly formatted")
    return number


def is_opted_out(svc: SnsService, account: str, number: str) -> bool:
    return number in svc.mobile.phone_numbers(account, OPTED_OUT)


async def opt_out(svc: SnsService, account: str, number: str) -> None:
    """What a recipient's STOP reply does on AWS (Postroom: a GET on its opt-out route)."""
    await svc.mobile.set_phone_number(account, OPTED_OUT, check_phone_number(number), "OptedOut")


async def set_sms_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    values = dict(p.get("attributes") or {})
    for key, value in values.items():
        if key not in SMS_ATTRIBUTES:
            raise invalid_parameter_bare(f"{key} is not a valid attribute")
        if key == "DefaultSMSType" and value not in ("Promotional", "Transactional"):
            raise invalid_parameter_bare("DefaultSMSType is invalid")
        if key == "DefaultSenderID" and not _SENDER_ID.match(value):
            raise invalid_parameter_bare("DefaultSenderID is not a valid attribute")
        if key in ("MonthlySpendLimit", "DeliveryStatusSuccessSamplingRate") and not value.isdigit():
            raise invalid_parameter_bare(f"{key} is invalid")
    stored = {**SMS_DEFAULTS, **svc.mobile.sms_attributes(ctx.account, ctx.region), **values}
    await svc.mobile.save_sms_attributes(ctx.account, ctx.region, stored)
    return {}


async def get_sms_attributes(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    stored = {**SMS_DEFAULTS, **svc.mobile.sms_attributes(ctx.account, ctx.region)}
    wanted = p.get("attributes")
    return {"attributes": {k: v for k, v in stored.items() if not wanted or k in wanted}}


async def check_if_phone_number_is_opted_out(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    number = check_phone_number(p["phoneNumber"])
    return {"isOptedOut": is_opted_out(svc, ctx.account, number)}


async def list_phone_numbers_opted_out(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    numbers = sorted(svc.mobile.phone_numbers(ctx.account, OPTED_OUT))
    page, token = _page(numbers, p.get("nextToken"))
    out: dict[str, Any] = {"phoneNumbers": page}
    if token:
        out["nextToken"] = token
    return out


async def opt_in_phone_number(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    number = check_phone_number(p["phoneNumber"])
    if is_opted_out(svc, ctx.account, number):
        await svc.mobile.set_phone_number(ctx.account, OPTED_OUT, number, None)
    return {}


# -- the SMS sandbox: destination numbers verified with a one-time password ------------------
# A sandbox number's stored status is "Pending:<password>" until verified, then "Verified".


def _sandbox_status(svc: SnsService, account: str, number: str) -> str:
    status = svc.mobile.phone_numbers(account, SANDBOX).get(number)
    if status is None:
        raise svc.model.error("ResourceNotFoundException", "Phone number does not exist.")
    return status


async def get_sms_sandbox_account_status(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    return {"IsInSandbox": False}  # Postroom sends no SMS, so nothing is held back


async def create_sms_sandbox_phone_number(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    number = check_phone_number(p["PhoneNumber"])
    status = svc.mobile.phone_numbers(ctx.account, SANDBOX).get(number)
    if status == "Verified":
        raise invalid_parameter("PhoneNumber Reason: the phone number is already verified")
    password = f"{secrets.randbelow(10**6):06d}"
    await svc.mobile.set_phone_number(ctx.account, SANDBOX, number, f"Pending:{password}")
    now = svc.clock.now_ms()
    text = f"Your Amazon SNS verification code is: {password}"
    row = (DIRECT_RECORD_PREFIX + ctx.account, "sms", number, orjson.dumps({"Message": text}), now)
    await svc.topics.publish([], [], [row], now)
    return {}


async def verify_sms_sandbox_phone_number(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    number = check_phone_number(p["PhoneNumber"])
    status = _sandbox_status(svc, ctx.account, number)
    if status != "Verified":
        if status.partition(":")[2] != p["OneTimePassword"]:
            raise svc.model.error("VerificationException", "Invalid one-time password.")
        await svc.mobile.set_phone_number(ctx.account, SANDBOX, number, "Verified")
    return {}


async def delete_sms_sandbox_phone_number(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    number = check_phone_number(p["PhoneNumber"])
    _sandbox_status(svc, ctx.account, number)
    await svc.mobile.set_phone_number(ctx.account, SANDBOX, number, None)
    return {}


def _max_results(p: dict[str, Any]) -> int:
    wanted = p.get("MaxResults")
    if wanted is not None and not 1 <= wanted <= 100:
        raise invalid_parameter(f"MaxResults Reason: {wanted} must be between 1 and 100")
    return wanted or 100


async def list_sms_sandbox_phone_numbers(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    size = _max_results(p)
    numbers = sorted(svc.mobile.phone_numbers(ctx.account, SANDBOX).items())
    start = int(p["NextToken"]) if (p.get("NextToken") or "").isdigit() else 0
    page = numbers[start : start + size]
    out: dict[str, Any] = {
        "PhoneNumbers": [{"PhoneNumber": n, "Status": s.partition(":")[0]} for n, s in page]
    }
    if start + size < len(numbers):
        out["NextToken"] = str(start + size)
    return out


async def list_origination_numbers(svc: SnsService, p: dict[str, Any], ctx: RequestContext) -> Result:
    _max_results(p)
    return {"PhoneNumbers": []}  # Postroom owns no origination numbers


OPERATIONS = {
    "SetSMSAttributes": set_sms_attributes,
    "GetSMSAttributes": get_sms_attributes,
    "CheckIfPhoneNumberIsOptedOut": check_if_phone_number_is_opted_out,
    "ListPhoneNumbersOptedOut": list_phone_numbers_opted_out,
    "OptInPhoneNumber": opt_in_phone_number,
    "GetSMSSandboxAccountStatus": get_sms_sandbox_account_status,
    "CreateSMSSandboxPhoneNumber": create_sms_sandbox_phone_number,
    "VerifySMSSandboxPhoneNumber": verify_sms_sandbox_phone_number,
    "DeleteSMSSandboxPhoneNumber": delete_sms_sandbox_phone_number,
    "ListSMSSandboxPhoneNumbers": list_sms_sandbox_phone_numbers,
    "ListOriginationNumbers": list_origination_numbers,
}
