"""The access keys ``postroom serve --auth FILE`` verifies signatures with.

The file is TOML (``.toml``) or JSON (anything else)::

    [[keys]]
    access_key_id = "AKIAEXAMPLEALICE0001"
    secret_access_key = "alice-secret"
    account = "111111111111"
    admin = false              # optional; admins read every account's SNS records

or ``{"keys": [{"access_key_id": ..., "secret_access_key": ..., "account": ..., "admin": ...}]}``.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

_ACCOUNT = re.compile(r"^\d{12}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_+=,.@-]{3,128}$")


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account: str
    admin: bool = False


class KeyFileError(ValueError):
    """The auth file is missing, unreadable or malformed (the message says where)."""


def load_keys(path: Path) -> dict[str, AccessKey]:
    """The keys in ``path`` by access key id; KeyFileError if the file is not usable."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise KeyFileError(f"cannot read auth file {path}: {exc}") from None
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KeyFileError(f"auth file {path}: expected a non-empty 'keys' list")
    keys: dict[str, AccessKey] = {}
    for n, entry in enumerate(entries, 1):
        key = _parse_entry(entry, f"auth file {path}, key {n}")
        if key.access_key_id in keys:
            raise KeyFileError(f"auth file {path}: access key id {key.access_key_id} appears twice")
        keys[key.access_key_id] = key
    return keys


def _parse_entry(entry: object, where: str) -> AccessKey:
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: expected a table/object")
    key_id, secret = entry.get("access_key_id"), entry.get("secret_access_key")
    account, admin = entry.get("account"), entry.get("admin", False)
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise KeyFileError(f"{where}: access_key_id must be 3-128 characters of [A-Za-z0-9_+=,.@-]")
    if not isinstance(secret, str) or not secret:
        raise KeyFileError(f"{where}: secret_access_key must be a non-empty string")
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        raise KeyFileError(f"{where}: account must be a 12-digit string")
    if not isinstance(admin, bool):
        raise KeyFileError(f"{where}: admin must be true or false")
    return AccessKey(key_id, secret, account, admin)
