"""Read a resources file: TOML in AWS's own names, each resource remembering its line.

```toml
[[queues]]
name = "orders"
attributes = { VisibilityTimeout = "60" }
```

Kinds: ``queues`` (name, attributes, tags), ``topics`` (name, attributes, tags),
``subscriptions`` (topic, protocol, endpoint, attributes), ``functions`` (CreateFunction's
parameters, with ``code_dir`` instead of ``Code``), ``event_source_mappings``
(CreateEventSourceMapping's parameters). Any resource, or the file's top level, may set
``account`` and ``region``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
KINDS = ("queues", "topics", "subscriptions", "functions", "event_source_mappings")
_COMMON = {"account", "region"}
# Postroom's own keys per kind; functions and mappings take their API's parameters besides.
_KEYS = {
    "queues": {"name", "attributes", "tags"},
    "topics": {"name", "attributes", "tags"},
    "subscriptions": {"topic", "protocol", "endpoint", "attributes"},
    "functions": {"code_dir"},
    "event_source_mappings": set(),
}
_REQUIRED = {
    "queues": ("name",),
    "topics": ("name",),
    "subscriptions": ("topic", "protocol", "endpoint"),
    "functions": ("FunctionName", "code_dir"),
    "event_source_mappings": ("FunctionName",),
}
# The API operation whose parameter names a kind's entries may also use.
API_PARAMETERS = {"functions": ("lambda", "CreateFunction"), "event_source_mappings": ("lambda", "CreateEventSourceMapping")}
_NOT_IN_FILE = {"functions": {"Code"}}  # code comes from code_dir


class ConfigError(Exception):
    """A problem with the file, naming the file, the line and the resource."""


@dataclass
class Resource:
    kind: str  # one of KINDS
    index: int  # position among the file's resources of this kind
    spec: dict[str, Any]  # the entry as written, minus account and region
    account: str
    region: str
    path: Path
    line: int | None  # where the entry's [[kind]] header is, when it has one

    @property
    def label(self) -> str:
        """How errors name it: ``queues "orders"`` or ``subscriptions #2``."""
        name = self.spec.get("name") or self.spec.get("FunctionName")
        if self.kind == "event_source_mappings":
            name = None
        return f'{self.kind[:-1]} "{name}"' if name else f"{self.kind[:-1]} #{self.index + 1}"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {self.label}: {message}")


@dataclass
class Config:
    path: Path
    resources: dict[str, list[Resource]] = field(default_factory=dict)

    def of(self, kind: str) -> list[Resource]:
        return self.resources.get(kind, [])


def load(path: str | Path) -> Config:
    """Parse and check a resources file (names and types only; the server checks values)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - set(KINDS) - _COMMON)
    if unknown:
        raise ConfigError(f"{path}:{_key_line(text, unknown[0])}: unknown section {unknown[0]!r}; "
                          f"expected {', '.join(KINDS)}")
    account = _text(doc.get("account", DEFAULT_ACCOUNT), path, "account")
    region = _text(doc.get("region", DEFAULT_REGION), path, "region")
    config = Config(path)
    for kind in KINDS:
        entries = doc.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"{path}:{_key_line(text, kind)}: {kind} must be an array of tables ([[{kind}]])")
        lines = _header_lines(text, kind)
        headers_match = len(lines) == len(entries)
        config.resources[kind] = [
            _resource(kind, i, dict(entry), account, region, path, lines[i] if headers_match else None)
            for i, entry in enumerate(entries)
        ]
    _check_unique(config)
    return config


def _resource(kind: str, index: int, entry: dict[str, Any], account: str, region: str, path: Path,
              line: int | None) -> Resource:
    res = Resource(kind, index, entry, account, region, path, line)
    res.account = _text(entry.pop("account", account), path, "account", res)
    res.region = _text(entry.pop("region", region), path, "region", res)
    if not re.fullmatch(r"\d{12}", res.account):
        raise res.error(f"account must be 12 digits, got {res.account!r}")
    allowed = _KEYS[kind] | _api_members(kind)
    for key in entry:
        if key not in allowed or key in _NOT_IN_FILE.get(kind, ()):
            hint = " (use code_dir, a directory of code)" if key == "Code" else ""
            raise res.error(f"unknown key {key!r}{hint}")
    for key in _REQUIRED[kind]:
        if key not in entry:
            raise res.error(f"missing {key!r}")
    for key in ("name", "topic", "protocol", "endpoint", "code_dir"):
        if key in entry and not isinstance(entry[key], str):
            raise res.error(f"{key} must be a string")
    for key in ("attributes", "tags"):
        if key in entry:
            value = entry[key]
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise res.error(f'{key} must be a table of strings, e.g. {key} = {{ Name = "value" }}')
    if kind == "event_source_mappings" and "EventSourceArn" not in entry:
        raise res.error("missing 'EventSourceArn'")
    return res


def _api_members(kind: str) -> set[str]:
    if kind not in API_PARAMETERS:
        return set()
    import botocore.session

    service, operation = API_PARAMETERS[kind]
    model = botocore.session.get_session().get_service_model(service)
    return set(model.operation_model(operation).input_shape.members)


def _check_unique(config: Config) -> None:
    for kind, key in (("queues", "name"), ("topics", "name"), ("functions", "FunctionName")):
        seen: dict[tuple[str, str, str], Resource] = {}
        for res in config.of(kind):
            ident = (res.account, res.region if kind != "queues" else "", res.spec[key])
            if ident in seen:
                raise res.error(f"declared twice (first at {seen[ident].where})")
            seen[ident] = res


def _header_lines(text: str, kind: str) -> list[int]:
    pattern = re.compile(rf"^[ \t]*\[\[[ \t]*{kind}[ \t]*\]\]", re.M)
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def _key_line(text: str, key: str) -> int:
    found = re.search(rf"^[ \t]*\[*[ \t]*{re.escape(key)}\b", text, re.M)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _text(value: Any, path: Path, key: str, res: Resource | None = None) -> str:
    if not isinstance(value, str):
        if res is not None:
            raise res.error(f"{key} must be a string")
        raise ConfigError(f"{path}: {key} must be a string")
    return value
