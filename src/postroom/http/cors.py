"""CORS and HTTP methods. Preflights are answered only for configured origins
(``--cors-origin``), so by default no web page may send signed requests from a browser;
methods are those AWS accepts per protocol (POST for AWS JSON, GET and POST for Query)."""

from __future__ import annotations

from collections.abc import Iterable

from postroom.http.auth import is_public
from postroom.http.pipeline import Handler, Step
from postroom.http.request import Request, Response
from postroom.http.router import Router
from postroom.protocol.errors import AWSError

PREFLIGHT_MAX_AGE = b"600"
_EXPOSED = b"x-amzn-requestid, x-amzn-errortype, x-amzn-query-error, x-amz-function-error, x-amz-log-result"


class CorsPolicy:
    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = {o.rstrip("/") for o in origins}

    def allows(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.origins or origin.rstrip("/") in self.origins)


def cors_step(policy: CorsPolicy, router: Router) -> Step:
    async def step(request: Request, after: Handler) -> Response:
        origin = request.header(b"origin")
        allowed = policy.allows(origin)
        if request.method == "OPTIONS" and request.header(b"access-control-request-method"):
            if not allowed:  # no CORS headers: the browser refuses the cross-origin call
                error = AWSError("AccessDenied", "CORS preflight refused: origin not allowed.", status=403)
                return router.error_response(request, error)
            assert origin is not None
            headers = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, PATCH, HEAD"),
                (b"access-control-allow-headers",
                 (request.header(b"access-control-request-headers") or "").encode("latin-1")),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE),
                (b"vary", b"Origin"),
            ]
            return Response(200, b"text/plain", b"", headers)
        if not allowed and _cross_origin(request, origin) and not is_public(request):
            # A web page's request (a link, a form, a script): refused unless its origin is
            # configured, whatever it carries (a presigned query is just a link).
            error = AWSError(
                "AccessDenied", "Cross-origin requests are refused; allow the origin with --cors-origin.",
                status=403, type_name="AccessDeniedException",
            )
            return router.error_response(request, error)
        response = await after(request)
        if allowed:
            assert origin is not None
            response.headers.extend([
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", _EXPOSED),
                (b"vary", b"Origin"),
            ])
        return response

    return step


def _cross_origin(request: Request, origin: str | None) -> bool:
    """Whether a browser sent this request on behalf of another site's page: its Origin is
    not this server, or Sec-Fetch-Site says so (sent by browsers on every request, links
    included). SDKs and curl send neither."""
    fetch_site = request.header(b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    if origin is None or origin == "null":
        return origin == "null"
    host = request.header(b"host") or ""
    return origin.split("://", 1)[-1].rstrip("/").lower() != host.lower()


def method_step(router: Router) -> Step:
    """Answer methods the request's protocol does not accept with 405, as a web server in
    front of AWS's endpoints does, instead of running an action."""

    async def step(request: Request, after: Handler) -> Response:
        allowed = router.allowed_methods(request)
        if request.method not in allowed:
            error = AWSError(
                "MethodNotAllowed", f"The HTTP method {request.method} is not allowed for this request.",
                status=405, type_name="MethodNotAllowedException",
            )
            response = router.error_response(request, error)
            response.headers.append((b"allow", ", ".join(allowed).encode()))
            return response
        return await after(request)

    return step
