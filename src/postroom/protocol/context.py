"""Who is calling and where: the facts every operation needs from the HTTP request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.accesskeys import issued_account

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_ACCOUNT_KEY = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")  # us-east-1, us-gov-west-1, ...

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCESS_KEY = "test"


@dataclass(slots=True)
class RequestContext:
    """The caller's account and region, and the base URL it reached us on."""

    account: str
    region: str
    access_key: str
    base_url: str
    request_id: str
    service: str | None = None  # from the SigV4 credential scope, when signed
    admin: bool = False  # an administrator's key (auth file): sees every account's records
    operation: str | None = None  # the operation being served (for resource-policy checks)
    trace_header: str | None = None  # the X-Amzn-Trace-Id request header (X-Ray)


def is_region(value: str) -> bool:
    """Whether ``value`` is shaped like an AWS region name (host names are read with it)."""
    return _REGION.match(value) is not None


def parse_credential(value: str | None) -> tuple[str, str, str] | None:
    """(access key id, region, service) from an Authorization header or X-Amz-Credential."""
    if not value:
        return None
    if "Credential=" not in value:
        value = "Credential=" + value  # the bare form used in presigned query strings
    match = _CREDENTIAL.search(value)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def make_context(
    authorization: str | None, host: str, scheme: str, request_id: str
) -> RequestContext:
    """Build a context: region from the credential scope, account from a 12-digit access
    key id (so tests can act as several accounts) or the account an AWS-format key id
    encodes, for keys Postroom's IAM and STS issued; else the default account."""
    cred = parse_credential(authorization)
    if cred is None:
        return RequestContext(DEFAULT_ACCOUNT, DEFAULT_REGION, DEFAULT_ACCESS_KEY, f"{scheme}://{host}", request_id)
    key, region, service = cred
    if _ACCOUNT_KEY.match(key):
        account = key
    else:
        account = issued_account(key) or DEFAULT_ACCOUNT
    return RequestContext(account, region, key, f"{scheme}://{host}", request_id, service)
