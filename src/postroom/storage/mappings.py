"""Records and interface of event source mappings (a queue feeding a function).

Several nodes may change one mapping (a user's Update or Delete on any node, the state
changes of the pollers on the node holding their lease): every save is conditional on the
stored revision the record was read at, as functions' are (storage/functions.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# States a mapping passes through (AWS's names). The transitional ones last until the
# pollers have acted on the change; a restart settles any it finds.
CREATING, ENABLING, ENABLED, UPDATING = "Creating", "Enabling", "Enabled", "Updating"
DISABLING, DISABLED, DELETING = "Disabling", "Disabled", "Deleting"
TRANSITIONAL = frozenset({CREATING, ENABLING, UPDATING, DISABLING, DELETING})


@dataclass(slots=True)
class MappingRecord:
    uuid: str
    account: str
    region: str
    function_arn: str  # as the mapping shows it: qualified when the user named a version or alias
    source_arn: str
    batch_size: int
    batching_window_s: int
    enabled: bool
    state: str
    last_modified_ms: int
    filters: list[str] = field(default_factory=list)  # FilterCriteria patterns, as given
    response_types: list[str] = field(default_factory=list)
    maximum_concurrency: int | None = None
    state_reason: str = "USER_INITIATED"
    # The stored row's revision this copy was read at (0: not stored yet); a save names it,
    # so nodes changing one mapping at once never overwrite each other's change.
    revision: int = 0


class MappingStore(Protocol):
    mappings: dict[str, MappingRecord]  # by UUID; a write-through cache of every mapping

    async def load(self) -> None: ...

    async def save(self, mapping: MappingRecord, *, unique: bool = False) -> None:
        """Insert ``mapping`` (revision 0) or replace the stored one if its revision is still
        ``mapping.revision``, else raise StaleRecord and write nothing. ``unique``: raise
        DuplicateRecord (and write nothing) if another stored mapping, not being deleted,
        joins the same source and function. Once committed, ``mapping`` (at its new
        revision) is the cached copy: callers save a changed copy, never the cached record
        itself."""
        ...

    async def delete(self, uuid: str, revision: int) -> None:
        """Delete the mapping if its stored revision is still ``revision`` (StaleRecord if it
        changed; nothing happens if it is gone already)."""
        ...

    async def reload(self, uuid: str) -> MappingRecord | None:
        """Read one mapping again into the cache (another node changed it); None if gone."""
        ...

    async def reload_all(self) -> list[str]:
        """Read every mapping again into the cache; the UUIDs stored."""
        ...
