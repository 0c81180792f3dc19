"""Lambda storage records: functions with their versions, aliases and settings; layers.

Configurations are kept as the dicts the API speaks (FunctionConfiguration-shaped, plus
private ``_``-prefixed keys for where the code lives), so adding a field needs no migration.

Several nodes may change one function: every save is conditional on the stored revision
the record was read at (``revision``), so a save over another node's change raises
``StaleRecord`` instead of overwriting it; version numbers (``next_version``) move with the
record, so two nodes never hand out the same number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Doc = dict[str, Any]


def notice_key(key: tuple[str, str, str]) -> str:
    """A function's or layer's key as a notice key (names hold no tabs)."""
    return "\t".join(key)


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
    revision: int = 0  # the stored row's revision this copy was read at (0: not stored yet)

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
    revision: int = 0  # as FunctionRecord.revision

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

    async def reread(self, channel: str, key: str | None) -> None:
        """Read what a ``StaleRecord`` names back from the database into the cache."""
        ...

    async def save_function(self, fn: FunctionRecord, *, reserved_limit: int | None = None) -> None:
        """Store ``fn`` if the stored revision is still ``fn.revision`` (else StaleRecord);
        ``reserved_limit``: also StaleRecord (key None) if the account's stored reserved
        concurrency would then exceed it."""
        ...

    async def delete_function(self, key: tuple[str, str, str]) -> None: ...

    async def save_layer(self, layer: LayerRecord) -> None:
        """Store ``layer`` if the stored revision is still ``layer.revision`` (else StaleRecord)."""
        ...
