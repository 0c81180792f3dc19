"""What the console's endpoints share: ``Operations`` (public operations, validated like a
wire request, and the typed internal APIs) and argument parsing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from postroom.clock import Clock
from postroom.ids import new_id
from postroom.protocol.context import DEFAULT_ACCOUNT, DEFAULT_REGION, RequestContext
from postroom.protocol.errors import AWSError
from postroom.protocol.validate import check_required
from postroom.service import Service

if TYPE_CHECKING:
    from postroom.services import Apis

PER_PAGE = 50
MAX_PER_PAGE = 200
LIST_PAGES_LIMIT = 1000  # pages of a List* operation read for one console listing


class BadRequest(Exception):
    """The console sent something malformed (answered 400)."""


class Operations:
    """What the endpoints act through."""

    def __init__(self, services: Mapping[str, Service], apis: Apis, clock: Clock) -> None:
        self.services = services
        self.apis = apis
        self.clock = clock

    async def call(
        self, service: str, operation: str, params: dict[str, Any], base_url: str,
        account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION,
    ) -> dict[str, Any]:
        """Run a public operation as a signed request from ``account`` in ``region`` would."""
        svc = self.services.get(service)
        if svc is None or operation not in svc.model.operations:
            raise AWSError("ServiceUnavailable", f"{service} {operation} is not served by this server.", status=501)
        check_required(svc.model, operation, params)
        ctx = RequestContext(account, region, "console", base_url, new_id(), service)
        return await svc.call(operation, params, ctx) or {}


Endpoint = Callable[[Operations, dict[str, Any], str], Awaitable[Any]]

# -- helpers ----------------------------------------------------------------------------------


def text_arg(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} is required.")
    return value


def int_arg(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a whole number.") from None
    return max(low, min(number, high))


def page_of(items: list[Any], args: dict[str, Any]) -> tuple[list[Any], dict[str, int]]:
    per_page = int_arg(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE)
    pages = max(1, -(-len(items) // per_page))
    page = int_arg(args, "page", 1, 1, pages)
    start = (page - 1) * per_page
    return items[start : start + per_page], {"page": page, "pages": pages, "per_page": per_page, "total": len(items)}


def arn_parts(arn: str, service: str) -> tuple[str, str, str]:
    """(region, account, resource) of an ARN of ``service``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        raise BadRequest(f"{arn!r} is not an {service} ARN.")
    return parts[3], parts[4], parts[5]


def where(args: dict[str, Any]) -> tuple[str, str]:
    return str(args.get("account") or DEFAULT_ACCOUNT), str(args.get("region") or DEFAULT_REGION)


def matches(name: str, args: dict[str, Any]) -> bool:
    search = str(args.get("search") or "").lower()
    return search in name.lower()


def message_attributes(args: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``[{name, type, value}]`` from the console form, in wire form."""
    rows = args.get("attributes") or []
    if not isinstance(rows, list):
        raise BadRequest("attributes must be a list.")
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if not isinstance(row, dict) or not row.get("name"):
            raise BadRequest("Each attribute needs a name.")
        data_type = str(row.get("type") or "String")
        out[str(row["name"])] = {"DataType": data_type, "StringValue": str(row.get("value", ""))}
    return out
