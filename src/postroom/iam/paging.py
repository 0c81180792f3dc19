"""IAM's Marker/MaxItems paging over an already sorted list of items."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from postroom.iam import limits
from postroom.iam.errors import validation_error

T = TypeVar("T")


def page(
    items: Sequence[T], params: dict[str, Any], sort_key: Callable[[T], str], member: str,
    render: Callable[[T], Any],
) -> dict[str, Any]:
    """One page: ``{member: [...], "IsTruncated": bool, "Marker"?: str}``. The marker is
    the sort key of the next page's first item, so paging survives inserts and deletes."""
    max_items = params.get("MaxItems") or limits.DEFAULT_MAX_ITEMS
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        try:
            after = base64.urlsafe_b64decode(marker.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise validation_error("Invalid Marker.") from None
        start = next((i for i, item in enumerate(items) if sort_key(item) >= after), len(items))
    chunk = items[start : start + max_items]
    out: dict[str, Any] = {member: [render(i) for i in chunk], "IsTruncated": False}
    if start + max_items < len(items):
        out["IsTruncated"] = True
        out["Marker"] = base64.urlsafe_b64encode(sort_key(items[start + max_items]).encode()).decode()
    return out


def tag_page(tags: list[tuple[str, str]], params: dict[str, Any]) -> dict[str, Any]:
    """ListRoleTags and the like: tags ordered by key (IAM's ListPolicyTags order)."""
    ordered = sorted(tags)
    return page(ordered, params, lambda t: t[0], "Tags", lambda t: {"Key": t[0], "Value": t[1]})
