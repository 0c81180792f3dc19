"""SigV4 signature checks (Authorization header and presigned query), computed with
botocore's own signer so canonicalisation matches what the SDKs send."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from postroom.http.request import Request

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)"
    r"\s*,\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)
_SCOPE = re.compile(r"^(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request$")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
SIGNATURE_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a request's SigV4 signature claims, before it is checked."""

    access_key: str
    region: str
    service: str
    timestamp: str  # yyyymmddThhmmssZ
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    expires: int | None = None  # presigned: seconds after ``timestamp``


class MalformedSignature(ValueError):
    """The request carries SigV4 parts that cannot be read (the message says which)."""


def is_presigned(query: str) -> bool:
    return "X-Amz-Signature=" in query and "X-Amz-Credential=" in query


def parse_signature(request: Request) -> SignedRequest | None:
    """The signature a request carries (header or presigned query), None if unsigned;
    MalformedSignature if it is there but unreadable."""
    header = request.header(b"authorization")
    if header is not None:
        match = _AUTH.match(header.strip())
        if match is None:
            raise MalformedSignature("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.")
        timestamp = request.header(b"x-amz-date") or ""
        return _claim(match["cred"], match["signed"], match["sig"], timestamp, False, None)
    if not is_presigned(request.query_string):
        return None
    params: dict[str, str] = {}
    for pair in request.query_string.split("&"):
        key, _, value = pair.partition("=")
        if key.startswith("X-Amz-"):
            params[key] = unquote(value)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise MalformedSignature("X-Amz-Algorithm must be AWS4-HMAC-SHA256.")
    expires_text = params.get("X-Amz-Expires", "")
    if not expires_text.isdigit():
        raise MalformedSignature("X-Amz-Expires must be a number of seconds.")
    return _claim(
        params.get("X-Amz-Credential", ""), params.get("X-Amz-SignedHeaders", "host"),
        params.get("X-Amz-Signature", ""), params.get("X-Amz-Date", ""), True, int(expires_text),
    )


def _claim(
    credential: str, signed: str, signature: str, timestamp: str, presigned: bool, expires: int | None
) -> SignedRequest:
    scope = _SCOPE.match(credential)
    if scope is None:
        raise MalformedSignature(f"Credential should be scoped to a valid region, service and date: {credential}")
    if not _AMZ_DATE.match(timestamp):
        raise MalformedSignature("The request must carry an X-Amz-Date in yyyyMMddTHHmmssZ form.")
    if scope["date"] != timestamp[:8]:
        raise MalformedSignature("The credential scope date does not match X-Amz-Date.")
    return SignedRequest(
        scope["key"], scope["region"], scope["service"], timestamp,
        tuple(signed.lower().split(";")), signature.lower(), presigned, expires,
    )


def signed_at_ms(claim: SignedRequest) -> int:
    stamp = datetime.strptime(claim.timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def signature_matches(request: Request, claim: SignedRequest, secret: str) -> bool:
    """Whether ``claim.signature`` is the signature ``secret`` gives this request."""
    headers = {}
    for name in claim.signed_headers:
        value = request.headers.get(name.encode("latin-1"))
        if value is None:
            return False  # a signed header that did not arrive
        headers[name] = value.decode("latin-1")
    query = request.query_string
    if claim.presigned:
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    host = headers.get("host") or request.header(b"host") or "localhost"
    url = f"{request.scheme}://{host}{request.raw_path}" + (f"?{query}" if query else "")
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    aws_request.context["timestamp"] = claim.timestamp
    signer = SigV4Auth(Credentials(claim.access_key, secret), claim.service, claim.region)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    return hmac.compare_digest(expected, claim.signature)
