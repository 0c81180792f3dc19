"""Authentication: which requests are served, and as whom.

By default every request must carry AWS authentication (a SigV4 ``Authorization`` header or
a presigned query): a web page cannot make a browser drive Postroom with a plain link or
form. The calls AWS itself serves unsigned stay open (``/health``, the SNS signing
certificate, SNS ``SubscribeURL``/``UnsubscribeURL`` links, function code locations).
``allow_unsigned`` relaxes this for curl-style use.

Without a key file any key is accepted and a 12-digit key id names the account (local
development). With one (``--auth FILE``), signatures are verified with the key's secret,
the account is the key's, and the request time must be within five minutes of the
server's (presigned URLs: before they expire).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from postroom.clock import Clock
from postroom.http import admin
from postroom.http.keys import AccessKey
from postroom.http.pipeline import Handler, Step
from postroom.http.request import Request, Response
from postroom.http.router import Router
from postroom.http.sigv4 import (
    MalformedSignature,
    is_presigned,
    parse_signature,
    signature_matches,
    signed_at_ms,
)
from postroom.iam.api import IssuedCredentials
from postroom.protocol.errors import AWSError

SKEW_MS = 5 * 60 * 1000  # AWS refuses header-signed requests more than 5 minutes off
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600
# GET paths served to anyone, as AWS serves their equivalents (certificates, code zips).
PUBLIC_PATHS = frozenset({"/health", "/metrics", "/_postroom/lambda/code"})
# The web console runs in a browser, unsigned: it is kept to this server's own origin by the
# Host and cross-origin checks (and takes JSON only, which forms cannot send).
CONSOLE_PREFIX = "/_postroom/console"
# The test clock and reset endpoints (pytest plugin, curl): same protection as the console.
ADMIN_PATHS = admin.PATHS
_CERTIFICATE = re.compile(r"^/_postroom/sns/SimpleNotificationService(-[0-9a-f]{32})?\.pem$")
# SNS's SubscribeURL and UnsubscribeURL: followed by endpoints and mail readers, unsigned.
LINK_ACTIONS = ("Action=ConfirmSubscription", "Action=Unsubscribe")


@dataclass
class AuthConfig:
    keys: dict[str, AccessKey] | None = None  # None: any key, account from a 12-digit key id
    allow_unsigned: bool = False
    # Function environments sign with their account id as key id and this secret.
    function_secret: str | None = None
    # Keys issued by Postroom's IAM (access keys) and STS (temporary credentials).
    issued: Callable[[str], IssuedCredentials | None] | None = None
    # Looks up in storage a key ``issued`` did not know (issued by another node a moment
    # ago); True if ``issued`` knows it now.
    find_issued: Callable[[str], Awaitable[bool]] | None = None


def auth_step(config: AuthConfig, router: Router, clock: Clock) -> Step:
    """The pipeline step that authenticates requests under ``config``."""

    async def step(request: Request, after: Handler) -> Response:
        try:
            _authenticate(request, config, clock, router.unsigned_actions)
        except AWSError as error:
            if not await _issued_elsewhere(request, config, error):
                return router.error_response(request, error)
            try:
                _authenticate(request, config, clock, router.unsigned_actions)
            except AWSError as again:
                return router.error_response(request, again)
        return await after(request)

    return step


def _authenticate(request: Request, config: AuthConfig, clock: Clock, unsigned_actions: frozenset[str]) -> None:
    if is_public(request) or request.path == CONSOLE_PREFIX or request.path.startswith(CONSOLE_PREFIX + "/"):
        return
    if request.path in ADMIN_PATHS and config.keys is None:
        return  # the test clock and reset, for local use (with --auth they must be signed)
    if request.header(b"authorization") is None and not is_presigned(request.query_string):
        if config.allow_unsigned or _action(request) in unsigned_actions:
            return
        raise AWSError(
            "MissingAuthenticationToken",
            "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
            status=403, type_name="MissingAuthenticationTokenException",
        )
    if config.keys is None:
        # Any key, signature unchecked: what keeps web pages out is that a browser cannot
        # send an Authorization header cross-origin (preflights are refused) and that
        # cross-origin requests are refused (the CORS step), presigned links included.
        return
    try:
        claim = parse_signature(request)
    except MalformedSignature as exc:
        raise AWSError("IncompleteSignature", str(exc), type_name="IncompleteSignatureException") from None
    assert claim is not None
    key = config.keys.get(claim.access_key)
    if key is None and config.function_secret and claim.access_key.isdigit() and len(claim.access_key) == 12:
        key = AccessKey(claim.access_key, config.function_secret, claim.access_key)
    if key is None and config.issued is not None:
        key = _issued_key(request, claim.access_key, config.issued(claim.access_key), clock)
    if key is None:
        raise AWSError(
            "InvalidClientTokenId", "The security token included in the request is invalid.",
            status=403, type_name="UnrecognizedClientException",
        )
    _check_time(claim.timestamp, signed_at_ms(claim), claim.expires, clock.now_ms())
    if not signature_matches(request, claim, key.secret_access_key):
        raise AWSError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.",
            status=403, type_name="InvalidSignatureException",
        )
    request.ctx.account = key.account
    request.ctx.access_key = key.access_key_id
    request.ctx.admin = key.admin


async def _issued_elsewhere(request: Request, config: AuthConfig, error: AWSError) -> bool:
    """An unknown key may be one another node issued a moment ago (credentials from STS are
    often used at once, through any node): look it up in storage once."""
    if error.code != "InvalidClientTokenId" or config.find_issued is None:
        return False
    claim = parse_signature(request)
    return claim is not None and await config.find_issued(claim.access_key)


def _issued_key(request: Request, key_id: str, issued: IssuedCredentials | None, clock: Clock) -> AccessKey | None:
    """The key an IAM access key or STS session stands for, if it may sign this request."""
    if issued is None or not issued.active:
        return None
    if issued.session_token is not None:
        token = request.header(b"x-amz-security-token") or _query_param(request.query_string, "X-Amz-Security-Token")
        if token != issued.session_token:
            return None
        if issued.expires_at is not None and clock.now_ms() >= issued.expires_at:
            raise AWSError(
                "ExpiredToken", "The security token included in the request is expired",
                status=403, type_name="ExpiredTokenException",
            )
    return AccessKey(key_id, issued.secret, issued.account)


def _action(request: Request) -> str | None:
    """The Query protocol's Action, from the query string or a form body."""
    action = _query_param(request.query_string, "Action")
    content_type = request.header(b"content-type") or ""
    if action is None and request.body and content_type.startswith("application/x-www-form-urlencoded"):
        action = _query_param(request.body.decode("latin-1"), "Action")
    return action


def _query_param(query: str, name: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return unquote(value)
    return None


def _check_time(stamp: str, signed_ms: int, expires: int | None, now_ms: int) -> None:
    if expires is not None:  # presigned: valid from its date until it expires
        if expires < 1 or expires > MAX_PRESIGN_EXPIRES:
            raise AWSError(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be between 1 and 604800 seconds.",
                type_name="IncompleteSignatureException",
            )
        if now_ms > signed_ms + expires * 1000 or now_ms + SKEW_MS < signed_ms:
            raise AWSError(  # AWS's common errors: RequestExpired, HTTP 400
                "RequestExpired", "Request has expired.", type_name="InvalidSignatureException"
            )
        return
    if now_ms - signed_ms > SKEW_MS:
        raise AWSError(
            "SignatureDoesNotMatch",
            f"Signature expired: {stamp} is now earlier than {_stamp(now_ms - SKEW_MS)} "
            f"({_stamp(now_ms)} - 5 min.)",
            status=403, type_name="InvalidSignatureException",
        )
    if signed_ms - now_ms > SKEW_MS:
        raise AWSError(
            "SignatureDoesNotMatch",
            f"Signature not yet current: {stamp} is still later than {_stamp(now_ms + SKEW_MS)} "
            f"({_stamp(now_ms)} + 5 min.)",
            status=403, type_name="InvalidSignatureException",
        )


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")


def is_public(request: Request) -> bool:
    """Whether anyone may make this request unsigned, from anywhere: the health check,
    certificates, code locations and SNS's SubscribeURL/UnsubscribeURL links (followed by
    endpoints and from mail readers)."""
    if request.method != "GET":
        return False
    if request.path in PUBLIC_PATHS or _CERTIFICATE.match(request.path):
        return True
    return not request.body and any(pair in LINK_ACTIONS for pair in request.query_string.split("&"))
