"""Marker/MaxItems paging as Lambda's List* operations do it."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from postroom.lambda_ import limits
from postroom.lambda_.errors import check_range, invalid_parameter

T = TypeVar("T")


def page(
    items: Sequence[T],
    key: Callable[[T], str],
    marker: str | None,
    max_items: int | None,
    *,
    maximum: int = limits.LIST_MAX,
) -> tuple[list[T], str | None]:
    """The page starting at ``marker`` (an opaque token naming its first item) and the next
    marker, if more items follow."""
    check_range(max_items, "maxItems", 1, maximum)
    size = max_items or limits.LIST_DEFAULT
    start = 0
    if marker:
        try:
            wanted = base64.urlsafe_b64decode(marker.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise invalid_parameter("Invalid marker.") from None
        keys = [key(item) for item in items]
        # The first item at or after the marker's key (items may have gone since).
        start = (
            next((i for i, k in enumerate(keys) if k >= wanted), len(items))
            if wanted not in keys
            else keys.index(wanted)
        )
    chunk = list(items[start : start + size])
    following = items[start + size : start + size + 1]
    next_marker = (
        base64.urlsafe_b64encode(key(following[0]).encode()).decode() if following else None
    )
    return chunk, next_marker


def with_marker(result: dict[str, Any], marker: str | None) -> dict[str, Any]:
    if marker:
        result["NextMarker"] = marker
    return result
