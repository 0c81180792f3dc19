"""What a function's answer means for the batch it was given (ReportBatchItemFailures).

AWS's rules ("Handling errors for an SQS event source"): the batch succeeds when the answer
is null, empty, or has an empty or null ``batchItemFailures``; it fails as a whole when the
answer is not JSON, or an entry lacks ``itemIdentifier``, names it empty or null, or names
a message that was not in the batch.
"""

from __future__ import annotations

from typing import Any

import orjson

WHOLE_BATCH = None  # the answer fails every message


def failed_items(payload: bytes, message_ids: set[str]) -> set[str] | None:
    """The message ids to retry (empty: all succeeded), or WHOLE_BATCH."""
    if not payload.strip():
        return set()
    try:
        answer: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return WHOLE_BATCH
    if not isinstance(answer, dict):
        return set()
    entries = answer.get("batchItemFailures")
    if entries is None:
        return set()
    if not isinstance(entries, list):
        return WHOLE_BATCH
    failed: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            return WHOLE_BATCH
        identifier = entry.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in message_ids:
            return WHOLE_BATCH
        failed.add(identifier)
    return failed
