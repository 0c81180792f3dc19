"""Records and interface of event source mappings (a queue feeding a function)."""

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


class MappingStore(Protocol):
    mappings: dict[str, MappingRecord]  # by UUID; a write-through cache of every mapping

    async def load(self) -> None: ...

    async def save(self, mapping: MappingRecord) -> None:
        """Insert or replace (the cache is updated once the change is committed)."""
        ...

    async def delete(self, uuid: str) -> None: ...

    async def reload(self, uuid: str) -> MappingRecord | None:
        """Read one mapping again into the cache (another node changed it); None if gone."""
        ...

    async def reload_all(self) -> list[str]:
        """Read every mapping again into the cache; the UUIDs stored."""
        ...
