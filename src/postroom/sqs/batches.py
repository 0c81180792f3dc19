"""Shared handling of the batch operations' entry lists and per-entry failures."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from postroom.protocol.errors import AWSError
from postroom.sqs import limits
from postroom.sqs.errors import (
    batch_ids_not_distinct,
    empty_batch,
    invalid_batch_entry_id,
    too_many_entries,
)

_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def check_entries(entries: list[dict[str, Any]], entry_kind: str) -> None:
    """AWS's batch-level checks: 1..10 entries with distinct, well-formed ids."""
    if not entries:
        raise empty_batch(entry_kind)
    if len(entries) > limits.MAX_BATCH_ENTRIES:
        raise too_many_entries(len(entries))
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id") or ""
        if not _ENTRY_ID.match(entry_id):
            raise invalid_batch_entry_id()
        if entry_id in seen:
            raise batch_ids_not_distinct(entry_id)
        seen.add(entry_id)


def failure(entry_id: str, error: AWSError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": error.sender, "Code": error.code, "Message": error.message}


async def run_entries(
    entries: list[dict[str, Any]], handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run ``handle`` per entry; an AWSError fails only that entry."""
    successful, failed = [], []
    for entry in entries:
        try:
            successful.append(await handle(entry))
        except AWSError as error:
            failed.append(failure(entry["Id"], error))
    return {"Successful": successful, "Failed": failed}
