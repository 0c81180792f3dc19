"""Lambda storage records: functions with their versions, aliases and settings; layers.

Configurations are kept as the dicts the API speaks (FunctionConfiguration-shaped, plus
private ``_``-prefixed keys for where the code lives), so adding a field needs no migration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Doc = dict[str, Any]


@dataclass
class FunctionRecord:
    """One function: $LATEST and its published versions (immutable), and what hangs off it."""

    account: str
    region: str
    name: str
    created_at: int
    next_version: int = 1  # version numbers are never reused, even after a delete
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    versions: dict[str, Doc] = field(default_factory=dict)  # "$LATEST", "1", ...
    aliases: dict[str, Doc] = field(default_factory=dict)  # AliasConfiguration-shaped
    event_invoke_configs: dict[str, Doc] = field(default_factory=dict)  # qualifier -> config
    policies: dict[str, Doc] = field(default_factory=dict)  # qualifier -> policy document

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.name)


@dataclass
class LayerRecord:
    """One layer and its versions (numbers never reused)."""

    account: str
    region: str
    name: str
    next_version: int = 1
    versions: dict[int, Doc] = field(default_factory=dict)
    policies: dict[int, Doc] = field(default_factory=dict)  # version -> policy document

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.name)


class FunctionStore(Protocol):
    """Lambda's durable state; reads come from memory, writes return once committed."""

    functions: dict[tuple[str, str, str], FunctionRecord]
    layers: dict[tuple[str, str, str], LayerRecord]

    async def load(self) -> None: ...

    async def find_function(self, key: tuple[str, str, str]) -> FunctionRecord | None:
        """Look in the database for a function the cache lacks (another node's new one)."""
        ...

    async def save_function(self, fn: FunctionRecord) -> None: ...

    async def delete_function(self, key: tuple[str, str, str]) -> None: ...

    async def save_layer(self, layer: LayerRecord) -> None: ...
